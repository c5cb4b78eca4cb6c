"""Calibration data: from ``.npz``/``.npy`` files, an image folder, arrays, iterables or
callables, to one validated float32 array shaped like the model's input (models with several
inputs: :mod:`.multi_calibration`, which shares the checks and the split below).

Which samples are used
    At most ``samples + 50`` samples are read from the source (``samples`` defaults to
    :data:`DEFAULT_SAMPLES`). Of the ``N`` read, the **last** ``H = min(50, N // 4)`` are
    held back: they never reach the converter and are used to measure each variant's
    fidelity against fp32. The calibration set is the first ``samples`` of the others.
    Asking for more samples than that is an error that says how many there are.

Images
    A folder of images (``.png .jpg .jpeg .bmp .gif .webp .tif .tiff``, sorted by name) is
    read with Pillow, converted to grayscale or RGB to match the model's channels, resized
    to the model's height × width (bilinear) and scaled to ``[0, 1]`` (pixel / 255). A model
    that expects another range (``[-1, 1]``, raw ``0..255``, mean/std normalisation) should
    be given an array prepared the same way as its training data instead.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np

from ..artifact import TensorSpec
from ..errors import ConfigError

LOG = logging.getLogger(__name__)

DEFAULT_SAMPLES = 200
MAX_HOLDBACK = 50
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

CalibrationSource = Union[str, Path, np.ndarray, Iterable[Any], Callable[[], Iterable[Any]]]


@dataclass(frozen=True)
class CalibrationSet:
    """Validated calibration samples and the held-back samples for fidelity.

    Attributes:
        calibration: float32 array (S, *input_shape) given to the converter; for a model with
            several inputs, a tuple of such arrays, one per input (in ``inputs`` order).
        holdback: float32 array (H, *input_shape) used only for fidelity checks (a tuple of
            arrays for several inputs).
        source: a description of where the samples came from.
        sha256: hash of the calibration array(s) (shape, dtype and bytes).
        holdback_sha256: hash of the held-back array(s).
        inputs: the model's input names for a model with several inputs, else empty. The
            converter receives each sample as a dict keyed by these names (the signature's
            input names), so the order of the ``.tflite`` inputs does not matter.
    """

    calibration: Any
    holdback: Any
    source: str
    sha256: str
    holdback_sha256: str
    inputs: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        """Calibration samples."""
        return int(len(self.calibration[0]) if self.inputs else len(self.calibration))

    @property
    def holdback_count(self) -> int:
        """Held-back samples."""
        return int(len(self.holdback[0]) if self.inputs else len(self.holdback))

    def representative_dataset(self) -> Callable[[], Iterable[Any]]:
        """A ``TFLiteConverter.representative_dataset``: one sample (batch of 1) at a time."""
        return self.dataset(self.calibration)

    def dataset(self, data: Any, limit: Optional[int] = None) -> Callable[[], Iterable[Any]]:
        """A generator function over ``data`` (``calibration``, ``holdback`` or a slice of them):
        ``[x]`` per sample for one input, ``{name: x}`` for several."""
        names = self.inputs

        def generate() -> Iterable[Any]:
            n = len(data[0]) if names else len(data)
            for i in range(n if limit is None else min(n, limit)):
                if names:
                    yield {name: a[i:i + 1] for name, a in zip(names, data)}
                else:
                    yield [data[i:i + 1]]

        return generate


def call_source(source: Any) -> Any:
    """What a calibration callable returns (its exception becomes a ConfigError)."""
    try:
        return source()
    except Exception as exc:
        raise ConfigError(f"the calibration callable raised {type(exc).__name__}: {exc}",
                          hint="fix the callable; it must return an iterable of samples") from exc


def prepare_calibration(source: CalibrationSource, model_input: TensorSpec,
                        samples: Optional[int] = None) -> CalibrationSet:
    """Read, check and split calibration data for a model input.

    Args:
        source: a ``.npz`` (key ``x``, or its only array) or ``.npy`` file, a folder of
            images, an array (N, *input_shape), an iterable of samples (arrays or nested
            lists shaped like one input, or a batch with a leading batch dimension), or a
            callable returning such an iterable.
        model_input: the model's input tensor (shape with batch dimension first).
        samples: how many calibration samples to use; None means up to
            :data:`DEFAULT_SAMPLES` (fewer if the source has fewer).

    Returns:
        The calibration and held-back arrays.

    Raises:
        ConfigError: the source is missing or unreadable, has the wrong shape, rank or
            dtype, holds NaN/Inf, or has fewer samples than asked.
    """
    if samples is not None and (not isinstance(samples, (int, np.integer)) or samples < 1):
        raise ConfigError(f"--samples {samples!r} is not a positive whole number", hint="pass e.g. --samples 200")
    want = int(samples) if samples is not None else DEFAULT_SAMPLES
    limit = want + MAX_HOLDBACK
    sample_shape = tuple(model_input.shape[1:])
    desc, x = read_source(source, sample_shape, limit)
    x = check_array(x, desc, model_input)
    want = check_count(len(x), samples, desc)
    calib, held = split(x, want)
    LOG.debug("calibration %s: %d samples used, %d held back", desc, len(calib), len(held))
    return CalibrationSet(calib, held, desc, array_sha256(calib), array_sha256(held))


def split(x: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``want`` usable samples of ``x`` and the held-back last ``min(50, N // 4)``."""
    n = len(x)
    hold = min(MAX_HOLDBACK, n // 4)
    calib = np.ascontiguousarray(x[:min(want, n - hold)])
    held = np.ascontiguousarray(x[n - hold:]) if hold else np.zeros((0, *x.shape[1:]), np.float32)
    return calib, held


def check_count(n: int, samples: Optional[int], desc: str) -> int:
    """The number of calibration samples to use from ``n`` read (see :func:`prepare_calibration`)."""
    want = int(samples) if samples is not None else DEFAULT_SAMPLES
    hold = min(MAX_HOLDBACK, n // 4)
    usable = n - hold
    if samples is not None and usable < want:
        raise ConfigError(
            f"calibration data {desc} has {n} samples; {samples} were asked for calibration and "
            f"{hold} are held back for fidelity checks, so at most {usable} can be used",
            hint=f"pass --samples {max(usable, 1)}, or provide at least {samples_needed(want)} samples",
        )
    if usable < 1:
        raise ConfigError(
            f"calibration data {desc} has no samples",
            hint="provide at least a few dozen representative inputs (100–500 is typical)",
        )
    return want


def samples_needed(samples: int) -> int:
    """How many samples a source must hold to give ``samples`` after the hold-back."""
    n = samples
    while n - min(MAX_HOLDBACK, n // 4) < samples:
        n += 1
    return n


def array_sha256(x: np.ndarray) -> str:
    """The sha256 of an array's dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(f"{x.dtype.str}{tuple(x.shape)}".encode())
    h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()


# -- reading ---------------------------------------------------------------------------
def read_source(source: CalibrationSource, sample_shape: tuple[int, ...], limit: int) -> tuple[str, np.ndarray]:
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.exists():
            raise ConfigError(f"calibration data '{path}' does not exist",
                              hint="pass a .npz/.npy file or a folder of images")
        if path.is_dir():
            return f"'{path}'", load_images(path, sample_shape, limit)
        return f"'{path}'", np.array(_load_array_file(path)[:limit])  # a copy: .npy files are memory-mapped
    if isinstance(source, np.ndarray):
        return f"array {source.shape}", source[:limit]
    if callable(source):
        source = call_source(source)
    if isinstance(source, np.ndarray):
        return f"array {source.shape}", source[:limit]
    try:
        iterator = iter(source)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(
            f"cannot read calibration data from a {type(source).__name__}",
            hint="pass a .npz/.npy path, an image folder, an array, an iterable or a callable",
        ) from None
    return "iterable", _stack(iterator, sample_shape, limit)


def _load_array_file(path: Path) -> np.ndarray:
    try:
        data = np.load(path, allow_pickle=False, mmap_mode="r")  # .npy: read only the samples used
    except Exception as exc:
        raise ConfigError(
            f"calibration data '{path}' is not a readable .npz/.npy file ({type(exc).__name__}: {exc})",
            hint="save the samples with numpy.savez(path, x=array) or numpy.save(path, array)",
        ) from exc
    if isinstance(data, np.ndarray):
        return data
    with data:
        keys = list(data.files)
        if "x" in keys:
            key = "x"
        elif len(keys) == 1:
            key = keys[0]
        else:
            raise ConfigError(
                f"calibration data '{path}' has arrays {', '.join(keys) or '(none)'} and no 'x'",
                hint="save the inputs under the key x: numpy.savez(path, x=array)",
            )
        try:
            return data[key]
        except ValueError as exc:  # object arrays need pickle
            raise ConfigError(f"calibration array '{key}' in '{path}' holds Python objects, not numbers",
                              hint="save a numeric array (float32)") from exc


def _stack(iterator: Any, sample_shape: tuple[int, ...], limit: int) -> np.ndarray:
    rows: list[np.ndarray] = []
    count = 0
    for i, item in enumerate(itertools.islice(iterator, limit)):
        if isinstance(item, (list, tuple)) and len(item) == 1 and np.ndim(item[0]) == len(sample_shape) + 1:
            item = item[0]  # TFLite-style [batch] item
        try:
            arr = np.asarray(item)
        except Exception as exc:
            raise ConfigError(f"calibration item {i} cannot be read as an array ({exc})",
                              hint="yield numeric arrays shaped like one model input") from exc
        if arr.ndim == len(sample_shape):
            arr = arr[None]
        rows.append(arr)
        count += len(arr)
        if count >= limit:
            break
    if not rows:
        return np.zeros((0, *sample_shape), np.float32)
    shapes = {r.shape[1:] for r in rows}
    if len(shapes) > 1:
        raise ConfigError(
            f"calibration items have different shapes: {', '.join(str(s) for s in sorted(shapes))}",
            hint=f"every sample must have the model's input shape {sample_shape}",
        )
    return np.concatenate(rows)[:limit]


def load_images(folder: Path, sample_shape: Sequence[int], limit: Optional[int] = None) -> np.ndarray:
    """Read images from ``folder`` as a float32 array (N, H, W, C) scaled to [0, 1].

    Args:
        folder: the folder (not recursive); files are taken in name order.
        sample_shape: the model's input shape without the batch dimension (H, W, C), C 1 or 3.
        limit: read at most this many images.

    Raises:
        ConfigError: the model's input is not an image, the folder holds no images, or an
            image cannot be decoded.
    """
    from PIL import Image, UnidentifiedImageError

    if len(sample_shape) != 3 or sample_shape[-1] not in (1, 3):
        raise ConfigError(
            f"calibration folder '{folder}' holds images, but the model input {tuple(sample_shape)} is not an "
            "image of shape (height, width, 1 or 3)",
            hint="pass the calibration samples as a .npz/.npy array instead",
        )
    h, w, c = (int(d) for d in sample_shape)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(f"calibration folder '{folder}' holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})",
                          hint="put the calibration images in the folder, or pass a .npz/.npy file")
    files = files[:limit] if limit else files
    out = np.empty((len(files), h, w, c), np.float32)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as img:
                img = img.convert("L" if c == 1 else "RGB")
                if img.size != (w, h):
                    img = img.resize((w, h), Image.BILINEAR)
                arr = np.asarray(img, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ConfigError(f"calibration image '{f}' cannot be read ({exc})",
                              hint="remove or replace the file") from exc
        out[i] = arr.reshape(h, w, c)
    return out


# -- validation ------------------------------------------------------------------------
def check_array(x: Any, desc: str, model_input: TensorSpec) -> np.ndarray:
    """``x`` as float32 samples of ``model_input`` (rank, shape, dtype and NaN/Inf checked)."""
    x = np.asarray(x)
    expected = tuple(model_input.shape[1:])
    if x.dtype == object or x.dtype.kind not in "iuf":
        raise ConfigError(
            f"calibration data {desc} has dtype {x.dtype}, which is not numeric "
            f"(the model input {expected} takes {model_input.dtype})",
            hint="pass integer or floating-point samples (float32, scaled like the training data)",
        )
    if x.ndim != len(expected) + 1:
        got = x.shape[1:] if x.ndim > len(expected) + 1 else x.shape
        raise ConfigError(
            f"calibration data {desc} has rank {x.ndim} (samples of shape {tuple(got)}); the model input "
            f"{expected} needs an array of rank {len(expected) + 1}: (samples, {', '.join(map(str, expected))})",
            hint="reshape the array to (N, *input_shape), e.g. add the channel axis with x[..., None]",
        )
    dynamic = set(model_input.dynamic_dims)
    mismatch = [i for i, (g, e) in enumerate(zip(x.shape[1:], expected), start=1)
                if i not in dynamic and g != e]
    if mismatch:
        raise ConfigError(
            f"calibration sample shape {tuple(x.shape[1:])} from {desc} does not match the model input {expected}",
            hint="resize the samples to the model's input shape, or pass the data the model was trained on",
        )
    x = x.astype(np.float32, copy=False)
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1) if len(x) else np.zeros(0, bool)
    if bad.any():
        nan = int(np.isnan(x).sum())
        inf = int(np.isinf(x).sum())
        raise ConfigError(
            f"calibration data {desc} holds {nan} NaN and {inf} Inf values in {int(bad.sum())} samples; "
            f"the first is sample {int(np.argmax(bad))}",
            hint="drop or fix those samples, e.g. x = x[np.isfinite(x.reshape(len(x), -1)).all(axis=1)]",
        )
    return x


__all__ = ["CalibrationSet", "prepare_calibration", "split", "check_count", "check_array", "read_source", "load_images", "array_sha256", "samples_needed",
           "DEFAULT_SAMPLES", "MAX_HOLDBACK", "CalibrationSource"]
