"""Run a ``.tflite`` model on this host with the LiteRT interpreter (``ai_edge_litert``):
the same quantized kernels the devices run.

:class:`LiteRTModel` takes float batches and hides the model's I/O types: inputs are
quantized with the input tensor's scale and zero point (rounded and clipped to the dtype's
range), outputs are dequantized with theirs, so float, fp16, dynamic, int8 (float or
integer I/O) and int16x8 models are called the same way.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np

from ..errors import ConfigError

LOG = logging.getLogger(__name__)

#: samples per interpreter call when the batch dimension can be resized
MAX_BATCH = 64

Batch = Union[np.ndarray, Sequence[np.ndarray]]


class LiteRTModel:
    """A ``.tflite`` model loaded in ``ai_edge_litert.interpreter.Interpreter``.

    Args:
        path: the model file.
        num_threads: interpreter threads (1 by default, as on the devices).

    Raises:
        ConfigError: the file is missing or the interpreter cannot load it (e.g. an
            EdgeTPU model, which needs the EdgeTPU delegate and device).
    """

    def __init__(self, path: str | Path, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from .quiet import quiet_tensorflow

        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"model '{self.path}' does not exist", hint="check the path or re-run `edgekit convert`")
        try:
            with quiet_tensorflow():  # the runtime prints "INFO: Created ... delegate" on fd 2
                self._interp = Interpreter(model_path=str(self.path), num_threads=num_threads)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(
                f"the LiteRT interpreter cannot load '{self.path}': {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}",
                hint="EdgeTPU models run only with the EdgeTPU delegate on a device; otherwise re-convert the model",
            ) from exc
        self.inputs = self._interp.get_input_details()
        self.outputs = self._interp.get_output_details()
        self._batch = int(self.inputs[0]["shape"][0]) if len(self.inputs[0]["shape"]) else 1
        self._resizable = all(len(d["shape_signature"]) > 0 and int(d["shape_signature"][0]) == -1
                              for d in self.inputs)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The first input's shape without the batch dimension."""
        return tuple(int(d) for d in self.inputs[0]["shape"][1:])

    def predict(self, x: Batch) -> np.ndarray:
        """Run a float batch and return the first output, dequantized to float32.

        Args:
            x: an array (N, *input_shape) for a single-input model, or a list with one
                such array per input.
        """
        return self.predict_outputs(x)[0]

    def predict_outputs(self, x: Batch) -> list[np.ndarray]:
        """Run a float batch and return every output, dequantized to float32."""
        xs = [np.asarray(a) for a in (x if isinstance(x, (list, tuple)) else [x])]
        if len(xs) != len(self.inputs):
            raise ConfigError(f"'{self.path.name}' has {len(self.inputs)} inputs; got {len(xs)} arrays",
                              hint="pass one array per model input")
        n = len(xs[0])
        for a, d in zip(xs, self.inputs):
            expected = tuple(int(v) for v in d["shape"][1:])
            dynamic = {i for i, v in enumerate(d["shape_signature"][1:]) if v < 0}
            got = a.shape[1:]
            if len(got) != len(expected) or any(g != e for i, (g, e) in enumerate(zip(got, expected))
                                                 if i not in dynamic):
                raise ConfigError(
                    f"input data shape {tuple(got)} does not match the input {expected} of '{self.path.name}'",
                    hint="pass samples shaped (N, " + ", ".join(map(str, expected)) + ")",
                )
            if len(a) != n:
                raise ConfigError("the input arrays have different numbers of samples")
        step = MAX_BATCH if self._resizable else self._batch
        chunks: list[list[np.ndarray]] = []
        for start in range(0, n, step):
            part = [a[start:start + step] for a in xs]
            size = len(part[0])
            if not self._resizable and size < step:  # a fixed batch: pad the last chunk
                part = [np.concatenate([p, np.zeros((step - size, *p.shape[1:]), p.dtype)]) for p in part]
            chunks.append([o[:size] for o in self._run(part)])
        if not chunks:
            return [np.zeros((0, *[int(v) for v in d["shape"][1:]]), np.float32) for d in self.outputs]
        return [np.concatenate([c[i] for c in chunks]) for i in range(len(self.outputs))]

    def _run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        batch = len(xs[0])
        if batch != self._batch:
            for a, d in zip(xs, self.inputs):
                self._interp.resize_tensor_input(d["index"], [batch, *a.shape[1:]], strict=True)
            self._interp.allocate_tensors()
            self.inputs = self._interp.get_input_details()
            self.outputs = self._interp.get_output_details()
            self._batch = batch
        for a, d in zip(xs, self.inputs):
            self._interp.set_tensor(d["index"], quantize(a, d))
        self._interp.invoke()
        return [dequantize(self._interp.get_tensor(d["index"]), d) for d in self.outputs]


def quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Convert float ``x`` to the tensor's dtype with its scale/zero point (round, clip)."""
    dtype = np.dtype(detail["dtype"])
    scale, zero = detail.get("quantization", (0.0, 0))
    if dtype.kind == "f":
        return np.ascontiguousarray(x, dtype=dtype)
    if scale:
        q = np.round(np.asarray(x, np.float64) / scale + zero)
    else:
        q = np.round(np.asarray(x, np.float64))
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is not None:
        q = np.clip(q, info.min, info.max)
    return np.ascontiguousarray(q.astype(dtype))


def dequantize(q: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Convert an output tensor to float32 with its scale/zero point."""
    scale, zero = detail.get("quantization", (0.0, 0))
    if np.dtype(detail["dtype"]).kind in "iu" and scale:
        return ((q.astype(np.float32) - np.float32(zero)) * np.float32(scale)).astype(np.float32)
    return np.asarray(q, dtype=np.float32).copy()


__all__ = ["LiteRTModel", "quantize", "dequantize"]
