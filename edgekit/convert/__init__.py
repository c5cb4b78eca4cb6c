"""TF/Keras → LiteRT variants: loading, calibration sources, converter variants, fidelity,
the content-addressed cache, and :func:`edgekit.convert.api.convert`.

Importing this package is cheap (no TensorFlow). The package object is itself callable
and forwards to :func:`edgekit.convert.api.convert`: Python binds the subpackage to the
``edgekit.convert`` attribute as soon as any module in it is imported (for example
``edgekit.convert.cache``), and ``edgekit.convert(model, out, ...)`` must keep working then.
"""

from __future__ import annotations

from ..callable_package import make_callable

make_callable(__name__, "edgekit.convert.api", "convert")
