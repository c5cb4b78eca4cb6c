"""The pipeline end to end on a tiny slice of digits: an interrupted run, its resumption,
a second run that finds everything cached, the CLI over it, a lab file, and user models.

One real run (TensorFlow training and conversion, LiteRT evaluation, edgekit's runner on
this host) is shared by the tests of this module, in the order a user would meet them.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from edgekit.progress import ProgressEvent
from edgekit.api import run_pipeline
from edgekit.pipeline.result import PipelineResult

pytestmark = pytest.mark.slow

TINY = """\
[pipeline]
name = "tiny"
out = "run"
store = "run/results.sqlite"
seed = 0
[dataset]
kind = "digits"
limit = 300
[family]
widths = [0.1, 0.25]
[train]
recipes = ["baseline", "distillation"]
epochs = 1
teacher_width = 0.5
[convert]
variants = ["fp32", "int8"]
calibration_samples = 50
[measure]
devices = ["host"]
runs = 5
warmup_runs = 2
min_seconds = 0.05
warmup_seconds = 0.02
[report]
formats = ["html", "md", "json"]
"""
STAGES = ["dataset", "teacher", "train", "convert", "evaluate", "measure", "report"]
MODELS = 4          # 2 widths × 2 recipes
ARTIFACTS = 8       # × fp32, int8


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("pipeline")
    (folder / "tiny.toml").write_text(TINY, encoding="utf-8")
    old = os.environ.get("EDGEKIT_CACHE_DIR")
    os.environ["EDGEKIT_CACHE_DIR"] = str(folder / "convert-cache")   # no hits from other tests
    yield folder
    if old is None:
        os.environ.pop("EDGEKIT_CACHE_DIR", None)
    else:
        os.environ["EDGEKIT_CACHE_DIR"] = old


class Interrupt:
    """Records events; raises KeyboardInterrupt once the first model has been measured."""

    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []

    def __call__(self, ev: ProgressEvent) -> None:
        self.events.append(ev)
        if ev.stage == "measure" and ev.done == 1:
            raise KeyboardInterrupt


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as c:
        return int(c.execute(sql).fetchone()[0])


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns
            for sub in ("models", "teachers", "artifacts") for p in (root / sub).rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def interrupted(workdir: Path) -> Interrupt:
    cb = Interrupt()
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(workdir / "tiny.toml", progress=cb)
    return cb


@pytest.fixture(scope="module")
def resumed(workdir: Path, interrupted: Interrupt) -> tuple[PipelineResult, list[ProgressEvent], dict[str, int]]:
    before = _mtimes(workdir / "run")
    events: list[ProgressEvent] = []
    return run_pipeline(workdir / "tiny.toml", progress=events.append), events, before


@pytest.fixture(scope="module")
def cached(workdir: Path, resumed: tuple) -> tuple[PipelineResult, dict[str, int], dict[str, int]]:
    before = _mtimes(workdir / "run")
    result = run_pipeline(workdir / "tiny.toml")
    return result, before, _mtimes(workdir / "run")


def test_interrupted_run_keeps_what_it_finished(workdir: Path, interrupted: Interrupt) -> None:
    run = workdir / "run"
    stages = [e.stage for e in interrupted.events]
    assert [s for s in STAGES if s in stages] == STAGES[:6]           # it stopped in measure
    assert len(list((run / "models").glob("*/train.json"))) == MODELS
    assert len(list((run / "teachers").glob("*/train.json"))) == 1
    assert len(list((run / "artifacts").glob("*/convert.json"))) == MODELS
    db = run / "results.sqlite"
    assert _count(db, "SELECT COUNT(*) FROM measurements WHERE status='ok'") == 1
    assert _count(db, "SELECT COUNT(*) FROM quality") == ARTIFACTS
    assert not (run / "report" / "report.html").exists()


def test_resume_redoes_nothing_that_was_finished(workdir: Path, resumed: tuple) -> None:
    result, events, before = resumed
    assert [s.name for s in result.stages] == STAGES
    assert result.stage("teacher").ran == 0 and result.stage("teacher").cached == 1
    for name in ("train", "convert", "evaluate"):
        assert result.stage(name).ran == 0 and result.stage(name).cached == MODELS, name
    assert result.stage("measure").ran == ARTIFACTS - 1 and result.stage("measure").cached == 1
    assert result.stage("report").ran == 1
    assert not any(e.stage == "train" and e.done and "loss" in e.message for e in events)  # no epoch ran
    after = _mtimes(workdir / "run")
    assert {k: after[k] for k in before} == before                     # trained/converted files untouched
    db = workdir / "run" / "results.sqlite"
    assert _count(db, "SELECT COUNT(*) FROM measurements WHERE status='ok'") == ARTIFACTS
    assert _count(db, "SELECT COUNT(DISTINCT artifact_sha256) FROM measurements") == ARTIFACTS


def test_end_to_end_result_report_and_store(workdir: Path, resumed: tuple) -> None:
    result = resumed[0]
    run = workdir / "run"
    assert result.out_dir == run and result.report_dir == run / "report"
    for name in ("report.html", "report.md", "report.json"):
        assert (run / "report" / name).is_file(), name
    assert {Path(p).name for p in result.report_files["html"]} == {"report.html"}
    assert [m.name for m in result.models] == ["cnn-w0.1-baseline", "cnn-w0.1-distillation",
                                               "cnn-w0.25-baseline", "cnn-w0.25-distillation"]
    assert all(m.params > 0 and 0 <= m.keras_top1 <= 1 for m in result.models)
    assert len(result.manifests) == MODELS
    from edgekit.store.sqlite import SqliteStore as Store

    store = Store(result.store_path)
    try:
        arts = store.artifacts()
        assert len(arts) == ARTIFACTS
        info = {a.extra["model"]["name"]: a.extra["model"] for a in arts}
        assert info["cnn-w0.25-distillation"]["width"] == 0.25
        assert info["cnn-w0.25-distillation"]["family"] == "paper-cnn"
        q = store.quality(metric="top1")
        assert len({r.artifact_sha256 for r in q}) == ARTIFACTS and all(0 <= r.value <= 1 for r in q)
        assert {r.dataset.split(":")[0] for r in q} == {"digits-test"}
        ms = store.measurements(device="host", status="ok")
        assert all(m.settings.threads == 1 and m.settings.runs == 5 and m.stats for m in ms)
    finally:
        store.close()
    rec = result.recommendations["host"]
    assert rec["found"] and rec["variant"] in ("fp32", "int8") and rec["median_ms"] > 0
    assert [s.split(":")[0] for s in result.strategies] == ["Shrink-and-Improve", "Grow-Improve-Shrink"]
    sai = result.strategy_details[0]
    assert sai["from"] == "w=0.25 baseline fp32" and sai["to"] == "w=0.1 distillation int8"
    assert sai["size_ratio"] > 3                                       # smaller width and int8
    assert "host" in sai["speedups"]
    assert [r.width for r in result.param_table] == [0.05, 0.1, 0.25, 0.5, 0.75, 1.0]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["strategies"] == result.strategies
    assert [s["name"] for s in summary["stages"]] == STAGES


def test_second_run_does_no_work(workdir: Path, cached: tuple) -> None:
    result, before, after = cached
    assert not result.did_work
    for s in result.stages:
        assert s.ran == 0 and s.failed == 0, s
        assert s.status == "cached", s
    assert result.stage("measure").cached == ARTIFACTS
    assert after == before                                             # no file rewritten
    db = workdir / "run" / "results.sqlite"
    assert _count(db, "SELECT COUNT(*) FROM measurements") == ARTIFACTS
    assert result.strategies and result.recommendations["host"]["found"]


def test_cli_json_and_summary_over_the_cached_run(workdir: Path, cached: tuple,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.cli.main import main

    assert main(["run", str(workdir / "tiny.toml"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "edgekit.pipeline-result"
    assert {s["status"] for s in doc["stages"]} == {"cached"}
    assert doc["recommendations"]["host"]["found"]
    assert main(["run", str(workdir / "tiny.toml")]) == 0
    out = capsys.readouterr().out
    assert "Shrink-and-Improve" in out and "Grow-Improve-Shrink" in out
    assert "Recommended model per device" in out
    assert str(workdir / "run" / "report" / "report.html") in out.replace("\n", "")


def test_measuring_through_a_lab_file(workdir: Path, cached: tuple) -> None:
    lab_run = workdir / "lab-run"
    shutil.copytree(workdir / "run", lab_run)
    (workdir / "lab.toml").write_text('[lab]\nname = "tiny-lab"\ncheck_load = false\n\n'
                                      '[defaults]\nruns = 4\n\n[[device]]\nname = "host"\nprofile = "host"\n')
    text = TINY.replace('out = "run"', 'out = "lab-run"').replace('devices = ["host"]', 'lab = "lab.toml"')
    (workdir / "tiny-lab.toml").write_text(text)
    result = run_pipeline(workdir / "tiny-lab.toml")
    assert result.stage("train").ran == 0 and result.stage("convert").ran == 0
    assert result.stage("measure").ran == ARTIFACTS                    # new settings (runs = 4)
    derived = (lab_run / "lab" / "lab.toml").read_text()
    assert "[[job]]" in derived and "manifest.json" in derived
    db = workdir / "run" / "results.sqlite"                       # [pipeline] store names the same store
    assert _count(db, "SELECT COUNT(*) FROM jobs WHERE state='done'") == ARTIFACTS
    again = run_pipeline(workdir / "tiny-lab.toml")
    assert again.stage("measure").ran == 0 and again.stage("measure").cached == ARTIFACTS


def test_user_models_enter_the_pipeline(tmp_path: Path, tiny_models, workdir: Path) -> None:
    from tests.conftest import _tiny_data

    x, y = _tiny_data(5, 160)
    xt, yt = _tiny_data(6, 40)
    np.savez(tmp_path / "quadrants.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    (tmp_path / "user.toml").write_text(f"""
[pipeline]
out = "run"
[dataset]
kind = "npz"
path = "quadrants.npz"
[family]
models = ["{tiny_models.keras_path}"]
[train]
recipes = ["none", "baseline"]
epochs = 1
[convert]
variants = ["fp32"]
[measure]
runs = 3
warmup_runs = 1
min_seconds = 0.02
warmup_seconds = 0.01
[report]
formats = ["md"]
""")
    result = run_pipeline(tmp_path / "user.toml")
    assert [m.name for m in result.models] == ["tiny", "tiny-baseline"]
    assert result.stage("train").ran == 1 and result.stage("train").cached == 1
    assert result.stage("measure").ran == 2
    assert (tmp_path / "run" / "report" / "report.md").is_file()
    assert result.strategies == [] and any("two widths" in n for n in result.notes)
    given = [m for m in result.models if m.recipe == "none"][0]
    assert given.path == tiny_models.keras_path
    # no [pipeline] store: the run wrote the default store, so `edgekit report` right after it finds it
    assert result.store_path == os.environ["EDGEKIT_STORE"]
    from edgekit.cli.main import main

    assert main(["report", "-o", str(tmp_path / "rep"), "-f", "json", "--run", str(tmp_path / "run")]) == 0
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert sorted({c["model"] for c in doc["models"]}) == ["tiny", "tiny-baseline"]
