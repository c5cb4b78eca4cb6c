"""Custom operators: found in the flatbuffer and refused before anything is pushed.

A ``.tflite`` file may hold ``CUSTOM`` operators (a ``custom_code`` instead of a builtin):
MediaPipe's ``Landmarks2TransformMatrix``, TensorFlow's select ops (``Flex…``), or a
vendor's own. A stock runtime (``benchmark_model``, ``ai-edge-litert``, ``tflite-runtime``)
refuses such a model at load time; edgekit refuses it up front, naming the operator and what
would load it. The Edge TPU's ``edgetpu-custom-op`` is judged by the Edge TPU check instead,
and ``TFLite_Detection_PostProcess`` ships in every stock runtime's op resolver.
"""

from __future__ import annotations

from ..errors import RuntimeIncompatible
from ..tflite.model_file import ModelFile

__all__ = ["custom_ops", "provider_of", "raise_if_custom_ops", "STOCK_CUSTOM_OPS"]

#: custom ops that the stock op resolver registers (so every runtime loads them)
STOCK_CUSTOM_OPS = frozenset({"TFLite_Detection_PostProcess", "edgetpu-custom-op"})
#: MediaPipe's op resolver (mediapipe/util/tflite/operations and tasks/cc/vision)
_MEDIAPIPE = frozenset({
    "Landmarks2TransformMatrix", "TransformLandmarks", "TransformTensorBilinear", "Convolution2DTransposeBias",
    "MaxPoolingWithArgmax2D", "MaxUnpooling2D", "FlashAttention", "RoPE",
})


def custom_ops(model_file: ModelFile) -> list[str]:
    """The custom operators of ``model_file`` a stock runtime cannot load, sorted."""
    builtins = _builtin_names()   # op_histogram names custom ops by their custom code, in every subgraph
    return sorted({op.name for op in model_file.op_histogram} - builtins - STOCK_CUSTOM_OPS)


def _builtin_names() -> frozenset[str]:
    from ..tflite.model_file import _builtin_names as builtins

    return frozenset(builtins().values())


def provider_of(op: str) -> str:
    """What would load ``op``."""
    if op.startswith("Flex"):
        return "the Flex delegate (TensorFlow select ops: a runtime built with tensorflow-lite-select-tf-ops)"
    if op in _MEDIAPIPE:
        return "MediaPipe's op resolver (run it through MediaPipe, or a benchmark_model built with MediaPipe's ops)"
    return "a runtime built with this op registered (its author's op resolver)"


def raise_if_custom_ops(model_file: ModelFile, device: str, allowed: tuple[str, ...] = ()) -> None:
    """Raise :class:`RuntimeIncompatible` naming every custom op of ``model_file`` (but ``allowed``)."""
    ops = [op for op in custom_ops(model_file) if op not in allowed]
    if not ops:
        return
    listing = "; ".join(f"{op} (loaded by {provider_of(op)})" for op in ops)
    raise RuntimeIncompatible(
        f"device '{device}' cannot load '{model_file.path.name}': custom operator(s) {listing}",
        hint="export the model without custom ops (e.g. MediaPipe's TFLite export of the plain model), "
             "or measure it with a runtime that registers them",
    )
