"""Datasets: digits (shipped with scikit-learn), CIFAR-10 from a folder, npz; limits and ids."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.recipes.datasets import DatasetSpec, check_available, load_dataset, save_split


def test_digits_is_8x8_grayscale_in_unit_range_with_a_stratified_split() -> None:
    ds = load_dataset("digits")
    assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
    assert ds.x_train.shape == (1437, 8, 8, 1) and ds.x_test.shape == (360, 8, 8, 1)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert np.bincount(ds.y_test).min() >= 35          # every class in the test split
    assert not ds.allow_flip                           # a mirrored digit is not the same digit
    assert ds.id.startswith("digits-")


def test_split_and_id_are_deterministic_per_seed() -> None:
    a, b = load_dataset({"kind": "digits", "seed": 3}), load_dataset({"kind": "digits", "seed": 3})
    c = load_dataset({"kind": "digits", "seed": 4})
    assert a.id == b.id and np.array_equal(a.y_test, b.y_test)
    assert a.id != c.id


def test_limit_takes_a_stratified_subset() -> None:
    ds = load_dataset(DatasetSpec(limit=200))
    assert len(ds.x_train) == 200 and len(ds.x_test) == 50
    assert set(np.unique(ds.y_train)) == set(range(10))
    assert ds.id != load_dataset("digits").id


def _batch(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    doc = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
           b"labels": [int(v) for v in rng.integers(0, 10, size=n)]}
    return pickle.dumps(doc)


def _write_cifar(folder: Path, as_archive: bool) -> Path:
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    if not as_archive:
        sub = folder / "cifar-10-batches-py"
        sub.mkdir(parents=True)
        for i, n in enumerate(names):
            (sub / n).write_bytes(_batch(4, i))
        return folder
    folder.mkdir(parents=True)
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
        for i, n in enumerate(names):
            raw = _batch(4, i)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{n}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return folder


@pytest.mark.parametrize("as_archive", [False, True])
def test_cifar10_from_pickle_batches_or_the_archive(tmp_path: Path, as_archive: bool) -> None:
    folder = _write_cifar(tmp_path / "c", as_archive)
    ds = load_dataset({"kind": "cifar10", "path": str(folder)})
    assert ds.x_train.shape == (20, 32, 32, 3) and ds.x_test.shape == (4, 32, 32, 3)
    assert ds.allow_flip and ds.num_classes == 10
    raw = pickle.loads(_batch(4, 0))
    # channel-first rows become HWC images scaled to [0, 1]
    expect = raw[b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0) / 255.0
    assert np.allclose(ds.x_train[0], expect)
    assert list(ds.y_train[:4]) == raw[b"labels"]


def test_cifar10_missing_names_the_folder_and_where_to_put_it(tmp_path: Path) -> None:
    spec = DatasetSpec(kind="cifar10", path=str(tmp_path / "nowhere"))
    for call in (load_dataset, check_available):
        with pytest.raises(ConfigError) as err:
            call(spec)
        assert str(tmp_path / "nowhere") in err.value.message
        assert "cifar-10-python.tar.gz" in err.value.message
        assert "keras.datasets.cifar10.load_data()" in err.value.hint
        assert "--allow-download" in err.value.hint


def test_cifar10_corrupt_archive(tmp_path: Path) -> None:
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"not a tar file")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_dataset({"kind": "cifar10", "path": str(tmp_path)})


def test_npz_dataset(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=rng.integers(0, 256, (30, 10, 10), dtype=np.uint8), y_train=np.arange(30) % 3,
             x_test=rng.integers(0, 256, (9, 10, 10), dtype=np.uint8), y_test=np.arange(9) % 3)
    ds = load_dataset({"kind": "npz", "path": str(path)})
    assert ds.input_shape == (10, 10, 1) and ds.num_classes == 3 and ds.name == "mine"
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0


def test_npz_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((3, 8, 8)), y_train=np.zeros(3, dtype=int))
    with pytest.raises(ConfigError, match=r"lacks key\(s\) \['x_test', 'y_test'\]"):
        load_dataset({"kind": "npz", "path": str(path)})
    with pytest.raises(ConfigError, match="does not exist"):
        load_dataset({"kind": "npz", "path": str(tmp_path / "none.npz")})
    with pytest.raises(ConfigError, match="dataset kind 'mnist' is not known"):
        load_dataset("mnist")


def test_save_split_writes_test_and_calibration(tmp_path: Path) -> None:
    ds = load_dataset(DatasetSpec(limit=100))
    files = save_split(ds, tmp_path, calibration_samples=60)
    with np.load(files["test"]) as z:
        assert np.array_equal(z["x"], ds.x_test) and np.array_equal(z["y"], ds.y_test)
    with np.load(files["calibration"]) as z:
        assert z["x"].shape == (60, 8, 8, 1)
    assert not list(tmp_path.glob(".*tmp*"))
