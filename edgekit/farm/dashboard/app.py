"""The dashboard's ASGI application (Starlette): one page, JSON endpoints, run reports.

Routes (GET and HEAD only; nothing here writes to the store or reaches a device):

* ``/`` — the page (``static/index.html``), which polls ``/api/state`` and ``/api/trends``;
* ``/static/…`` — its script and style sheet, served from the package (no CDN);
* ``/api/state`` — devices, queue and recent runs; ``/api/devices``, ``/api/queue``,
  ``/api/runs``, ``/api/trends`` — each part alone; ``/api/version`` — changes with the store;
* ``/runs/{lab}/{run}/report/`` — the Pareto report of that run's measurements, rendered
  by the caller's renderer (the CLI's uses :func:`edgekit.report`) on first request into a
  cache folder, and again when the run has new measurements.

With a token, every request must carry it: ``Authorization: Bearer T``, ``X-Edgekit-Token: T``,
the cookie a ``?token=T`` visit sets (then redirected without it), or ``?token=T`` itself.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import tempfile
import threading
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Callable, Optional, Sequence
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ...store import Store
from . import queries

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "edgekit_dashboard"
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
_SAFE_PART = re.compile(r"^[A-Za-z0-9._@+-]+$")


def _cookie_value(token: str) -> str:
    return hashlib.sha256(("edgekit-dashboard:" + token).encode()).hexdigest()


class TokenGuard:
    """ASGI middleware: every request carries the token (header, cookie or ``?token=``)."""

    def __init__(self, app: Any, token: Optional[str]) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not self.token:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        given = headers.get("x-edgekit-token") or headers.get("authorization", "").removeprefix("Bearer ").strip()
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
            cookie = SimpleCookie()
        if given and hmac.compare_digest(given, self.token):
            await self.app(scope, receive, send)
        elif COOKIE in cookie and hmac.compare_digest(cookie[COOKIE].value, _cookie_value(self.token)):
            await self.app(scope, receive, send)
        elif "token" in query and hmac.compare_digest(query["token"], self.token):
            if scope["path"].startswith("/api/"):
                await self.app(scope, receive, send)
                return
            rest = urlencode([(k, v) for k, v in query.items() if k != "token"])
            target = scope.get("root_path", "") + scope["path"] + (f"?{rest}" if rest else "")
            redirect = RedirectResponse(target, status_code=303)
            redirect.set_cookie(COOKIE, _cookie_value(self.token), httponly=True, samesite="strict", path="/")
            await redirect(scope, receive, send)
        else:
            await PlainTextResponse("this dashboard needs its token: open it once as /?token=TOKEN, or send the "
                                    "header 'Authorization: Bearer TOKEN'", status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware: no sniffing, no framing, no referrer; a strict CSP on the dashboard's own pages."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_report = scope["path"].startswith("/runs/")

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"cache-control", b"no-store")]
                if not is_report:
                    extra += [(b"content-security-policy", _CSP.encode()), (b"x-frame-options", b"DENY")]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)
        await self.app(scope, receive, send_with_headers)


#: renders the Pareto report of ``measurement_ids`` into folder ``out`` (``out/report.html``)
#: with ``title``; given by the caller (the CLI passes :func:`edgekit.report`), since the farm
#: sits below the report package
ReportRenderer = Callable[[Store, Sequence[str], Path, str], None]


class RunReports:
    """Pareto reports of lab runs, rendered on demand into ``cache`` (one folder per run and content)."""

    def __init__(self, store: Store, cache: Path, renderer: Optional[ReportRenderer]) -> None:
        self.store, self.cache, self.renderer = store, cache, renderer
        self._lock = threading.Lock()

    def folder(self, lab: str, run: int) -> Optional[Path]:
        """The report folder of the run (rendered now if needed); None when it has no measurement."""
        ids = queries.run_measurement_ids(self.store, lab, run)
        if not ids or self.renderer is None:
            return None
        digest = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]
        out = self.cache / f"{hashlib.sha256(lab.encode()).hexdigest()[:12]}-{run}-{digest}"
        with self._lock:
            if not (out / "report.html").is_file():
                log.info("rendering the report of %s run %d into %s", lab, run, out)
                self.renderer(self.store, ids, out, f"lab {lab}, run {run}")
        return out


def create_app(store: Store, token: Optional[str] = None, cache_dir: Optional[Path] = None,
               poll_seconds: float = 2.0, report_renderer: Optional[ReportRenderer] = None) -> Any:
    """The dashboard over ``store`` (read-only).

    Args:
        store: the results store a lab writes to.
        token: required on every request when set.
        cache_dir: where run reports are rendered (default: a new temporary folder).
        poll_seconds: how often the page asks for news.
        report_renderer: renders a run's Pareto report; without one, runs link no report.
    """
    reports = RunReports(store, Path(cache_dir) if cache_dir else Path(tempfile.mkdtemp(prefix="edgekit-dash-")),
                         report_renderer)

    def api(fn: Callable[[], Any]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            return JSONResponse(fn())
        return endpoint

    def part(fn: Callable[[Store], Any], empty: Any) -> Callable[[], Any]:
        return lambda: fn(store) if queries.has_lab_tables(store) else empty

    def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    def config(request: Request) -> Response:
        return JSONResponse({"poll_seconds": poll_seconds, "store": store.location,
                             "reports": report_renderer is not None})

    def version(request: Request) -> Response:
        return JSONResponse({"version": queries.version(store) if queries.has_lab_tables(store) else "empty"})

    def report(request: Request) -> Response:
        lab, run, rest = request.path_params["lab"], request.path_params["run"], request.path_params.get("path", "")
        if not _SAFE_PART.match(lab):
            return PlainTextResponse(f"no lab named {lab!r}", status_code=404)
        folder = reports.folder(lab, run)
        if folder is None:
            why = "has no measurement yet" if report_renderer else "has no report: this dashboard renders none"
            return PlainTextResponse(f"lab {lab} run {run} {why}", status_code=404)
        target = (folder / (rest or "report.html")).resolve()
        if not target.is_file() or folder.resolve() not in target.parents:
            return PlainTextResponse(f"no file {rest!r} in this report", status_code=404)
        return FileResponse(target)

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/api/config", config, methods=["GET"]),
        Route("/api/version", version, methods=["GET"]),
        Route("/api/state", api(lambda: queries.state(store)), methods=["GET"]),
        Route("/api/devices", api(part(queries.devices, [])), methods=["GET"]),
        Route("/api/queue", api(part(queries.queue, {"counts": {}, "jobs": [], "failed": []})), methods=["GET"]),
        Route("/api/runs", api(part(queries.runs, [])), methods=["GET"]),
        Route("/api/trends", api(part(queries.trends, [])), methods=["GET"]),
        Route("/runs/{lab}/{run:int}/report/", report, methods=["GET"]),
        Route("/runs/{lab}/{run:int}/report/{path:path}", report, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    return TokenGuard(SecurityHeaders(app), token)
