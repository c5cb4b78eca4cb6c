"""TF/Keras → LiteRT variants: loading, calibration sources, converter variants, fidelity,
the content-addressed cache, and :func:`edgekit.convert.api.convert`.

Importing this package is cheap (no TensorFlow). The package object is itself callable
and forwards to :func:`edgekit.convert.api.convert`: Python binds the subpackage to the
``edgekit.convert`` attribute as soon as any module in it is imported (for example
``edgekit.convert.quiet``), and ``edgekit.convert(model, out, ...)`` must keep working then.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .api import convert

        return convert(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
