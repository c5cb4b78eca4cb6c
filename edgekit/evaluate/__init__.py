"""Host-side quality with the LiteRT interpreter (:class:`~edgekit.evaluate.interpreter.LiteRTModel`)
and :func:`edgekit.evaluate.api.evaluate`.

The package object is callable and forwards to :func:`edgekit.evaluate.api.evaluate`, so
``edgekit.evaluate(manifest, data)`` works even after the subpackage has been imported
(which binds it to the ``edgekit.evaluate`` attribute).
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .api import evaluate

        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
