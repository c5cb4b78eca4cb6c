"""What a worker does with each outcome: the real DeviceSession on this host measures;
a thin wrapper injects the faults (a timeout once, a broken model, an unhealthy device)."""

from __future__ import annotations

import json
from pathlib import Path

from edgekit.devices.session import DeviceSession, Health
from edgekit.errors import DeviceTimeout, MeasurementError
from edgekit.farm.lab import Lab
from edgekit.store.sqlite import SqliteStore as Store
from tests.farm.conftest import job_tables, lab_text


class FaultySession(DeviceSession):
    """The real session, with scripted faults: ``faults[model name]`` is a list of exceptions
    raised by successive measure calls (None = measure for real); ``health_script`` likewise."""

    faults: dict[str, list] = {}
    health_script: list = []

    def measure(self, model, settings=None, artifact=None):  # noqa: ANN001, ANN201
        script = self.faults.get(Path(model).stem, [])
        fault = script.pop(0) if script else None
        if fault is not None:
            raise fault
        return super().measure(model, settings, artifact)

    def health(self, timeout: float = 10.0) -> Health:
        if self.health_script:
            return self.health_script.pop(0)
        return super().health(timeout)


def make_lab(tmp_path, farm_models, profiles_dir, extra: str = "") -> Lab:  # noqa: ANN001
    path = tmp_path / "lab.toml"
    jobs = job_tables(([str(farm_models.fp32), str(farm_models.int8)], ["host"], ""),
                      ([str(farm_models.fp32)], ["host"], "runs = 6"))
    path.write_text(lab_text("outcomes", profiles_dir, tmp_path / "r.sqlite",
                             '[[device]]\nname = "host"\nprofile = "host"\n', jobs,
                             "retries = 1\nbackoff_seconds = 0.05\nhealth_check_seconds = 0\n" + extra))
    return Lab.load(path)


def events(store: Store, kind: str) -> list[dict]:
    return [json.loads(r["detail"]) for r in store.connect().execute(
        "SELECT detail FROM events WHERE kind=? ORDER BY id", (kind,))]


def test_transport_fault_is_retried_and_model_fault_fails_at_once(tmp_path, farm_models, profiles_dir):
    FaultySession.health_script = []
    FaultySession.faults = {
        "tiny_fp32": [DeviceTimeout("device 'host': runner did not finish within 1 s", device="host")],
        "tiny_int8": [MeasurementError("device 'host': the runner failed: bad model", hint="fix it")] * 3,
    }
    lab = make_lab(tmp_path, farm_models, profiles_dir)
    run = lab.run(session_factory=FaultySession)
    jobs = {j["name"]: j for j in run.results()["jobs"]}
    fp32 = jobs["tiny_fp32[fp32] on host (runs=5)"]
    assert (fp32["state"], fp32["attempts"]) == ("done", 2)
    assert fp32["latency"]["count"] == 5
    int8 = jobs["tiny_int8[int8] on host"]
    assert (int8["state"], int8["attempts"]) == ("failed", 1)
    assert int8["error"] == "device 'host': the runner failed: bad model (hint: fix it)"
    assert jobs["tiny_fp32[fp32] on host (runs=6)"]["state"] == "done"
    assert run.counts == {"queued": 0, "leased": 0, "running": 0, "done": 2, "failed": 1}
    (host,) = run.devices
    assert host.out_of_rotation is None and (host.done, host.failed) == (2, 1)
    (requeued,) = events(lab.store, "requeued")
    assert "did not finish within 1 s" in requeued["reason"] and requeued["delay"] == 0.05


def test_retries_are_bounded(tmp_path, farm_models, profiles_dir):
    timeout = DeviceTimeout("device 'host': stuck", device="host")
    FaultySession.health_script = []
    FaultySession.faults = {"tiny_fp32": [timeout] * 10}
    run = make_lab(tmp_path, farm_models, profiles_dir).run(session_factory=FaultySession)
    failed = [j for j in run.results()["jobs"] if j["state"] == "failed"]
    assert len(failed) == 2                      # both fp32 jobs: 1 try + 1 retry each
    assert all(j["attempts"] == 2 and "gave up after 2 attempts" in j["error"] for j in failed)
    assert run.counts["done"] == 1


def test_unreachable_device_leaves_the_rotation_and_its_jobs_fail_cleanly(tmp_path, farm_models, profiles_dir):
    FaultySession.faults = {}
    FaultySession.health_script = [Health(False, "unreachable: cable pulled", state="unreachable")]
    lab = make_lab(tmp_path, farm_models, profiles_dir)
    run = lab.run(session_factory=FaultySession)
    assert run.counts["failed"] == 3 and run.counts["done"] == 0
    (host,) = run.devices
    assert host.out_of_rotation == "unreachable: cable pulled"
    errors = {j["error"] for j in run.results()["jobs"]}
    assert errors == {"no healthy device for 'host' (host: unreachable: cable pulled)"}
    assert [e["reason"] for e in events(lab.store, "out-of-rotation")] == ["unreachable: cable pulled"]


def test_busy_device_rests_and_comes_back(tmp_path, farm_models, profiles_dir):
    FaultySession.faults = {}
    FaultySession.health_script = [Health(False, "too hot: cpu at 90.0 °C (max_temp_c 80)", state="too-hot"),
                                   Health(False, "too hot: cpu at 85.0 °C (max_temp_c 80)", state="too-hot")]
    lab = make_lab(tmp_path, farm_models, profiles_dir)
    run = lab.run(session_factory=FaultySession)
    assert run.counts["done"] == 3
    rests = events(lab.store, "resting")
    assert [r["seconds"] for r in rests] == [0.05, 0.1]          # growing back-off
    assert run.devices[0].out_of_rotation is None
