"""``edgekit lab serve``: a read-only, live web dashboard over a lab's results store.

:mod:`.queries` reads devices, the queue, runs and trends from the store; :mod:`.trends`
follows each job across runs and marks regressions; :mod:`.app` is the ASGI application
(Starlette) with its token guard; :mod:`.server` checks the address, token and port and
serves it with uvicorn. The page (``static/``) is plain HTML, CSS and JavaScript served
from the package: no CDN, no build step. Nothing is imported here, so importing one module
stays cheap.
"""
