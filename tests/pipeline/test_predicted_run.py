"""``edgekit run`` with a device that cannot be reached: with a fitted predictor its latencies
are predicted and labelled so in the run's report and summary; without one the run is as before.

One tiny real run (digits, one width with channels rounded to multiples of 8, fp32 + int8)
measured on this host and on an SSH board whose port is closed; the predictor is fitted in
the test on a few small CNNs measured on this host.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from edgekit.api import run_pipeline
from edgekit.predict.registry import save_predictor
from edgekit.recipes.family import flat_channels
from edgekit.tflite.kernels import detect_kernels
from tests.devices.conftest import free_port
from tests.report.predictor_helpers import fit_host_predictor

pytestmark = pytest.mark.slow

PIPELINE = """\
[pipeline]
name = "dead-board"
out = "{out}"
store = "{out}/results.sqlite"
[dataset]
kind = "digits"
limit = 200
[family]
widths = [0.1]
channel_multiple = 8
[train]
recipes = ["baseline"]
epochs = 1
[convert]
variants = ["fp32", "int8"]
calibration_samples = 30
[measure]
devices = ["host", "deadboard"]
profiles = ["profiles"]
runs = 5
warmup_runs = 2
min_seconds = 0.02
warmup_seconds = 0.01
[report]
formats = ["html", "md", "json", "csv", "svg"]
"""

BOARD = """\
name = "deadboard"
kind = "board"
transport = "ssh"
os = "linux"
abi = "x86_64"
runner = "edgekit-runner"
python = "python3"
workdir = "~/.cache/edgekit/work"
[connection]
host = "127.0.0.1"
user = "nobody"
port = {port}
"""


LAB = """\
[lab]
name = "dead-lab"
profiles = ["profiles"]
check_load = false

[[device]]
name = "host"
profile = "host"

[[device]]
name = "deadboard-2"
profile = "deadboard"
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dead_board")
    (root / "profiles").mkdir()
    (root / "profiles" / "deadboard.toml").write_text(BOARD.format(port=free_port()), encoding="utf-8")
    for out in ("with", "without"):
        (root / f"{out}.toml").write_text(PIPELINE.format(out=out), encoding="utf-8")
    (root / "lab.toml").write_text(LAB, encoding="utf-8")
    (root / "in-lab.toml").write_text(
        PIPELINE.format(out="in-lab").replace('devices = ["host", "deadboard"]\nprofiles = ["profiles"]\n',
                                              'lab = "lab.toml"\n')
        + 'predictors = "lab-predictors"\n', encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def env(folder: Path) -> None:
    old = {k: os.environ.get(k) for k in ("EDGEKIT_CACHE_DIR", "EDGEKIT_PREDICTORS")}
    os.environ["EDGEKIT_CACHE_DIR"] = str(folder / "convert-cache")
    os.environ["EDGEKIT_PREDICTORS"] = str(folder / "predictors")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def without(folder: Path, env: None):  # noqa: ANN201
    """No predictor fitted yet: the run is as it always was."""
    return run_pipeline(folder / "without.toml")


@pytest.fixture(scope="module")
def with_predictor(folder: Path, env: None, without):  # noqa: ANN001, ANN201
    save_predictor(fit_host_predictor(folder / "predictor-models", device="deadboard"), "deadboard")
    return run_pipeline(folder / "with.toml")


def test_without_a_predictor_nothing_is_predicted(without) -> None:  # noqa: ANN001
    assert without.predicted == {}
    assert any(n.startswith("deadboard: measuring failed") for n in without.notes)
    doc = json.loads((without.report_dir / "report.json").read_text())
    assert doc["predicted"] == {} and doc["devices"]["deadboard"]["ok"] == 0   # its failed runs only
    assert "predicted" not in (without.report_dir / "report.md").read_text()


def test_unreachable_device_is_predicted_and_labelled(with_predictor) -> None:  # noqa: ANN001
    res = with_predictor
    assert list(res.predicted) == ["deadboard"]
    points = res.predicted["deadboard"]
    assert sorted(p["variant"] for p in points) == ["fp32", "int8"]
    for p in points:
        assert p["predicted"] is True and p["predicted_ms"] > 0 and p["interval_level"] == 0.8
    assert any("deadboard: could not be reached" in n and "predicted" in n for n in res.notes)
    summary = json.loads((res.out_dir / "summary.json").read_text())
    assert summary["predicted"] == res.predicted
    # the report: predicted points apart, labelled, never recommended; host measured as usual
    assert res.recommendations["host"]["found"]
    assert not res.recommendations["deadboard"]["found"] and res.recommendations["deadboard"]["considered"] == 0
    doc = json.loads((res.report_dir / "report.json").read_text())
    assert {c["device"] for c in doc["candidates"]} == {"host"}
    assert [p["pareto"] for p in doc["predicted"]["deadboard"]] == ["predicted", "predicted"]
    assert "deadboard: predicted latency (2, not measured)" in (res.report_dir / "report.md").read_text()
    svg = (res.report_dir / "plots" / "quality_vs_latency_deadboard.svg").read_text()
    assert "predicted (hollow, not measured)" in svg
    html = (res.report_dir / "report.html").read_text()
    cards = html.split('<div class="cards">', 1)[1].split("</div></div></div>", 1)[0]
    assert "deadboard — predicted" in cards and "no candidates" not in cards   # its predicted card only


def test_channel_multiple_reaches_the_model_and_the_report(with_predictor) -> None:  # noqa: ANN001
    res = with_predictor
    want = flat_channels(0.1, 8)
    assert want == [32, 32, 8, 8, 16, 16, 16, 24, 24, 16]       # 0.1 × (64, 128, 256, 128), rounded to 8
    [model] = res.models
    assert model.name == "cnn-w0.1-m8-baseline"
    doc = json.loads((res.report_dir / "report.json").read_text())
    fp32 = next(m for m in doc["models"] if m["variant"] == "fp32")
    assert fp32["channels"] == want and fp32["channel_multiple"] == 8 and fp32["family"] == "paper-cnn-m8"
    path = next(Path(m) for m in res.manifests).parent / "cnn-w0.1-m8-baseline_fp32.tflite"
    kernels = detect_kernels(path)
    convs = [k.cout for k in kernels if k.type == "conv"]
    dense = [k.cout for k in kernels if k.type in ("fc", "dense", "fully_connected")]
    assert convs == want[:-1], kernels
    assert dense[:1] == want[-1:]
    html = (res.report_dir / "report.html").read_text()
    assert "÷8 32·32·8·8·16·16·16·24·24·16" in html            # the layout table shows the widths


def test_a_second_run_reuses_the_report_and_still_says_predicted(folder: Path, with_predictor) -> None:  # noqa: ANN001
    again = run_pipeline(folder / "with.toml")
    assert again.stage("report").cached == 1 and again.stage("report").ran == 0
    assert again.predicted == with_predictor.predicted
    assert any("deadboard: could not be reached" in n for n in again.notes)


def test_an_unreachable_lab_device_is_predicted_from_the_pipelines_predictor_folder(
        folder: Path, env: None, with_predictor) -> None:  # noqa: ANN001
    """[measure] lab: a lab device that leaves the rotation unreachable is predicted too, with the
    predictor found in [report] predictors (here the only folder that has one for it)."""
    (folder / "lab-predictors").mkdir(exist_ok=True)
    shutil.copy(folder / "predictors" / "deadboard.predictor", folder / "lab-predictors" / "deadboard-2.predictor")
    assert not (folder / "predictors" / "deadboard-2.predictor").exists()
    res = run_pipeline(folder / "in-lab.toml")
    assert list(res.predicted) == ["deadboard-2"] and len(res.predicted["deadboard-2"]) == 2
    assert res.recommendations["host"]["found"]
    assert any("deadboard-2: could not be reached" in n for n in res.notes)
    doc = json.loads((res.report_dir / "report.json").read_text())
    assert list(doc["predicted"]) == ["deadboard-2"] and {c["device"] for c in doc["candidates"]} == {"host"}
