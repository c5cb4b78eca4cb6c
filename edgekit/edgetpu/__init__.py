"""Coral Edge TPU: predict the mapping (:mod:`.preflight`), compile (:mod:`.compiler`), build the
``edgetpu`` variant (:mod:`.variant`) and check runtime versions before a run (:mod:`.runtime`).

Nothing here needs Coral software except :func:`edgekit.edgetpu.compiler.edgetpu_compile`,
which runs ``edgetpu_compiler``. Submodules are imported on use (``edgekit.edgetpu_check``).
"""
