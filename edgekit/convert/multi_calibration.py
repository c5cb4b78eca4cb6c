"""Calibration data for models with several inputs: one float32 array per input, the same
samples (and the same held-back slice) in each.

Sources (``names`` are the model's input names: the Keras ``Input`` names, or the
SavedModel signature's input names; ``edgekit convert`` prints them in its errors):

* a ``.npz`` file with one array per input name (``numpy.savez(path, image=x, extra=v)``);
* a dict ``{name: array (N, *input_shape)}``;
* a tuple or list of arrays (N, *input_shape), one per input in the model's input order;
* an iterable (or a callable returning one) yielding per sample — or per batch, with a
  leading batch dimension — a dict ``{name: array}`` or a tuple/list with one array per
  input in the model's input order.

Every input must have the same number of samples. The converter receives each sample as a
dict keyed by input name (:meth:`CalibrationSet.dataset`), which TensorFlow matches to the
signature's inputs, so the order of the ``.tflite`` inputs does not matter.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..artifact import TensorSpec
from ..errors import ConfigError
from .calibration import (DEFAULT_SAMPLES, MAX_HOLDBACK, CalibrationSet, CalibrationSource, array_sha256, call_source,
                          check_array, check_count, split)


def prepare_multi_calibration(source: CalibrationSource, model_inputs: Sequence[TensorSpec],
                              samples: Optional[int] = None) -> CalibrationSet:
    """Read, check and split calibration data for a model with several inputs.

    Raises:
        ConfigError: an input has no data (a missing key), the wrong shape, rank or dtype,
            NaN/Inf, the inputs have different numbers of samples, or there are fewer
            samples than asked.
    """
    if samples is not None and (not isinstance(samples, (int, np.integer)) or samples < 1):
        raise ConfigError(f"--samples {samples!r} is not a positive whole number", hint="pass e.g. --samples 200")
    names = [spec.name for spec in model_inputs]
    limit = (int(samples) if samples is not None else DEFAULT_SAMPLES) + MAX_HOLDBACK
    desc, data = _read(source, list(model_inputs), limit)
    arrays = [check_array(data[spec.name], f"{desc} input '{spec.name}'", spec) for spec in model_inputs]
    counts = {name: len(a) for name, a in zip(names, arrays)}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"'{k}' has {v}" for k, v in counts.items())
        raise ConfigError(f"calibration data {desc}: the inputs have different numbers of samples ({listed})",
                          hint="give every input the same samples, in the same order (sample i of each input "
                               "belongs together)")
    want = check_count(len(arrays[0]), samples, desc)
    parts = [split(a, want) for a in arrays]
    calib = tuple(c for c, _ in parts)
    held = tuple(h for _, h in parts)
    return CalibrationSet(calib, held, desc, _sha256(names, calib), _sha256(names, held), tuple(names))


def _sha256(names: Sequence[str], arrays: Sequence[np.ndarray]) -> str:
    h = hashlib.sha256()
    for name, a in zip(names, arrays):
        h.update(f"{name}\0{array_sha256(a)}\0".encode())
    return h.hexdigest()


def _savez_hint(names: Sequence[str]) -> str:
    return ("save one array per input: numpy.savez(path, " + ", ".join(f"{n}=..." for n in names)
            + ") (or pass a dict {name: array} through the API)")


def _read(source: CalibrationSource, specs: list[TensorSpec], limit: int) -> tuple[str, dict[str, np.ndarray]]:
    names = [s.name for s in specs]
    several = f"the model has {len(specs)} inputs ({', '.join(names)})"
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.exists():
            raise ConfigError(f"calibration data '{path}' does not exist", hint=_savez_hint(names))
        if path.is_dir() or path.suffix.lower() != ".npz":
            raise ConfigError(f"calibration data '{path}' gives one array, but {several}", hint=_savez_hint(names))
        return f"'{path}'", _load_npz(path, names, limit)
    if callable(source) and not isinstance(source, np.ndarray):
        source = call_source(source)
    if isinstance(source, np.ndarray):
        raise ConfigError(f"calibration data is one array {source.shape}, but {several}",
                          hint="pass a dict {name: array} or a tuple with one array per input")
    if isinstance(source, Mapping):
        return "dict", {n: np.asarray(_key(source, n, "dict", names))[:limit] for n in names}
    if isinstance(source, (list, tuple)) and source and all(isinstance(a, np.ndarray) for a in source):
        if len(source) != len(specs):
            raise ConfigError(f"calibration data is a {type(source).__name__} of {len(source)} arrays, but {several}",
                              hint="pass one array per input, in this order: " + ", ".join(names))
        return type(source).__name__, {n: a[:limit] for n, a in zip(names, source)}
    try:
        iterator = iter(source)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(f"cannot read calibration data from a {type(source).__name__}",
                          hint=_savez_hint(names)) from None
    return "iterable", _stack(iterator, specs, limit)


def _key(mapping: Mapping[str, Any], name: str, desc: str, names: Sequence[str]) -> Any:
    if name not in mapping:
        have = ", ".join(map(str, mapping)) or "(none)"
        raise ConfigError(f"calibration data {desc} has no array for the model input '{name}' (it has: {have})",
                          hint=_savez_hint(names))
    return mapping[name]


def _load_npz(path: Path, names: Sequence[str], limit: int) -> dict[str, np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ConfigError(f"calibration data '{path}' is not a readable .npz file ({type(exc).__name__}: {exc})",
                          hint=_savez_hint(names)) from exc
    with data:
        out = {}
        for name in names:
            try:
                out[name] = np.array(_key(data, name, f"'{path}'", names)[:limit])
            except ValueError as exc:  # object arrays need pickle
                raise ConfigError(f"calibration array '{name}' in '{path}' holds Python objects, not numbers",
                                  hint="save numeric arrays (float32)") from exc
        return out


def _stack(iterator: Any, specs: list[TensorSpec], limit: int) -> dict[str, np.ndarray]:
    names = [s.name for s in specs]
    rows: dict[str, list[np.ndarray]] = {n: [] for n in names}
    count = 0
    for i, item in enumerate(itertools.islice(iterator, limit)):
        if isinstance(item, Mapping):
            values = [_key(item, n, f"item {i}", names) for n in names]
        elif isinstance(item, (list, tuple)) and len(item) == len(specs):
            values = list(item)
        else:
            what = f"a {type(item).__name__} of {len(item)}" if isinstance(item, (list, tuple)) else \
                f"a {type(item).__name__}"
            raise ConfigError(f"calibration item {i} is {what}, but the model has {len(specs)} inputs "
                              f"({', '.join(names)})",
                              hint="yield a dict {name: array} or a tuple with one array per input, in this "
                                   "order: " + ", ".join(names))
        batch = set()
        for name, spec, value in zip(names, specs, values):
            arr = _as_array(value, i, name)
            rank = len(spec.shape) - 1
            if arr.ndim == rank:
                arr = arr[None]
            elif arr.ndim != rank + 1:
                raise ConfigError(
                    f"calibration item {i}, input '{name}': shape {arr.shape} has rank {arr.ndim}; the input "
                    f"{tuple(spec.shape[1:])} needs rank {rank} (one sample) or {rank + 1} (a batch)",
                    hint=f"reshape the '{name}' samples to {tuple(spec.shape[1:])}")
            rows[name].append(arr)
            batch.add(len(arr))
        if len(batch) > 1:
            raise ConfigError(f"calibration item {i} has batches of different sizes per input ({sorted(batch)})",
                              hint="give every input the same number of samples in each item")
        count += batch.pop()
        if count >= limit:
            break
    out = {}
    for name, spec in zip(names, specs):
        if not rows[name]:
            out[name] = np.zeros((0, *spec.shape[1:]), np.float32)
            continue
        shapes = {r.shape[1:] for r in rows[name]}
        if len(shapes) > 1:
            raise ConfigError(
                f"calibration items for input '{name}' have different shapes: "
                f"{', '.join(str(s) for s in sorted(shapes))}",
                hint=f"every '{name}' sample must have the input shape {tuple(spec.shape[1:])}")
        out[name] = np.concatenate(rows[name])[:limit]
    return out


def _as_array(value: Any, i: int, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except Exception as exc:
        raise ConfigError(f"calibration item {i}, input '{name}' cannot be read as an array ({exc})",
                          hint="yield numeric arrays shaped like the model inputs") from exc


__all__ = ["prepare_multi_calibration"]
