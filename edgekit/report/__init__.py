"""Pareto reports: which model to ship on which device.

Modules: :mod:`.pareto` (exact frontiers), :mod:`.collect` (store → candidates),
:mod:`.frontiers`, :mod:`.recommend`, :mod:`.tables`, :mod:`.paper` (the paper's figures),
:mod:`.plots`, :mod:`.html`, :mod:`.markdown`, :mod:`.export`, :mod:`.api` (``report()``).

``edgekit.report`` is both this package and, in the public API, the function
:func:`edgekit.report.api.report`. Python binds the package to ``edgekit.report`` whenever
one of its submodules is imported first, so the package itself is made callable: calling
it calls :func:`~edgekit.report.api.report`, whichever of the two ``edgekit.report`` is.
Importing this package stays cheap (no matplotlib, no TensorFlow).
"""

from __future__ import annotations

from ..callable_package import make_callable

make_callable(__name__, "edgekit.report.api", "report")
