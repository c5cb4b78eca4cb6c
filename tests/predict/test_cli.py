"""``edgekit predict`` end to end on this host: generate, convert and measure through the
lab into a real store, fit from the store, predict a file, evaluate held out by
architecture, suggest and actively sample — and the errors a user meets."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.cli.main import main
from edgekit.store import open_store

LAB = """[lab]
name = "desk"
check_load = false          # the test shares the machine's cores
cooldown_seconds = 0

[defaults]
runs = 5
min_seconds = 0.05
warmup_runs = 2
warmup_seconds = 0.02

[[device]]
name = "desk-host"
profile = "host"

[[job]]
models = ["unused.tflite"]
devices = ["desk-host"]
"""


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, " ".join(err.split())


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Five architectures (fp32 + int8) sampled on the lab device 'desk-host'."""
    root = tmp_path_factory.mktemp("predict_cli")
    lab = root / "lab.toml"
    lab.write_text(LAB, encoding="utf-8")
    paths = {"root": root, "lab": lab, "store": root / "results.sqlite", "out": root / "samples",
             "predictors": root / "predictors"}
    rc = main(["predict", "sample", "--device", "desk-host", "--n", "5", "--lab", str(lab),
               "--store", str(paths["store"]), "--out", str(paths["out"])])
    assert rc == 0
    return paths


def test_sample_measures_through_the_lab_and_resumes(sampled, capsys) -> None:
    with open_store(str(sampled["store"])) as store:
        ms = store.measurements(device="desk-host", status="ok")
        assert len(ms) == 10 and {m.artifact_variant for m in ms} == {"fp32", "int8"}
        arch_ids = {store.artifact(m.artifact_sha256).extra["model"]["arch_id"] for m in ms}
    assert len(arch_ids) == 5
    lab_file = sampled["out"] / "labs" / "desk-host.toml"
    assert "check_load = false" in lab_file.read_text()     # the user's lab settings carried over
    rc, out, _ = run(capsys, "predict", "sample", "--device", "desk-host", "--n", "5", "--lab", str(sampled["lab"]),
                     "--store", str(sampled["store"]), "--out", str(sampled["out"]))
    assert rc == 0
    assert "10 were measured on desk-host before, 0 measured now" in " ".join(out.split())


def test_again_measures_once_more_and_training_pools_the_samples(sampled, capsys, tmp_path) -> None:
    from edgekit.predict.store_samples import samples_from_store

    copy = tmp_path / "again.sqlite"
    with open_store(str(sampled["store"])) as store, open_store(str(copy)) as other:
        for m in store.measurements(device="desk-host", status="ok"):
            other.put_artifact(store.artifact(m.artifact_sha256))
            other.add_measurement(m)
    rc, out, err = run(capsys, "predict", "sample", "--device", "desk-host", "--n", "1", "--again", "--lab",
                       str(sampled["lab"]), "--store", str(copy), "--out", str(sampled["out"]))
    assert rc == 0, err
    with open_store(str(copy)) as store:
        ms = store.measurements(device="desk-host", status="ok")
        rows = samples_from_store(store, "desk-host", quantile=0.5)
    assert len(ms) == 12 and rows.measurements == 12 and len(rows.samples) == 10
    twice = {m.artifact_sha256 for m in ms[10:]}
    assert len(twice) == 2
    for sha in twice:        # one row per model, from the samples of both its measurements
        pooled = [x for m in ms if m.artifact_sha256 == sha for x in m.samples_us]
        row = next(r for r in rows.samples if r.sha256 == sha)
        assert len(pooled) >= 10 and row.latency_ms == pytest.approx(float(np.quantile(pooled, 0.5)) / 1000)


def test_fit_predict_and_staleness(sampled, capsys, tmp_path) -> None:
    rc, out, err = run(capsys, "predict", "fit", "--device", "desk-host", "--store", str(sampled["store"]),
                       "--predictors", str(sampled["predictors"]), "--folds", "2", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["held_out"]["n"] == 10 and doc["held_out"]["architectures"] == 5
    assert 0 <= doc["held_out"]["within_10"] <= 1 and doc["held_out"]["rmspe"] > 0
    assert len(doc["training_ids"]) == 10 and doc["runtime_version"]
    assert Path(doc["predictor"]).is_file()

    model = next((sampled["out"] / "archs").glob("*/*_int8.tflite"))
    for argv in (["predict", str(model), "--device", "desk-host"], ["predict", "--device", "desk-host", str(model)]):
        rc, out, err = run(capsys, *argv, "--predictors", str(sampled["predictors"]), "--store",
                           str(sampled["store"]), "--json")
        assert rc == 0, err
        p = json.loads(out)
        lo, hi = p["interval_ms"]
        assert 0 < lo <= p["predicted_ms"] <= hi and p["kernels"] and not p["stale"]
        assert sum(k["predicted_ms"] for k in p["kernels"]) + p["overhead_ms"] == pytest.approx(p["predicted_ms"], rel=1e-6)

    # the device's runtime changed since the fit: the prediction says it may be stale
    copy = tmp_path / "changed.sqlite"
    with open_store(str(sampled["store"])) as store, open_store(str(copy)) as other:
        m = store.measurements(device="desk-host", status="ok")[-1]
        other.put_artifact(store.artifact(m.artifact_sha256))
        other.add_measurement(dataclasses.replace(m, id="changed", facts={**m.facts, "runtime_version": "9.9.9"}))
    rc, out, _ = run(capsys, "predict", str(model), "--device", "desk-host", "--predictors",
                     str(sampled["predictors"]), "--store", str(copy), "--json")
    p = json.loads(out)
    assert rc == 0 and p["stale"] and "9.9.9" in p["warnings"][0]

    rc, out, _ = run(capsys, "predict", str(model), "--device", "desk-host", "--predictors", str(sampled["predictors"]))
    assert rc == 0 and "predicted" in out and "per kernel" in out


def test_evaluate_compares_approaches_held_out_by_architecture(sampled, capsys) -> None:
    plot = sampled["root"] / "pred.png"
    rc, out, err = run(capsys, "predict", "evaluate", "--device", "desk-host", "--store", str(sampled["store"]),
                       "--folds", "2", "--plot", str(plot), "--json")
    assert rc == 0, err
    results = json.loads(out)["results"]
    assert {r["approach"] for r in results} == {"kernel-nnls", "model-gbr"}
    for r in results:
        assert r["n"] == 10 and len(r["predictions"]) == 10 and 0 <= r["coverage"] <= 1
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"


def test_suggest_then_active_sampling(sampled, capsys) -> None:
    run(capsys, "predict", "fit", "--device", "desk-host", "--store", str(sampled["store"]), "--predictors",
        str(sampled["predictors"]), "--folds", "2")
    # a pool of 3: the candidates `sample --active --n 1` considers (3n), so both rank the same models
    rc, out, err = run(capsys, "predict", "suggest", "--device", "desk-host", "--n", "2", "--pool", "3",
                       "--store", str(sampled["store"]), "--predictors", str(sampled["predictors"]),
                       "--out", str(sampled["out"]), "--json")
    assert rc == 0, err
    # converting the candidates, Keras prints "Saved artifact at …" on Python's sys.stdout, which
    # capsys swaps in; the CLI's own stdout (fd 1) is redirected while TensorFlow runs
    picks = json.loads(out[out.index("{\n"):])["suggestions"]
    assert len(picks) == 2 and picks[0]["uncertainty"] >= picks[1]["uncertainty"] > 0
    with open_store(str(sampled["store"])) as store:
        before = len(store.measurements(device="desk-host", status="ok"))
    rc, out, err = run(capsys, "predict", "sample", "--device", "desk-host", "--n", "1", "--active",
                       "--lab", str(sampled["lab"]), "--store", str(sampled["store"]), "--out", str(sampled["out"]),
                       "--predictors", str(sampled["predictors"]))
    assert rc == 0, err
    with open_store(str(sampled["store"])) as store:
        ms = store.measurements(device="desk-host", status="ok")
        new = {store.artifact(m.artifact_sha256).extra["model"]["arch_id"] for m in ms[before:]}
    assert len(ms) == before + 2 and new == {picks[0]["arch_id"]}


def test_clear_errors(sampled, capsys, tmp_path) -> None:
    rc, _, err = run(capsys, "predict", "fit", "--device", "nowhere", "--store", str(sampled["store"]))
    assert rc == 2 and "no usable measurements" in err and "edgekit predict sample --device nowhere" in err
    model = next((sampled["out"] / "archs").glob("*/*_fp32.tflite"))
    rc, _, err = run(capsys, "predict", str(model), "--device", "nowhere", "--predictors", str(tmp_path))
    assert rc == 2 and "no latency predictor for device 'nowhere'" in err and "hint:" in err
    rc, _, err = run(capsys, "predict", "sample", "--device", "desk-host", "--variants", "int4",
                     "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path))
    assert rc == 2 and "int4" in err and "Traceback" not in err
    rc, _, err = run(capsys, "predict", "sample", "--device", "phone", "--lab", str(sampled["lab"]),
                     "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path))
    assert rc == 2 and "no device named 'phone'" in err and "desk-host" in err
    run(capsys, "predict", "fit", "--device", "desk-host", "--store", str(sampled["store"]), "--predictors",
        str(sampled["predictors"]), "--folds", "2")
    rc, _, err = run(capsys, "predict", str(tmp_path / "missing.tflite"), "--device", "desk-host",
                     "--predictors", str(sampled["predictors"]))
    assert rc == 2 and "missing.tflite" in err
