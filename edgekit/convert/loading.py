"""Open the model to convert: a ``.keras`` or ``.h5`` file, a SavedModel folder, an
in-memory Keras model, or a ``.tflite`` file (described, not converted).

Opening is cheap and never imports TensorFlow: it checks that the path exists, sniffs what
the file is, and hashes its bytes (the cache key). :meth:`ModelSource.load` does the
TensorFlow work — loading the Keras model or the SavedModel signature — only when a
variant actually has to be converted.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..artifact import TensorSpec, sha256_file
from ..errors import ConfigError
from ..tflite.quiet import quiet_tensorflow

LOG = logging.getLogger(__name__)

#: kinds of model source
KERAS, H5, SAVEDMODEL, KERAS_OBJECT, TFLITE = "keras", "h5", "savedmodel", "keras-object", "tflite"
_SIGNATURE = "serving_default"
_ACCEPTED = "a .keras file, an .h5 file, a SavedModel folder or a .tflite file"


@dataclass(frozen=True)
class ModelSource:
    """A model to convert, identified by the sha256 of its content.

    Attributes:
        kind: one of ``keras``, ``h5``, ``savedmodel``, ``keras-object``, ``tflite``.
        name: the default base name of the converted files (file stem or model name).
        description: the path, or ``<keras model NAME>`` for an in-memory model.
        sha256: hash of the file's bytes; of every file of a SavedModel (with their
            relative paths); of the config JSON and weights of an in-memory model.
        path: the file or folder (None for an in-memory model).
        model: the in-memory Keras model, if that is what was given.
    """

    kind: str
    name: str
    description: str
    sha256: str
    path: Optional[Path] = None
    model: Any = field(default=None, repr=False, compare=False)

    def load(self) -> "LoadedModel":
        """Load with TensorFlow (slow: imports it). Raises ConfigError for unreadable models."""
        if self.kind == TFLITE:
            raise ConfigError(f"'{self.description}' is a .tflite model: it is described, not converted")
        with quiet_tensorflow():
            import tensorflow as tf

            if self.kind == KERAS_OBJECT:
                return _from_keras(self, self.model, tf)
            if self.kind in (KERAS, H5):
                return _from_keras(self, _load_keras_file(self.path, tf), tf)
            return _from_savedmodel(self, tf)


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded by TensorFlow, ready to make converters.

    Attributes:
        source: what it was loaded from.
        inputs: its input tensors; the batch dimension is 1 and listed in ``dynamic_dims``
            when it is unknown (as in the converted ``.tflite``).
        make_converter: returns a fresh ``tf.lite.TFLiteConverter`` for this model.
    """

    source: ModelSource
    inputs: tuple[TensorSpec, ...]
    make_converter: Callable[[], Any] = field(repr=False)


def open_model(model: Any, name: Optional[str] = None) -> ModelSource:
    """Identify ``model`` without TensorFlow: a path (str/Path) or a Keras model object.

    Args:
        model: a path to a ``.keras``/``.h5``/``.tflite`` file or SavedModel folder, or a
            ``keras.Model``.
        name: overrides the base name of the converted files.

    Raises:
        ConfigError: the path does not exist, or is not one of the accepted model kinds.
    """
    if not isinstance(model, (str, Path)):
        if hasattr(model, "get_weights") and hasattr(model, "to_json"):
            return _keras_object(model, name)
        raise ConfigError(
            f"cannot convert a {type(model).__module__}.{type(model).__name__}: edgekit converts {_ACCEPTED}, "
            "or a keras.Model through the API",
            hint="pass a path or a keras.Model",
        )
    path = Path(model).expanduser()
    if not path.exists():
        raise ConfigError(f"model '{path}' does not exist", hint=f"check the path; edgekit converts {_ACCEPTED}")
    stem = safe_name(name or (path.name if path.is_dir() else path.stem))
    if path.is_dir():
        if not any((path / f).is_file() for f in ("saved_model.pb", "saved_model.pbtxt")):
            raise ConfigError(
                f"folder '{path}' is not a SavedModel: it has no saved_model.pb",
                hint="pass the folder written by model.export() / tf.saved_model.save(), or a model file",
            )
        return ModelSource(SAVEDMODEL, stem, str(path), _hash_folder(path), path)
    head = _head(path)
    if head[4:8] == b"TFL3":
        return ModelSource(TFLITE, stem, str(path), sha256_file(path), path)
    if head[:4] == b"\x89HDF":
        return ModelSource(H5, stem, str(path), sha256_file(path), path)
    if head[:2] == b"PK":
        _check_keras_zip(path)
        return ModelSource(KERAS, stem, str(path), sha256_file(path), path)
    if path.suffix.lower() == ".tflite":
        from ..tflite import read_model

        read_model(path)  # raises a ConfigError that says how the file is broken
    raise ConfigError(
        f"'{path}' is not a model: it looks like {_looks_like(head, path)}",
        hint=f"edgekit converts {_ACCEPTED}",
    )


def safe_name(name: str) -> str:
    """A file-name-safe version of ``name`` (letters, digits, ``._-``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"
    return cleaned[:80]


# -- identification --------------------------------------------------------------------
def _head(path: Path, n: int = 512) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise ConfigError(f"cannot read model '{path}': {exc.strerror}", hint="check the file's permissions") from exc


def _looks_like(head: bytes, path: Path) -> str:
    if not head:
        return "an empty file (0 bytes)"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy array"
    if head[:8] == b"\x89PNG\r\n\x1a\n" or head[:3] == b"\xff\xd8\xff":
        return "an image"
    if head[:4] == b"\x7fELF":
        return "an executable"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"binary data that is not TFLite, HDF5 or a zip archive (first bytes {head[:8]!r})"
    if text.lstrip().startswith(("{", "[")):
        return "a JSON/text file"
    return "a text file"


def _check_keras_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigError(
            f"'{path}' is a truncated or corrupt zip archive, so not a readable .keras model ({exc})",
            hint="save the model again with model.save('model.keras')",
        ) from exc
    if "config.json" not in names:
        kind = "a NumPy .npz archive" if names and all(n.endswith(".npy") for n in names) else "a zip archive"
        raise ConfigError(
            f"'{path}' is not a Keras model: it is {kind} without config.json (holds {', '.join(names[:5]) or 'nothing'})",
            hint=f"edgekit converts {_ACCEPTED}",
        )


def _hash_folder(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f.relative_to(folder).as_posix().encode() + b"\0")
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def _keras_object(model: Any, name: Optional[str]) -> ModelSource:
    h = hashlib.sha256()
    h.update(model.to_json().encode())
    for w in model.get_weights():
        buf = io.BytesIO()
        buf.write(str((w.dtype.str, w.shape)).encode())
        buf.write(w.tobytes())
        h.update(buf.getvalue())
    model_name = getattr(model, "name", "") or "model"
    return ModelSource(KERAS_OBJECT, safe_name(name or model_name), f"<keras model {model_name}>",
                       h.hexdigest(), None, model)


# -- loading (TensorFlow) ---------------------------------------------------------------
def _load_keras_file(path: Optional[Path], tf: Any) -> Any:
    assert path is not None
    try:
        return tf.keras.models.load_model(path, compile=False)
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"
        if "Lambda" in text or "safe_mode" in text:
            raise ConfigError(
                f"'{path}' uses a Lambda layer, which Keras refuses to deserialize safely",
                hint="load it yourself with keras.models.load_model(path, safe_mode=False) and pass the model "
                     "object to edgekit.convert, or export it as a SavedModel folder (model.export(dir))",
            ) from exc
        raise ConfigError(
            f"cannot load Keras model '{path}': {_first_line(text)}",
            hint="the file is truncated, corrupt, or needs custom objects; load it yourself and pass the "
                 "model object to edgekit.convert, or export a SavedModel folder",
        ) from exc


def _from_keras(source: ModelSource, model: Any, tf: Any) -> LoadedModel:
    try:
        shapes = [tuple(t.shape) for t in model.inputs]
        dtypes = [str(getattr(t.dtype, "name", t.dtype)) for t in model.inputs]
        names = [getattr(t, "name", f"input_{i}") for i, t in enumerate(model.inputs)]
    except Exception as exc:  # a subclassed model that was never called has no inputs
        raise ConfigError(
            f"Keras model '{source.description}' has no defined inputs ({_first_line(str(exc))})",
            hint="build the model with keras.Input(...) or call it once on a batch before converting",
        ) from exc
    inputs = tuple(_spec(n, s, d) for n, s, d in zip(names, shapes, dtypes))
    return LoadedModel(source, inputs, lambda: tf.lite.TFLiteConverter.from_keras_model(model))


def _from_savedmodel(source: ModelSource, tf: Any) -> LoadedModel:
    path = str(source.path)
    try:
        loaded = tf.saved_model.load(path)
    except Exception as exc:
        raise ConfigError(
            f"cannot load SavedModel '{path}': {_first_line(f'{type(exc).__name__}: {exc}')}",
            hint="the folder is incomplete or corrupt; export it again",
        ) from exc
    sigs = getattr(loaded, "signatures", {}) or {}
    if _SIGNATURE not in sigs:
        raise ConfigError(
            f"SavedModel '{path}' has no '{_SIGNATURE}' signature (it has: {', '.join(sigs) or 'none'})",
            hint="export it with model.export(dir) or tf.saved_model.save(obj, dir, signatures=...)",
        )
    _, kwargs = sigs[_SIGNATURE].structured_input_signature
    inputs = tuple(_spec(k, tuple(v.shape), v.dtype.name) for k, v in sorted(kwargs.items()))
    return LoadedModel(
        source, inputs,
        lambda: tf.lite.TFLiteConverter.from_saved_model(path, signature_keys=[_SIGNATURE]),
    )


def _spec(name: str, shape: tuple[Any, ...], dtype: str) -> TensorSpec:
    dims = tuple(1 if d is None else int(d) for d in shape)
    dynamic = tuple(i for i, d in enumerate(shape) if d is None)
    return TensorSpec(name=str(name), shape=dims, dtype=str(dtype), dynamic_dims=dynamic)


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= limit else line[: limit - 1] + "…"


__all__ = ["ModelSource", "LoadedModel", "open_model", "safe_name",
           "KERAS", "H5", "SAVEDMODEL", "KERAS_OBJECT", "TFLITE"]
