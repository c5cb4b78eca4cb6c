"""Datasets for the pipeline: scikit-learn's digits, CIFAR-10 from a user folder, any .npz.

Nothing is downloaded unless the user asks for it (``allow_download``): ``digits`` ships
with scikit-learn; CIFAR-10 is read from the Keras archive or the python-pickle batches in
a folder the user names. Splits and ``limit`` subsets are deterministic for a seed, and
every dataset gets a content id (a hash of its arrays) that names everything derived from
it in the pipeline's cache.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from ..errors import ConfigError

LOG = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("digits", "cifar10", "npz")
#: file and folder names that hold CIFAR-10 (the Keras archive, the python batches)
CIFAR_ARCHIVES: tuple[str, ...] = ("cifar-10-python.tar.gz", "cifar-10-batches-py.tar.gz")
CIFAR_FOLDER = "cifar-10-batches-py"
#: where keras.datasets.cifar10.load_data() extracts the archive under ~/.keras/datasets
KERAS_CACHE_FOLDER = "cifar-10-batches-py-target"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


@dataclass(frozen=True)
class DatasetSpec:
    """Which dataset to load and how to cut it.

    Attributes:
        kind: ``digits`` | ``cifar10`` | ``npz``.
        path: the CIFAR-10 folder (or archive) or the .npz file; "" = the default place.
        limit: 0 = everything; N = at most N training and N//4 test samples (stratified).
        seed: seeds the split and the subset.
        test_fraction: the test share for datasets without an official split (digits).
        allow_download: CIFAR-10 only: call ``keras.datasets.cifar10.load_data()`` when the
            files are not found (needs internet).
    """

    kind: str = "digits"
    path: str = ""
    limit: int = 0
    seed: int = 0
    test_fraction: float = 0.2
    allow_download: bool = False


@dataclass(frozen=True)
class Dataset:
    """Arrays ready for training: images float32 in [0, 1], NHWC; labels int64."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    input_shape: tuple[int, int, int]
    id: str = ""
    allow_flip: bool = False        # horizontal flips keep the labels (CIFAR-10 yes, digits no)
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "train": int(len(self.x_train)),
                "test": int(len(self.x_test)), "num_classes": self.num_classes,
                "input_shape": list(self.input_shape), "allow_flip": self.allow_flip,
                "source": self.source}


def load_dataset(spec: DatasetSpec | Mapping[str, Any] | str) -> Dataset:
    """Load a dataset described by ``spec``.

    Args:
        spec: a :class:`DatasetSpec`, a dict of its fields, or just a kind (``"digits"``).

    Returns:
        The :class:`Dataset`, with its content id.

    Raises:
        ConfigError: unknown kind, missing or malformed files (naming where it looked).
    """
    if isinstance(spec, str):
        spec = DatasetSpec(kind=spec)
    elif isinstance(spec, Mapping):
        unknown = set(spec) - set(DatasetSpec.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown dataset field(s) {sorted(unknown)}",
                              hint=f"valid fields: {', '.join(DatasetSpec.__dataclass_fields__)}")
        spec = DatasetSpec(**spec)
    if spec.kind not in KINDS:
        raise ConfigError(f"dataset kind '{spec.kind}' is not known",
                          hint=f"use one of: {', '.join(KINDS)}")
    if spec.limit < 0:
        raise ConfigError(f"dataset limit {spec.limit} is negative", hint="use 0 for everything")
    if spec.kind == "digits":
        ds = _digits(spec)
    elif spec.kind == "cifar10":
        ds = _cifar10(spec)
    else:
        ds = _npz(spec)
    ds = _limited(ds, spec.limit, spec.seed)
    return _with_id(ds, spec)


# -- digits ---------------------------------------------------------------------------
def _digits(spec: DatasetSpec) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[..., None]     # 0..16 → [0, 1], 8×8×1
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=spec.test_fraction,
                                              random_state=spec.seed, stratify=y)
    return Dataset("digits", x_tr, y_tr, x_te, y_te, 10, (8, 8, 1), allow_flip=False,
                   source="sklearn.datasets.load_digits")


# -- CIFAR-10 -------------------------------------------------------------------------
def cifar10_search_dirs(path: str = "") -> list[Path]:
    """The folders looked in for CIFAR-10: the given path, else Keras' dataset cache."""
    if path:
        return [Path(path).expanduser()]
    return [Path.home() / ".keras" / "datasets", Path.cwd()]


def check_available(spec: DatasetSpec) -> None:
    """Fail fast (before any work) when a dataset's files are missing.

    Raises:
        ConfigError: CIFAR-10 not found (and no download allowed), or a missing .npz.
    """
    if spec.kind == "cifar10" and not spec.allow_download:
        if not any(_find_cifar(d) is not None for d in cifar10_search_dirs(spec.path)):
            _cifar_missing(spec)
    elif spec.kind == "npz" and not Path(spec.path).expanduser().is_file():
        raise ConfigError(f"dataset file '{spec.path}' does not exist",
                          hint=f"save one with numpy.savez(path, {', '.join(k + '=…' for k in NPZ_KEYS)})")


def _cifar10(spec: DatasetSpec) -> Dataset:
    dirs = cifar10_search_dirs(spec.path)
    for d in dirs:
        found = _find_cifar(d)
        if found is not None:
            x_tr, y_tr, x_te, y_te = _read_cifar(found)
            return _cifar_dataset(x_tr, y_tr, x_te, y_te, str(found))
    if spec.allow_download:
        return _cifar_download()
    _cifar_missing(spec)
    raise AssertionError("unreachable")  # pragma: no cover


def _cifar_missing(spec: DatasetSpec) -> None:
    dirs = cifar10_search_dirs(spec.path)
    looked = ", ".join(f"'{d}'" for d in dirs)
    where = dirs[0]
    raise ConfigError(
        f"CIFAR-10 not found: looked in {looked} for {CIFAR_ARCHIVES[0]} or a {CIFAR_FOLDER}/ folder",
        hint=f"put {CIFAR_ARCHIVES[0]} (from {CIFAR_URL}) or its extracted {CIFAR_FOLDER}/ "
             f"folder in '{where}' and set [dataset] path to that folder; on a machine with "
             f"internet, --allow-download calls keras.datasets.cifar10.load_data() instead",
    )


def _find_cifar(folder: Path) -> Optional[Path]:
    if folder.is_file() and folder.name.endswith((".tar.gz", ".tgz")):
        return folder
    if not folder.is_dir():
        return None
    if (folder / "data_batch_1").is_file():
        return folder
    for sub in (folder / CIFAR_FOLDER, folder / KERAS_CACHE_FOLDER / CIFAR_FOLDER):
        if (sub / "data_batch_1").is_file():
            return sub
    for name in CIFAR_ARCHIVES:
        if (folder / name).is_file():
            return folder / name
    return None


def _read_cifar(found: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the five training batches and the test batch (python pickles, 10 000 rows each)."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        if found.is_dir():
            for n in names:
                p = found / n
                if not p.is_file():
                    raise ConfigError(f"CIFAR-10 folder '{found}' has no '{n}'",
                                      hint="extract the whole cifar-10-python.tar.gz there again")
                batches[n] = _parse_batch(p.read_bytes(), f"{found}/{n}")
        else:
            with tarfile.open(found, "r:gz") as tar:
                members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
                for n in names:
                    if n not in members:
                        raise ConfigError(f"CIFAR-10 archive '{found}' has no '{n}'",
                                          hint="the archive is incomplete; fetch it again")
                    fh = tar.extractfile(members[n])
                    assert fh is not None
                    batches[n] = _parse_batch(fh.read(), f"{found}:{n}")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ConfigError(f"CIFAR-10 archive '{found}' cannot be read: {exc}",
                          hint="the file is corrupt or truncated; fetch it again") from exc
    x_tr = np.concatenate([batches[n][0] for n in names[:5]])
    y_tr = np.concatenate([batches[n][1] for n in names[:5]])
    return x_tr, y_tr, batches["test_batch"][0], batches["test_batch"][1]


def _parse_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        doc = pickle.load(io.BytesIO(raw), encoding="bytes")  # the dataset's own format
        data = np.asarray(doc[b"data"], dtype=np.uint8)
        labels = np.asarray(doc[b"labels"], dtype=np.int64)
        images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    except Exception as exc:
        raise ConfigError(f"'{where}' is not a CIFAR-10 python batch: {exc}",
                          hint="use the 'CIFAR-10 python version' archive") from exc
    if len(images) != len(labels):
        raise ConfigError(f"'{where}' has {len(images)} images but {len(labels)} labels",
                          hint="the batch is corrupt; fetch the archive again")
    return images, labels


def _cifar_dataset(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, y_te: np.ndarray,
                   source: str) -> Dataset:
    return Dataset("cifar10", (x_tr.astype(np.float32) / 255.0), y_tr.reshape(-1).astype(np.int64),
                   (x_te.astype(np.float32) / 255.0), y_te.reshape(-1).astype(np.int64), 10,
                   (32, 32, 3), allow_flip=True, source=source)


def _cifar_download() -> Dataset:  # pragma: no cover - needs internet, never in CI
    from ..tflite.quiet import quiet_tensorflow

    with quiet_tensorflow():
        import keras

        try:
            (x_tr, y_tr), (x_te, y_te) = keras.datasets.cifar10.load_data()
        except Exception as exc:
            raise ConfigError(f"downloading CIFAR-10 failed: {exc}",
                              hint=f"fetch {CIFAR_URL} by hand and set [dataset] path") from exc
    return _cifar_dataset(x_tr, y_tr, x_te, y_te, "keras.datasets.cifar10.load_data()")


# -- npz ------------------------------------------------------------------------------
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _npz(spec: DatasetSpec) -> Dataset:
    if not spec.path:
        raise ConfigError("dataset kind 'npz' needs a path",
                          hint=f"set [dataset] path to an .npz file with keys {', '.join(NPZ_KEYS)}")
    path = Path(spec.path).expanduser()
    if not path.is_file():
        raise ConfigError(f"dataset file '{path}' does not exist",
                          hint=f"save one with numpy.savez(path, {', '.join(k + '=…' for k in NPZ_KEYS)})")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in NPZ_KEYS if k not in z.files]
            if missing:
                raise ConfigError(f"dataset file '{path}' lacks key(s) {missing} (it has {z.files})",
                                  hint=f"an npz dataset holds {', '.join(NPZ_KEYS)}")
            arrays = {k: z[k] for k in NPZ_KEYS}
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"dataset file '{path}' is not a readable .npz: {exc}",
                          hint="write it with numpy.savez") from exc
    x_tr, x_te = _images(arrays["x_train"], path, "x_train"), _images(arrays["x_test"], path, "x_test")
    y_tr, y_te = _labels(arrays["y_train"], path, "y_train"), _labels(arrays["y_test"], path, "y_test")
    for xs, ys, what in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
        if len(xs) != len(ys) or len(xs) == 0:
            raise ConfigError(f"dataset file '{path}': x_{what} has {len(xs)} rows, y_{what} {len(ys)}",
                              hint="images and labels must be non-empty and of the same length")
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise ConfigError(f"dataset file '{path}': x_train images {x_tr.shape[1:]} differ from "
                          f"x_test images {x_te.shape[1:]}", hint="use one image shape")
    num_classes = int(max(y_tr.max(), y_te.max())) + 1
    return Dataset(path.stem, x_tr, y_tr, x_te, y_te, num_classes,
                   tuple(int(d) for d in x_tr.shape[1:]),  # type: ignore[arg-type]
                   allow_flip=False, source=str(path))


def _images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ConfigError(f"dataset file '{path}': {key} has shape {x.shape}",
                          hint="images are (N, H, W) or (N, H, W, C)")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if not np.issubdtype(x.dtype, np.floating):
        raise ConfigError(f"dataset file '{path}': {key} has dtype {x.dtype}",
                          hint="images are uint8 (0..255) or float (already scaled)")
    return x.astype(np.float32)


def _labels(y: np.ndarray, path: Path, key: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise ConfigError(f"dataset file '{path}': {key} is not a vector of class indices "
                          f"(shape {y.shape}, dtype {y.dtype})",
                          hint="labels are integers 0..num_classes-1, one per image")
    return y.astype(np.int64)


# -- subsets and ids ------------------------------------------------------------------
def _limited(ds: Dataset, limit: int, seed: int) -> Dataset:
    if not limit:
        return ds
    n_test = max(limit // 4, ds.num_classes)
    x_tr, y_tr = _stratified_subset(ds.x_train, ds.y_train, limit, seed)
    x_te, y_te = _stratified_subset(ds.x_test, ds.y_test, n_test, seed + 1)
    return Dataset(ds.name, x_tr, y_tr, x_te, y_te, ds.num_classes, ds.input_shape,
                   allow_flip=ds.allow_flip, source=ds.source, meta={**ds.meta, "limit": limit})


def _stratified_subset(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most n rows, classes in proportion, order shuffled deterministically."""
    if n >= len(y):
        return x, y
    rng = np.random.default_rng(seed)
    picked: list[np.ndarray] = []
    classes, counts = np.unique(y, return_counts=True)
    quota = np.maximum(1, np.floor(counts / counts.sum() * n).astype(int))
    for c, q in zip(classes, quota):
        idx = np.flatnonzero(y == c)
        picked.append(rng.choice(idx, size=min(q, len(idx)), replace=False))
    chosen = np.concatenate(picked)
    rest = np.setdiff1d(np.arange(len(y)), chosen)
    if len(chosen) < n:
        chosen = np.concatenate([chosen, rng.choice(rest, size=n - len(chosen), replace=False)])
    chosen = rng.permutation(chosen[:n])
    return x[chosen], y[chosen]


def _with_id(ds: Dataset, spec: DatasetSpec) -> Dataset:
    h = hashlib.sha256()
    h.update(f"{ds.name}|{ds.num_classes}|{ds.input_shape}|".encode())
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        arr = np.ascontiguousarray(a)
        h.update(str(arr.shape).encode() + str(arr.dtype).encode())
        h.update(arr.tobytes())
    return Dataset(ds.name, ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.num_classes,
                   ds.input_shape, id=f"{ds.name}-{h.hexdigest()[:12]}", allow_flip=ds.allow_flip,
                   source=ds.source, meta={**ds.meta, "seed": spec.seed})


def save_split(ds: Dataset, folder: Path, calibration_samples: int = 200) -> dict[str, Path]:
    """Write ``test.npz`` (x, y) and ``calibration.npz`` (x: training images) for convert and
    evaluate; returns their paths. Files are written to a temporary name and renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"test": folder / "test.npz", "calibration": folder / "calibration.npz"}
    _save_npz(out["test"], x=ds.x_test.astype(np.float32), y=ds.y_test.astype(np.int64))
    n = min(calibration_samples, len(ds.x_train)) if calibration_samples > 0 else len(ds.x_train)
    _save_npz(out["calibration"], x=ds.x_train[:n].astype(np.float32))
    return out


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
