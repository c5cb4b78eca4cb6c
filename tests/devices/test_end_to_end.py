"""Every device kind, the whole way: ``edgekit deploy`` → store → ``edgekit report`` (its HTML
opened in headless Chromium, no console errors) → ``edgekit lab run`` (JUnit, Markdown, JSON) →
``edgekit lab gate`` — with no traceback anywhere.

Kinds: the host (local transport, edgekit's runner), an SSH board (a real sshd on loopback), a
phone (the protocol-faithful fake adbd with the stand-in ``benchmark_model``, one test per
output format it has printed: aggregate-only results, with or without a median), and the Coral
stand-in (no Edge TPU here: its refusal travels downstream as a failed measurement). Runs are
short: the path is under test, not the latency.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.devices.conftest import fake_adbd  # noqa: F401 - fixture
from tests.fakes.fake_adbd import FakeAdbd
from tests.fakes.fake_benchmark_model import write_fake
from tests.farm.conftest import BOARD_WORKDIR, boards, farm_models, write_profile  # noqa: F401 - fixtures
from tests.arm64_board import arm64_board_fixture  # noqa: F401 - fixture
from tests.report.chromium import CHROMIUM, inspect_page

pytestmark = pytest.mark.timeout(420)

REPO = Path(__file__).resolve().parents[2]
QUICK_FLAGS = ["--runs", "5", "--warmup", "1", "--min-seconds", "0", "--warmup-seconds", "0", "--max-seconds", "30"]
QUICK_LAB = "runs = 5\nwarmup_runs = 1\nwarmup_seconds = 0.0\nmin_seconds = 0.0\nmax_seconds = 30.0\n"
PROBE = "({title: document.title, svgs: document.querySelectorAll('img, svg').length, text: document.body.innerText})"


def edgekit(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "edgekit.cli.main", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def no_traceback(*runs: subprocess.CompletedProcess[str]) -> None:
    for r in runs:
        assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr


def whole_way(tmp: Path, device: str, profiles: Path, models: list[Path], lab_devices: str,
              deploy_extra: tuple[str, ...] = (), expect_ok: bool = True, lab_extra: str = "",
              judged: bool = True) -> dict:
    """deploy → store → report (+ Chromium) → lab run → lab gate; returns the lab's results JSON."""
    store = tmp / "results.sqlite"
    dep = edgekit("deploy", "-d", device, "--profiles", str(profiles), "--store", str(store), "--json",
                  *QUICK_FLAGS, *deploy_extra, *map(str, models))
    no_traceback(dep)
    doc = json.loads(dep.stdout)                                   # one JSON document, ok or not
    if expect_ok:
        assert dep.returncode == 0, dep.stderr
        assert [m["status"] for m in doc] == ["ok"] * len(models)
    with sqlite3.connect(store) as db:
        assert db.execute("select count(*) from measurements").fetchone()[0] == len(models)

    out = tmp / "report"
    rep = edgekit("report", "--store", str(store), "--out", str(out))
    no_traceback(rep)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    report_json = json.loads((out / "report.json").read_text())
    html = out / "report.html"
    assert html.is_file() and (out / "report.md").is_file() and (out / "report.csv").is_file()
    if Path(CHROMIUM).exists():
        page = inspect_page(html.resolve().as_uri(), PROBE, tmp / "shots", name=device)
        assert page.errors == [], page.errors
        assert device in page.probe["text"]

    lab = tmp / "lab.toml"
    lab.write_text(f'[lab]\nname = "e2e-{device}"\nstore = "{tmp / "lab.sqlite"}"\nprofiles = ["{profiles}"]\n'
                   f"check_load = false\nunhealthy_seconds = 1\nretries = 0\n{lab_extra}\n[defaults]\n{QUICK_LAB}\n"
                   f"{lab_devices}\n[[job]]\nmodels = {json.dumps([str(m) for m in models])}\n"
                   f'devices = ["{device}"]\n')
    res = tmp / "lab"
    run = edgekit("lab", "run", str(lab), "--junit", str(res / "lab.xml"), "--json", str(res / "lab.json"),
                  "--markdown", str(res / "lab.md"), "--progress", "none")
    no_traceback(run)
    assert run.returncode == (0 if expect_ok else 1), run.stdout + run.stderr
    results = json.loads((res / "lab.json").read_text())
    junit = ET.parse(res / "lab.xml").getroot()
    assert junit.get("tests") == str(len(models))
    assert junit.get("failures") == ("0" if expect_ok else str(len(models)))
    assert f"on {device}" in (res / "lab.md").read_text()

    gate = edgekit("lab", "gate", str(res / "lab.json"), "--baseline", str(res / "lab.json"), "--json", "-",
                   "--junit", str(res / "gate.xml"), "--markdown", str(res / "gate.md"))
    no_traceback(gate)
    assert gate.returncode == (0 if expect_ok else 1), gate.stdout + gate.stderr
    gated = json.loads(gate.stdout)["gate"]
    if expect_ok and judged:
        assert {v["status"] for v in gated["verdicts"]} == {"pass"}
    elif expect_ok:   # a mean-only run: judged, or explicitly "cannot-judge" and passed by the lab's setting
        assert {v["status"] for v in gated["verdicts"]} <= {"pass", "cannot-judge"}
        assert all(v["reason"].startswith("cannot judge: aggregate-only") for v in gated["verdicts"]
                   if v["status"] == "cannot-judge")
    results["report"] = report_json
    results["deploy"] = doc
    return results


def test_host(tmp_path: Path, farm_models) -> None:  # noqa: ANN001
    write_profile(tmp_path / "profiles", "e2ehost", f'kind = "host"\ntransport = "local"\nrunner = "edgekit-runner"\n'
                  f'python = "{sys.executable}"\nmax_temp_c = 200.0\nworkdir = "{tmp_path / "work"}"\n')
    res = whole_way(tmp_path, "e2ehost", tmp_path / "profiles", [farm_models.fp32, farm_models.int8],
                    '[[device]]\nname = "e2ehost"\nprofile = "e2ehost"\n')
    for job in res["jobs"]:
        lat = job["latency"]
        assert lat["statistic"] == "median" and lat["spread"] == "p10-p90" and lat["p10_us"] <= lat["median_us"]


def test_ssh_board(tmp_path: Path, farm_models, boards) -> None:  # noqa: ANN001,F811
    lab = boards(1)
    board = lab.boards[0]
    import getpass

    write_profile(tmp_path / "profiles", "e2eboard", f'kind = "board"\ntransport = "ssh"\nrunner = "edgekit-runner"\n'
                  f'python = "{sys.executable}"\nworkdir = "{BOARD_WORKDIR}"\nmax_temp_c = 200.0\n[connection]\n'
                  f'host = "{board.host}"\nport = {board.port}\nuser = "{getpass.getuser()}"\nkey = "{lab.key}"\n'
                  f'known_hosts = "{lab.known_hosts}"\n')
    res = whole_way(tmp_path, "e2eboard", tmp_path / "profiles", [farm_models.int8],
                    '[[device]]\nname = "e2eboard"\nprofile = "e2eboard"\n')
    assert res["jobs"][0]["latency"]["count"] >= 5


def phone_profile(folder: Path, adbd: FakeAdbd, binary: Path) -> Path:
    return write_profile(folder, "e2ephone", "\n".join([
        'kind = "phone"', 'transport = "adb"', 'os = "linux"', 'abi = "x86_64"', 'runner = "benchmark_model"',
        'big_cores = "1"', 'delegates = ["cpu", "xnnpack"]', f'workdir = "{adbd.root}/data/local/tmp/edgekit"',
        f'benchmark_binary = "{binary}"', "max_temp_c = 200.0", "[connection]", f'host = "{adbd.host}"',
        f"port = {adbd.port}", f'key = "{folder.parent}/adbkey"']) + "\n")


#: per format: the statistic the report ranks by, the spread the tool printed, the centre (µs)
PHONE_FORMATS = {
    "new": ("median", "p5-p95", 42405.0),
    "old-stats": ("mean", "std", 3162.37),
    "oldest": ("mean", "std", 79760.9),
    "litert": ("mean", "std", 42440.0),
}


@pytest.mark.parametrize("fmt", sorted(PHONE_FORMATS))
def test_phone_every_benchmark_model_format(fmt: str, tmp_path: Path, fake_adbd: FakeAdbd,  # noqa: F811
                                            farm_models) -> None:  # noqa: ANN001
    stat, spread, centre = PHONE_FORMATS[fmt]
    profiles = tmp_path / "profiles"
    phone_profile(profiles, fake_adbd, write_fake(tmp_path / "bin", fmt))
    # ADB over TCP given as host:port on the command line, as `adb connect` takes it
    res = whole_way(tmp_path, "e2ephone", profiles, [farm_models.fp32, farm_models.int8],
                    '[[device]]\nname = "e2ephone"\nprofile = "e2ephone"\n',
                    deploy_extra=("--host", f"{fake_adbd.host}:{fake_adbd.port}"),
                    lab_extra='gate_aggregate_only = "pass"', judged=stat == "median")
    for m in res["deploy"]:
        assert m["runner"] == "benchmark_model" and m["samples_us"] == [] and "aggregate-only" in m["flags"]
        assert m["raw"]["format"] == fmt
    for job in res["jobs"]:
        lat = job["latency"]
        assert (lat["statistic"], lat["spread"], lat["aggregate_only"]) == (stat, spread, True)
        assert lat["centre_us"] == pytest.approx(centre)
        assert lat["p10_us"] is None and lat["p90_us"] is None         # never invented
        assert (lat["median_us"] is None) == (stat == "mean") and lat["noise_us"] > 0
    cands = [c for c in res["report"]["candidates"] if c["device"] == "e2ephone"]
    assert len(cands) == 2
    for c in cands:
        assert c["latency_stat"] == stat and c["spread"] == spread
        assert (c["median_ms"] if stat == "median" else c["mean_ms"]) == pytest.approx(centre / 1000)


def test_phone_gate_cannot_judge_a_run_without_spread(tmp_path: Path) -> None:
    """A run that printed an average alone: the gate says it cannot judge, and the lab decides."""
    from edgekit.farm.gate import GateSettings, check

    lat = {"median_us": None, "mean_us": 1000.0, "p10_us": None, "p90_us": None, "noise_us": None,
           "statistic": "mean", "spread": "", "count": 50}
    doc = {"jobs": [{"name": "m[fp32] on phone", "state": "done", "latency": lat, "settings": {}}]}
    failing = check(doc, doc).verdicts[0]
    assert failing.status == "cannot-judge" and failing.failing and "aggregate-only" in failing.reason
    passing = check(doc, doc, GateSettings(aggregate_only="pass")).verdicts[0]
    assert passing.status == "cannot-judge" and not passing.failing
    # a mean is never compared with a median
    base = {"jobs": [{**doc["jobs"][0], "latency": {**lat, "median_us": 990.0, "noise_us": 5.0}}]}
    assert check({"jobs": [{**doc["jobs"][0], "latency": {**lat, "noise_us": 5.0}}]}, base).verdicts[0].status \
        == "cannot-judge"


def test_coral_stand_in_refusal_travels_downstream(tmp_path: Path, farm_models) -> None:  # noqa: ANN001
    """No Edge TPU here: the Coral profile's edgekit runner has no libedgetpu delegate, so an Edge TPU
    job can go no further than the refusal — which must reach the store, the report, JUnit and the
    gate as a failed measurement, cleanly."""
    from tests.fakes.fake_benchmark_model import __file__ as _  # noqa: F401 - the fakes folder exists
    compiler = REPO / "tests" / "fakes" / "edgetpu_compiler"
    out = tmp_path / "tpu"
    comp = subprocess.run([sys.executable, str(compiler), "-o", str(out), str(farm_models.int8)],
                          capture_output=True, text=True, timeout=120)
    assert comp.returncode == 0, comp.stdout + comp.stderr
    [tpu_model] = out.glob("*_edgetpu.tflite")
    write_profile(tmp_path / "profiles", "e2ecoral", f'kind = "accelerator"\ntransport = "local"\n'
                  f'runner = "edgekit-runner"\npython = "{sys.executable}"\ndelegates = ["edgetpu", "cpu"]\n'
                  f'max_temp_c = 200.0\nworkdir = "{tmp_path / "work"}"\nedgetpu_runtime_version = 14\n')
    res = whole_way(tmp_path, "e2ecoral", tmp_path / "profiles", [tpu_model],
                    '[[device]]\nname = "e2ecoral"\nprofile = "e2ecoral"\n', expect_ok=False)
    [job] = res["jobs"]
    assert job["state"] == "failed" and job["error"]
    assert res["report"]["failed"] and res["report"]["failed"][0]["device"] == "e2ecoral"
    assert res["deploy"]["error"]["exit_code"] in (4, 5, 6) and res["deploy"]["error"]["message"]


def test_lab_setting_gate_aggregate_only_is_checked(tmp_path: Path, farm_models) -> None:  # noqa: ANN001
    from edgekit.errors import ConfigError
    from edgekit.farm.labfile import load_lab

    def lab(value: str) -> Path:
        path = tmp_path / "lab.toml"
        path.write_text(f'[lab]\nname = "x"\ngate_aggregate_only = "{value}"\n[[device]]\nname = "host"\n'
                        f'profile = "host"\n[[job]]\nmodels = ["{farm_models.fp32}"]\ndevices = ["host"]\n')
        return path

    assert load_lab(lab("pass")).gate_aggregate_only == "pass"
    with pytest.raises(ConfigError, match="gate_aggregate_only = 'maybe'"):
        load_lab(lab("maybe"))


@pytest.mark.arm64
def test_emulated_arm64_board(tmp_path: Path, farm_models, arm64_board) -> None:  # noqa: ANN001,F811
    """The aarch64 board (Debian arm64 root under qemu-user behind a real sshd) the whole way:
    its measurements are flagged emulated, shown in the report, kept out of every frontier."""
    arm64_board.write_profile("rpi4-emulated", name="e2earm64", max_temp_c=200.0)
    res = whole_way(tmp_path, "e2earm64", arm64_board.profiles_dir, [farm_models.int8],
                    '[[device]]\nname = "e2earm64"\nprofile = "e2earm64"\n')
    (m,) = res["deploy"]
    assert m["facts"].get("machine", m["facts"].get("abi")) in ("aarch64", "arm64") and "emulated" in m["flags"]
    here = [c for c in res["report"]["candidates"] if c["device"] == "e2earm64"]
    assert here and all(c["pareto"].startswith("excluded: measured on an emulated CPU") for c in here)
    assert res["jobs"][0]["state"] == "done" and "emulated" in (res["jobs"][0].get("flags") or ["emulated"])
