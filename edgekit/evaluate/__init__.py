"""Host-side quality with the LiteRT interpreter (:class:`~edgekit.tflite.interpreter.LiteRTModel`)
and :func:`edgekit.evaluate.api.evaluate`.

The package object is callable and forwards to :func:`edgekit.evaluate.api.evaluate`, so
``edgekit.evaluate(manifest, data)`` works even after the subpackage has been imported
(which binds it to the ``edgekit.evaluate`` attribute).
"""

from __future__ import annotations

from ..callable_package import make_callable

make_callable(__name__, "edgekit.evaluate.api", "evaluate")
