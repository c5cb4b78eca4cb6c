"""``edgekit lab`` end to end: the example lab on this host, the gate's exit codes, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def edgekit(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgekit.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns(".edgekit"))
    return folder


def test_example_host_lab_runs_and_gates(examples, tmp_path):
    lab = examples / "lab-host.toml"
    lab.write_text(lab.read_text().replace("runs = 30", "runs = 5").replace("min_seconds = 0.5", "min_seconds = 0")
                   .replace("cooldown_seconds = 1", "cooldown_seconds = 0\ncheck_load = false"))  # a shared CI box
    out = tmp_path / "out"
    r = edgekit("lab", "run", str(lab), "--junit", str(out / "lab.xml"), "--json", str(out / "lab.json"),
                "--markdown", str(out / "lab.md"), "--progress", "jsonl")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((out / "lab.json").read_text())
    assert doc["schema"] == 1 and doc["kind"] == "edgekit.lab-results"
    assert doc["counts"] == {"total": 3, "done": 3, "failed": 0, "unfinished": 0}
    assert {j["name"] for j in doc["jobs"]} == {"small_cnn_fp32[fp32] on host", "small_cnn_int8[int8] on host",
                                               "small_cnn_fp32[fp32] on host (threads=2)"}
    assert all(j["latency"]["count"] == 5 for j in doc["jobs"])
    assert doc["gate"]["passed"] and doc["gate"]["counts"] == {"new": 3}
    events = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert sum(e["stage"] == "lab.done" for e in events) == 3
    assert ET.parse(out / "lab.xml").getroot().get("tests") == "3"
    assert "small_cnn_int8[int8] on host" in (out / "lab.md").read_text()
    assert (examples / ".edgekit" / "results.sqlite").is_file()          # store relative to the lab file
    # the same lab again: refused without --resume/--fresh, nothing measured twice with --resume
    again = edgekit("lab", "run", str(lab), "--progress", "none")
    assert again.returncode == 2 and "already has run 1" in " ".join(again.stderr.split())
    assert "--resume" in again.stderr
    resumed = edgekit("lab", "run", str(lab), "--resume", "--progress", "none", "--json", "-")
    assert resumed.returncode == 0
    assert [j["measurement_id"] for j in json.loads(resumed.stdout)["jobs"]] == [j["measurement_id"]
                                                                               for j in doc["jobs"]]
    status = edgekit("lab", "status", str(lab), "--json")
    assert json.loads(status.stdout)["counts"]["done"] == 3

    # the gate: the run against itself passes; a copy slower by far more than any margin fails
    same = edgekit("lab", "gate", str(out / "lab.json"), "--baseline", str(out / "lab.json"))
    assert same.returncode == 0 and "gate passed" in same.stdout
    slow = json.loads((out / "lab.json").read_text())
    deltas = {}
    for j in slow["jobs"]:
        lat = j["latency"]
        deltas[j["name"]] = 10 * max(lat["median_us"], lat["p90_us"] - lat["p10_us"])   # > 3·√2·spread, > 5%
        for k in ("median_us", "p10_us", "p90_us"):
            lat[k] += deltas[j["name"]]
    (out / "slow.json").write_text(json.dumps(slow))
    gated = edgekit("lab", "gate", str(out / "slow.json"), "--baseline", str(out / "lab.json"),
                    "--markdown", str(out / "gate.md"), "--json", "-")
    assert gated.returncode == 1
    verdicts = json.loads(gated.stdout)["gate"]["verdicts"]
    assert {v["status"] for v in verdicts} == {"regressed"}
    for v in verdicts:
        base = next(j for j in doc["jobs"] if j["name"] == v["name"])["latency"]
        assert v["margin_us"] > 0 and v["median_us"] - v["baseline_us"] == pytest.approx(deltas[v["name"]])
        assert v["delta_pct"] == pytest.approx(deltas[v["name"]] / base["median_us"] * 100)
    assert "❌ 3 failing" in (out / "gate.md").read_text()


def test_mixed_example_validates(examples):
    (examples / "bin").mkdir()
    (examples / "bin" / "benchmark_model-arm64").write_bytes(b"\x7fELF")
    r = edgekit("lab", "check", str(examples / "lab-mixed.toml"), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    keys = {d["name"]: d["key"] for d in doc["devices"]}
    assert keys["pixel3-a"] == "adb-server:lab-host-1:5037/8XV7N18A1"
    assert keys["pixel3-c"] == "adb-server:lab-host-2:5037/93KAY0BBR1"
    assert keys["coral-1"] == "ssh:mendel@10.0.2.21:22" and keys["jetson-1"] == "ssh:jetson@10.0.2.31:22"
    parked = {d["name"]: d["keep_runner_s"] for d in doc["devices"]}
    assert parked["coral-1"] == 600 and parked["jetson-1"] == 0
    assert all(j["baseline"] is None for j in doc["jobs"])
    names = sorted(j["name"] for j in doc["jobs"])
    assert names == ["small_cnn_fp32[fp32] on pixel3", "small_cnn_fp32[fp32] on pixel3 (xnnpack)",
                     "small_cnn_int8[int8] on coral-1", "small_cnn_int8[int8] on jetson-1",
                     "small_cnn_int8[int8] on pixel3"]


@pytest.mark.parametrize("body, message", [
    ('[lab]\nname = "x"\nstore = "STORE"\n[[device]]\nname = "a"\nprofile = "pixel9"\n', "unknown profile 'pixel9'"),
    ('[lab]\nname = "x"\nstore = "STORE"\n[[device]\nname = "a"\n', "is not valid TOML"),
])
def test_bad_lab_file_exits_2_before_anything_runs(tmp_path, body, message):
    lab = tmp_path / "lab.toml"
    lab.write_text(body.replace("STORE", str(tmp_path / "s.sqlite")))
    r = edgekit("lab", "run", str(lab))
    assert r.returncode == 2
    text = " ".join(r.stderr.split())            # Rich wraps long lines
    assert text.startswith("error: ") and message in text
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "s.sqlite").exists() and not (tmp_path / ".edgekit").exists()


def test_resume_and_fresh_exclude_each_other(examples, tmp_path):
    r = edgekit("lab", "run", str(examples / "lab-host.toml"), "--resume", "--fresh", "--store",
                str(tmp_path / "s.sqlite"))
    assert r.returncode == 2 and "--resume and --fresh exclude each other" in " ".join(r.stderr.split())


def test_ctrl_c_requeues_the_running_job_and_releases_the_device(examples):
    import signal
    import sqlite3

    lab = examples / "lab-host.toml"
    lab.write_text(lab.read_text().replace("min_seconds = 0.5", "min_seconds = 6")
                   .replace("cooldown_seconds = 1", "cooldown_seconds = 0\ncheck_load = false"))
    proc = subprocess.Popen([sys.executable, "-m", "edgekit.cli.main", "lab", "run", str(lab), "--progress", "plain"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while "[job]" not in proc.stderr.readline():   # a job is running (its runner takes 6 s)
        assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    db = sqlite3.connect(examples / ".edgekit" / "results.sqlite")
    states = sorted(db.execute("SELECT state, COALESCE(error, '') FROM jobs").fetchall())
    assert states == [("queued", ""), ("queued", ""), ("queued", "controller stopped; re-run on resume")]
    assert db.execute("SELECT COUNT(*) FROM device_leases").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 0
