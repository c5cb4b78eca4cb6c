"""``report(predict=[DEVICE])``: predicted points from a real fitted predictor, labelled as such
in every format, drawn hollow, and never part of a frontier, tie group or recommendation."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from edgekit.errors import ConfigError
from edgekit.predict.registry import save_predictor
from edgekit.report.api import report
from edgekit.store.sqlite import SqliteStore as Store

from .predictor_helpers import fit_host_predictor


@pytest.fixture(scope="module")
def predictors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a predictor of ``host`` and the same one as ``board`` (a device never measured)."""
    folder = tmp_path_factory.mktemp("predictors")
    pred = fit_host_predictor(tmp_path_factory.mktemp("predictor_models"))
    save_predictor(pred, "host", folder)
    save_predictor(pred, "board", folder)
    return folder


@pytest.fixture(scope="module")
def half_store(real_store: Store, tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str, str]:
    """The real store's two artifacts and quality, but only the fp32 measured on host."""
    s = Store(tmp_path_factory.mktemp("half") / "results.sqlite")
    arts = {a.variant: a for a in real_store.artifacts()}
    for a in arts.values():
        s.put_artifact(a)
    for q in real_store.quality():
        s.add_quality(q)
    for m in real_store.measurements(device="host"):
        if m.artifact_sha256 == arts["fp32"].sha256:
            s.add_measurement(m)
    return s, arts["fp32"].sha256, arts["int8"].sha256


@pytest.fixture(scope="module")
def predicted_report(half_store: tuple[Store, str, str], predictors: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    store, _, _ = half_store
    return report(store=store, out=tmp_path_factory.mktemp("predicted_report"), predict=["host", "board"],
                  predictors=predictors, title="measured and predicted")


def test_only_unmeasured_artifacts_are_predicted(predicted_report, half_store) -> None:  # noqa: ANN001
    _, fp32, int8 = half_store
    pred = predicted_report.predicted
    assert sorted(pred) == ["board", "host"]
    assert [c.artifact_sha256 for c in pred["host"]] == [int8]                 # fp32 is measured on host
    assert sorted(c.artifact_sha256 for c in pred["board"]) == sorted([fp32, int8])
    for c in pred["host"] + pred["board"]:
        assert c.predicted and c.interval_level == 0.8 and c.samples == 0
        lo, hi = c.interval_ms
        assert 0 < lo < c.median_ms < hi
        assert not c.stale          # fitted for profile "host"; board's store has no measurement to compare


def test_predictions_never_enter_frontiers_ties_or_recommendations(predicted_report, half_store) -> None:  # noqa: ANN001
    _, fp32, int8 = half_store
    assert [c.artifact_sha256 for c in predicted_report.frontiers["host"]] == [fp32]
    assert "board" not in predicted_report.frontiers and "board" not in predicted_report.recommendations
    rec = predicted_report.recommendations["host"]
    assert rec.best is not None and rec.best.artifact_sha256 == fp32 and not rec.best.predicted
    assert rec.considered == 1
    assert all(not c.predicted for c in predicted_report.data.candidates)


def test_json_and_csv_label_predictions(predicted_report, half_store) -> None:  # noqa: ANN001
    _, fp32, int8 = half_store
    doc = json.loads(predicted_report.files["json"][0].read_text())
    assert [c["artifact_sha256"] for c in doc["candidates"]] == [fp32]       # existing keys: measured only
    assert all(c["predicted"] is False for c in doc["candidates"])
    assert doc["frontiers"]["latency"] == {"host": [fp32]}
    host = doc["predicted"]["host"]
    assert [p["artifact_sha256"] for p in host] == [int8]
    p = host[0]
    assert p["predicted"] is True and p["pareto"] == "predicted" and p["interval_level"] == 0.8
    assert p["interval_ms"][0] < p["median_ms"] < p["interval_ms"][1] and p["stale"] is False
    assert len(doc["predicted"]["board"]) == 2
    rows = list(csv.DictReader(predicted_report.files["csv"][0].open(encoding="utf-8")))
    pred_rows = [r for r in rows if r["predicted"] == "predicted"]
    assert sorted((r["device"], r["artifact_sha256"]) for r in pred_rows) == sorted(
        [("host", int8), ("board", fp32), ("board", int8)])
    assert all(r["pareto"] == "predicted" and float(r["interval_lo_ms"]) < float(r["median_ms"]) for r in pred_rows)
    measured = [r for r in rows if r["device"] == "host" and r["predicted"] == ""]
    assert [r["artifact_sha256"] for r in measured] == [fp32] and measured[0]["pareto"] in ("front", "tie")


def test_tables_say_predicted(predicted_report) -> None:  # noqa: ANN001
    md = predicted_report.files["md"][0].read_text()
    assert "host: predicted latency (1, not measured)" in md and "board: predicted latency (2, not measured)" in md
    assert "(predicted)" in md and "predicted (for reference)" in md
    html = predicted_report.files["html"][0].read_text()
    assert 'id="predicted-host"' in html and 'id="predicted-board"' in html
    assert "no recommendation from predictions" in html and 'class="card predicted"' in html
    assert "Hollow markers = predicted" in html


def test_plots_draw_predictions_hollow(predicted_report) -> None:  # noqa: ANN001
    svgs = {p.stem: p for p in predicted_report.files["svg"]}
    assert "quality_vs_latency_board" in svgs           # a device with predictions only still gets its plot
    for stem in ("quality_vs_latency_host", "quality_vs_latency_board"):
        text = svgs[stem].read_text()
        assert "predicted (hollow, not measured)" in text and "predicted" in text
        root = ET.fromstring(text)
        # hollow markers: paths with no fill and a coloured stroke (the legend's has a grey one)
        hollow = [e for e in root.iter() if "fill: none" in (e.get("style") or "")
                  and "stroke: #" in (e.get("style") or "") and e.tag.endswith("path")]
        assert hollow, stem
    assert "1 predicted" in svgs["quality_vs_latency_host"].read_text()
    assert "2 predicted" in svgs["quality_vs_latency_board"].read_text()


def test_a_device_without_a_predictor_is_a_config_error(half_store, tmp_path: Path) -> None:  # noqa: ANN001
    store, _, _ = half_store
    with pytest.raises(ConfigError) as err:
        report(store=store, out=tmp_path / "r", formats="json", predict=["pixel9"], predictors=tmp_path / "none")
    assert "pixel9" in err.value.message and "edgekit predict fit --device pixel9" in (err.value.hint or "")


def test_only_predicted_devices_selected(half_store, predictors: Path, tmp_path: Path) -> None:  # noqa: ANN001
    store, fp32, int8 = half_store
    res = report(store=store, out=tmp_path / "r", formats="json", devices=["board"], predict=["board"],
                 predictors=predictors)
    assert res.data.candidates == [] and list(res.data.devices) == []
    assert sorted(c.artifact_sha256 for c in res.predicted["board"]) == sorted([fp32, int8])


def test_cli_predict(half_store, predictors: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    from edgekit.cli.main import main

    store, _, int8 = half_store
    monkeypatch.setenv("EDGEKIT_PREDICTORS", str(predictors))
    monkeypatch.setenv("COLUMNS", "250")
    rc = main(["report", "--store", str(store.path), "-o", str(tmp_path / "cli"), "-f", "json", "--predict", "host",
               "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and [p["artifact_sha256"] for p in doc["predicted"]["host"]] == [int8]
    assert doc["predicted"]["host"][0]["predicted"] is True
    rc = main(["report", "--store", str(store.path), "-o", str(tmp_path / "cli2"), "-f", "md", "--predict", "host"])
    out = capsys.readouterr().out
    assert rc == 0 and "Predicted, not measured" in out and "predicted" in out
    rc = main(["report", "--store", str(store.path), "-o", str(tmp_path / "cli3"), "-f", "md", "--predict", "nope"])
    err = capsys.readouterr().err
    assert rc == 2 and "nope" in err and "hint" in err


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium is not installed")
def test_html_in_chromium(predicted_report) -> None:  # noqa: ANN001
    """Loads without errors; the predicted tables and cards are there (screenshots in _artifacts/)."""
    from tests.report.chromium import inspect_page

    probe = r"""(() => ({
      rows: Object.fromEntries([...document.querySelectorAll('table')].map(t => [t.id, t.tBodies[0].rows.length])),
      predictedCells: [...document.querySelectorAll('td.predicted')].map(e => e.textContent),
      cards: [...document.querySelectorAll('.card.predicted .dev')].map(e => e.textContent),
      decoded: [...document.images].every(i => i.complete && i.naturalWidth > 0),
    }))()"""
    page = inspect_page(predicted_report.files["html"][0].resolve().as_uri(), probe,
                        Path(__file__).parent / "_artifacts", name="predicted_report")
    assert page.errors == [], page.errors
    p = page.probe
    assert p["rows"]["t-predicted-host"] == 1 and p["rows"]["t-predicted-board"] == 2
    assert p["cards"] == ["host — predicted", "board — predicted"] and p["decoded"]
    assert sum("(predicted)" in t for t in p["predictedCells"]) == 3


def test_a_predictor_of_another_runtime_is_marked_stale(half_store, predictors: Path, tmp_path: Path) -> None:  # noqa: ANN001
    import copy

    from edgekit.predict.registry import require_predictor

    store, _, int8 = half_store
    old = copy.copy(require_predictor("host", predictors))
    old.runtime_version = "0.0.1"                  # the host's measurements say ai_edge_litert 2.x
    save_predictor(old, "host", tmp_path / "old")
    res = report(store=store, out=tmp_path / "r", formats="json,md", predict=["host"], predictors=tmp_path / "old")
    [p] = res.predicted["host"]
    assert p.artifact_sha256 == int8 and p.stale and "0.0.1" in p.prediction_warnings[0]
    assert any("may be stale" in n for n in res.data.notes)
    doc = json.loads(res.files["json"][0].read_text())
    assert doc["predicted"]["host"][0]["stale"] is True and doc["predicted"]["host"][0]["warnings"]
    assert "(predicted) ⚠" in res.files["md"][0].read_text()
