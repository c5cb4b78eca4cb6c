"""evaluate(): accuracy of every variant on the host, quality.json, the store, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.artifact import Manifest, sha256_file
from edgekit.cli.main import main
from edgekit.errors import ConfigError
from edgekit.evaluate.api import accuracy, evaluate, load_quality
from edgekit.store.sqlite import SqliteStore as Store


@pytest.fixture(scope="module")
def test_xy(tiny_models: Any) -> tuple[np.ndarray, np.ndarray]:
    with np.load(tiny_models.test_npz) as npz:
        return npz["x"], npz["y"]


@pytest.fixture(scope="module")
def keras_top1(tiny_models: Any, test_xy: tuple[np.ndarray, np.ndarray]) -> float:
    import tensorflow as tf

    x, y = test_xy
    scores = tf.keras.models.load_model(tiny_models.keras_path, compile=False)(x).numpy()
    return float(np.mean(scores.argmax(1) == y))


def test_every_variant_is_evaluated(tiny_manifest: Manifest, tiny_models: Any, keras_top1: float,
                                    tmp_path: Path) -> None:
    records = evaluate(tiny_manifest, tiny_models.test_npz, store=tmp_path / "results.sqlite")
    assert [r.variant for r in records] == ["fp32", "fp16", "dynamic", "int8", "int16x8"]
    by = {r.variant: r for r in records}
    assert by["fp32"].value == pytest.approx(keras_top1, abs=1 / 48)  # one sample's argmax tie at most
    assert keras_top1 > 0.9  # the fixture's model fits its data
    assert abs(by["int8"].value - by["fp32"].value) <= 0.1
    dataset = f"test:{sha256_file(tiny_models.test_npz)[:12]}"
    for r in records:
        assert r.dataset == dataset and r.metric == "top1" and r.samples == 48 and r.model == "tiny"
        assert r.artifact_sha256 == tiny_manifest.get(r.variant).sha256
    stored = Store(tmp_path / "results.sqlite")
    assert {(q.variant, q.value) for q in stored.quality(metric="top1")} == {(r.variant, r.value) for r in records}
    assert {a.sha256 for a in stored.artifacts()} == {a.sha256 for a in tiny_manifest.artifacts}
    on_disk = load_quality(tiny_manifest.path)
    assert {(q.variant, q.dataset, q.value) for q in on_disk} >= {(r.variant, r.dataset, r.value) for r in records}


def test_one_hot_labels_and_tuples(tiny_manifest: Manifest, tiny_models: Any,
                                   test_xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = test_xy
    from_file = {r.variant: r.value for r in evaluate(tiny_manifest.path, tiny_models.test_npz)}
    onehot = np.eye(4, dtype=np.float32)[y]
    records = evaluate(tiny_manifest.folder, (x, onehot), dataset_name="onehot")
    assert {r.variant: r.value for r in records} == from_file
    assert records[0].dataset.startswith("onehot:")
    # quality.json keeps both datasets
    datasets = {q.dataset.split(":")[0] for q in load_quality(tiny_manifest.folder)}
    assert {"test", "onehot"} <= datasets


def test_package_is_callable_like_the_api(tiny_manifest: Manifest, tiny_models: Any) -> None:
    import edgekit
    import edgekit.evaluate.api  # noqa: F401 - binds the subpackage to edgekit.evaluate

    records = edgekit.evaluate(tiny_manifest, tiny_models.test_npz)
    assert [r.variant for r in records] == ["fp32", "fp16", "dynamic", "int8", "int16x8"]


def test_accuracy_top1_and_top5() -> None:
    scores = np.array([[0.1, 0.5, 0.2, 0.0, 0.05, 0.15],
                       [0.3, 0.1, 0.2, 0.25, 0.05, 0.1]])
    labels = np.array([1, 4])
    assert accuracy(scores, labels, 1) == 0.5
    assert accuracy(scores, labels, 5) == 0.5  # label 4 is the lowest score of row 2
    assert accuracy(scores, np.array([1, 2]), 5) == 1.0
    with pytest.raises(ConfigError, match="top5 needs at least 5 classes; the model has 4"):
        accuracy(scores[:, :4], labels, 5)
    with pytest.raises(ConfigError, match="labels range 1..9, but the model has 6 classes"):
        accuracy(scores, np.array([1, 9]), 1)


def test_edgetpu_artifacts_are_skipped(tiny_manifest: Manifest, tiny_models: Any, tmp_path: Path) -> None:
    tpu = tiny_manifest.get("int8").with_(variant="edgetpu")
    m = Manifest(path=tmp_path / "manifest.json", model=tiny_manifest.model, model_sha256="x",
                 artifacts=(tiny_manifest.get("fp32"), tpu))
    m.save()
    assert [r.variant for r in evaluate(m, tiny_models.test_npz)] == ["fp32"]


@pytest.mark.parametrize("make, says", [
    (lambda d: d / "missing.npz", "does not exist"),
    (lambda d: _npz(d, x=np.zeros((4, 8, 8, 1))), "y is missing"),
    (lambda d: _npz(d, x=np.zeros((4, 28, 28, 1), np.float32), y=np.zeros(4, int)),
     "input data shape (28, 28, 1) does not match the input (8, 8, 1)"),
    (lambda d: _npz(d, x=np.zeros((4, 8, 8, 1), np.float32), y=np.zeros(3, int)), "4 inputs but 3 labels"),
    (lambda d: _npz(d, x=np.full((4, 8, 8, 1), np.nan, np.float32), y=np.zeros(4, int)), "NaN or Inf"),
])
def test_bad_test_data(make: Any, says: str, tiny_manifest: Manifest, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    path = make(tmp_path)
    with pytest.raises(ConfigError) as info:
        evaluate(tiny_manifest, path)
    assert says in str(info.value)
    rc = main(["evaluate", str(tiny_manifest.path), "--data", str(path), "--no-store"])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2 and "error:" in err and "hint:" in err and "Traceback" not in err and says in err


def _npz(folder: Path, **arrays: Any) -> Path:
    np.savez(folder / "data.npz", **arrays)
    return folder / "data.npz"


def test_cli_table_store_and_json(tiny_manifest: Manifest, tiny_models: Any, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("EDGEKIT_STORE", str(tmp_path / "default.sqlite"))
    rc = main(["evaluate", str(tiny_manifest.path), "--data", str(tiny_models.test_npz)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rows = {ln.split("│")[1].strip(): [c.strip() for c in ln.split("│")[2:-1]]
            for ln in out.splitlines() if ln.startswith("│")}
    records = {q.variant: q for q in Store(tmp_path / "default.sqlite").quality()}
    assert set(rows) == set(records) == {"fp32", "fp16", "dynamic", "int8", "int16x8"}
    assert rows["int8"][1] == f"{100 * records['int8'].value:.2f}%"
    assert rows["int8"][2] == f"{100 * (records['int8'].value - records['fp32'].value):+.2f}"
    rc = main(["evaluate", str(tiny_manifest.folder), "--data", str(tiny_models.test_npz), "--no-store", "--json",
               "--metric", "top1"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["store"] is None and len(doc["records"]) == 5
    rc = main(["evaluate", str(tiny_manifest.path), "--data", str(tiny_models.test_npz), "--metric", "top5",
               "--no-store"])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2 and "top5 needs at least 5 classes; the model has 4" in err and "hint: use --metric top1" in err
