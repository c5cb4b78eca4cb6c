"""A/B lab jobs: a candidate and its in-run baseline, in interleaved sessions on this host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.errors import ConfigError
from edgekit.farm.gate import GateSettings, check
from edgekit.farm.interleave import ab_order
from edgekit.farm.lab import Lab
from edgekit.farm.labfile import load_lab
from edgekit.farm.labmodels import AB_DEFAULT_REPEAT
from edgekit.farm.results import write_results
from edgekit.store.sqlite import SqliteStore as Store

REPO = Path(__file__).resolve().parents[2]


def lab_toml(folder: Path, jobs: str, name: str = "ab") -> Path:
    path = folder / "lab.toml"
    path.write_text(f'[lab]\nname = "{name}"\nstore = "results.sqlite"\ncheck_load = false\ncooldown_seconds = 0\n\n'
                    '[defaults]\nruns = 5\nmin_seconds = 0\nwarmup_runs = 2\nwarmup_seconds = 0\n\n'
                    '[[device]]\nname = "host"\nprofile = "host"\n' + jobs, encoding="utf-8")
    return path


def edgekit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "240"}   # the table's rule column unabridged
    return subprocess.run([sys.executable, "-m", "edgekit.cli.main", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=env)


def test_ab_order_alternates_which_model_goes_first():
    assert ab_order(3) == [("baseline", 0), ("candidate", 0), ("candidate", 1), ("baseline", 1),
                           ("baseline", 2), ("candidate", 2)]


def test_ab_job_measures_both_interleaved_stores_both_once_and_gates_without_a_baseline_file(tmp_path, farm_models):
    path = lab_toml(tmp_path, f'\n[[job]]\nmodels = ["{farm_models.fp32}"]\nbaseline = "{farm_models.int8}"\n'
                              'devices = ["host"]\nrepeat = 3\n')
    lab = Lab.load(path)
    (planned,) = lab.jobs
    assert planned.baseline is not None and planned.baseline.variant == "int8" and planned.settings.repeat == 3
    run = lab.run()
    doc = run.results()
    lab.store.close()
    assert run.counts["done"] == 1 and run.counts["failed"] == 0, doc
    (job,) = doc["jobs"]
    base = job["baseline"]
    assert base["variant"] == "int8" and base["latency"]["count"] == 15
    assert job["latency"]["count"] == 15                       # 3 sessions × 5 runs, pooled
    assert [s["pair"] for s in job["sessions"]] == [s["pair"] for s in base["sessions"]] == [0, 1, 2]

    # the store: exactly the two measurements of this job, the candidate the job's own
    store = Store(tmp_path / "results.sqlite")
    rows = store.query("SELECT id, job_id, artifact_sha256 FROM measurements")
    assert len(rows) == 2 and {r["job_id"] for r in rows} == {job["id"]}
    by_id = {r["id"]: r["artifact_sha256"] for r in rows}
    assert by_id[job["measurement_id"]] == job["artifact_sha256"]
    assert by_id[base["measurement_id"]] == base["artifact_sha256"] != job["artifact_sha256"]
    cand = store.measurement(job["measurement_id"])
    stored_base = store.measurement(base["measurement_id"])
    store.close()
    assert cand.raw["baseline_measurement_id"] == stored_base.id and "baseline" not in cand.raw
    assert len(stored_base.samples_us) == 15 and stored_base.device == "host"
    # edgekit's runner measured each pair in ONE process, alternating inference by inference:
    # the pair's two sessions share their start and end, and pair i ran before pair i + 1
    assert cand.raw["interleaved"] == {"pairs": 3, "order": "inference"}
    for b, c in zip(base["sessions"], job["sessions"]):
        assert b["started_at"] == c["started_at"] and b["finished_at"] == c["finished_at"]
    assert [s["started_at"] for s in job["sessions"]] == sorted(s["started_at"] for s in job["sessions"])
    assert doc["jobs"][0]["sessions"][0]["count"] == base["sessions"][0]["count"]

    report = check(doc, None, GateSettings())
    (v,) = report.verdicts
    assert base["interleaved"] == "inference"
    assert v.rule == "paired, 3 interleaved sessions, inference by inference" and v.change_ci_pct is not None
    assert v.status in ("pass", "regressed") and v.baseline_us == base["latency"]["median_us"]

    # the CLI gates the results file without --baseline, printing the paired rule
    results = write_results(tmp_path / "results.json", doc)
    r = edgekit("lab", "gate", str(results), "--json", "-")
    out = json.loads(r.stdout)
    assert r.returncode == (0 if out["gate"]["passed"] else 1), r.stderr
    assert out["gate"]["verdicts"][0]["rule"] == "paired, 3 interleaved sessions, inference by inference"
    table = edgekit("lab", "gate", str(results))
    assert "paired, 3 interleaved" in " ".join(table.stdout.split())
    ranked = json.loads(edgekit("lab", "gate", str(results), "--paired-method", "signed-rank", "--json", "-").stdout)
    assert ranked["gate"]["verdicts"][0]["rule"] == "paired, 3 interleaved sessions, inference by inference (signed-rank)"
    bad = edgekit("lab", "gate", str(results), "--paired-rule", "loose")
    assert bad.returncode == 2 and "paired rule 'loose' is not valid" in " ".join(bad.stderr.split())


def test_gate_without_a_baseline_file_needs_in_run_baselines(tmp_path, farm_models):
    path = lab_toml(tmp_path, f'\n[[job]]\nmodels = ["{farm_models.fp32}"]\ndevices = ["host"]\n', name="plain")
    lab = Lab.load(path)
    doc = lab.run().results()
    lab.store.close()
    assert "baseline" not in doc["jobs"][0]
    r = edgekit("lab", "gate", str(write_results(tmp_path / "plain.json", doc)))
    assert r.returncode == 2 and "no job with an in-run baseline" in " ".join(r.stderr.split())


def test_lab_file_baseline_key(tmp_path, farm_models):
    m = farm_models
    default = load_lab(lab_toml(tmp_path, f'\n[[job]]\nmodels = ["{m.fp32}"]\nbaseline = "{m.int8}"\n'
                                          'devices = ["host"]\n'))
    assert default.jobs[0].settings.repeat == AB_DEFAULT_REPEAT
    # a list parallel to models; the same model with and without a baseline keeps two names
    both = load_lab(lab_toml(tmp_path, f'\n[[job]]\nmodels = ["{m.fp32}", "{m.int8}"]\n'
                                       f'baseline = ["{m.int8}", "{m.fp32}"]\ndevices = ["host"]\n'
                                       f'\n[[job]]\nmodels = ["{m.fp32}"]\ndevices = ["host"]\n'))
    assert [(j.artifact.variant, j.baseline.variant if j.baseline else None) for j in both.jobs] == \
        [("fp32", "int8"), ("int8", "fp32"), ("fp32", None)]
    assert len({j.label for j in both.jobs}) == 3 and len({j.key for j in both.jobs}) == 3
    # a manifest against a manifest: each variant gets its own baseline
    paired = load_lab(lab_toml(tmp_path, f'\n[[job]]\nmodels = ["{m.manifest}"]\nbaseline = "{m.manifest}"\n'
                                         'devices = ["host"]\n'))
    assert all(j.baseline.sha256 == j.artifact.sha256 for j in paired.jobs) and len(paired.jobs) == 2


@pytest.mark.parametrize("job,message", [
    ('baseline = "{int8}"\nrepeat = 1', "repeat = 1 is too few"),
    ('baseline = ["{int8}", "{int8}"]', "baseline lists 2 entries for 1 models"),
    ('baseline = 3', "baseline must be a path"),
    ('baseline = "missing.tflite"', "does not exist"),
])
def test_bad_baseline_entries_are_config_errors(tmp_path, farm_models, job, message):
    body = job.format(int8=farm_models.int8)
    with pytest.raises(ConfigError, match=message):
        load_lab(lab_toml(tmp_path, f'\n[[job]]\nmodels = ["{farm_models.fp32}"]\n{body}\ndevices = ["host"]\n'))


def test_a_stop_midway_raises_a_device_error_so_the_job_is_requeued(farm_models):
    from edgekit.devices.profile import get_profile
    from edgekit.devices.session import DeviceSession
    from edgekit.errors import DeviceError
    from edgekit.farm.interleave import measure_ab, split_baseline
    from edgekit.measurement import RunSettings
    from edgekit.tflite.describe import describe_tflite

    cand, base = describe_tflite(farm_models.fp32, "fp32"), describe_tflite(farm_models.int8, "int8")
    settings = RunSettings(repeat=2, runs=3, min_seconds=0.0, warmup_runs=1, warmup_seconds=0.0, cooldown_seconds=0.0)
    pauses: list[float] = []
    with DeviceSession(get_profile("host")) as session:
        def measure(art):  # noqa: ANN001, ANN202
            return session.measure(art.path, settings, art)

        whole = measure_ab(measure, cand, base, settings, lambda s: pauses.append(s) is not None)
        assert len(pauses) == 3                                     # between the 4 sessions
        stored = split_baseline(whole)
        assert [m.artifact_sha256 for m in stored] == [cand.sha256, base.sha256]
        assert [len(m.sessions) for m in stored] == [2, 2]
        with pytest.raises(DeviceError, match="stopped after 2 of 4 interleaved sessions"):
            measure_ab(measure, cand, base, settings, lambda s: len(pauses) >= 4 or bool(pauses.append(s)))

        # edgekit's runner: one session per pair, the two models alternating inference by inference
        def pair(c, b):  # noqa: ANN001, ANN202
            return session.measure_pair(c.path, b.path, settings, c, b)

        paired = split_baseline(measure_ab(measure, cand, base, settings, lambda s: False, pair))
        assert [m.artifact_sha256 for m in paired] == [cand.sha256, base.sha256]
        assert [len(m.samples_us) for m in paired] == [6, 6] and [len(m.sessions) for m in paired] == [2, 2]
        assert paired[0].raw["interleaved"] == {"pairs": 2, "order": "inference"}
        assert paired[1].raw["paired_with"] == cand.sha256
        assert paired[0].artifact_variant == "fp32" and paired[1].artifact_variant == "int8"
        with pytest.raises(DeviceError, match="stopped after 1 of 2 interleaved sessions"):
            measure_ab(measure, cand, base, settings, lambda s: True, pair)
