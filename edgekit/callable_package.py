"""Packages that are also the public function of the same name.

``edgekit.convert``, ``edgekit.evaluate`` and ``edgekit.report`` are at once sub-packages
and, in the public API, functions. Python binds a sub-package to its parent's attribute
as soon as any module inside it is imported (``import edgekit.tflite.quiet``), which would
shadow the function. So each of these packages makes itself callable, forwarding to its
function, imported lazily so the package stays cheap to import.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    _target: tuple[str, str]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module, attr = self._target
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)


def make_callable(package: str, module: str, attr: str) -> None:
    """Make ``sys.modules[package]`` callable as ``module.attr``."""
    pkg = sys.modules[package]
    pkg.__class__ = _CallablePackage
    pkg._target = (module, attr)  # type: ignore[attr-defined]
