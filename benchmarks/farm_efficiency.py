"""Farm efficiency: how busy the controller keeps its devices, and what it costs per job.

Starts N real sshd "boards" on loopback (each in its own mount namespace, as in the farm
tests), runs a lab of M jobs of a small real model on them through ``edgekit.farm.Lab``
and the real DeviceSession, then prints

* efficiency = devices' busy time (sum of job durations, lease → commit) / (wall × N),
* the same with the runner's own time as busy time,
* the controller's overhead per job = job duration − runner time (health check, push,
  runner start-up, result pull, commit), median and max,
* where that overhead goes: the controller's own bookkeeping (leases, claim, commit), the
  health check, and the session around the runner (push check, runner start-up, pull).

Run as root from the repo root: ``python benchmarks/farm_efficiency.py [--devices 4] [--jobs 12]``.
Timings depend on the machine's load; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgekit.farm.store import Store  # noqa: E402 - after the path fix-up
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_model(folder: Path) -> Path:
    """A small CNN (32×32×3 → 10), converted by TensorFlow: ~1 ms per inference."""
    import tensorflow as tf

    from edgekit.convert.quiet import quiet_tensorflow

    model = tf.keras.Sequential([
        tf.keras.Input((32, 32, 3)),
        tf.keras.layers.Conv2D(16, 3, activation="relu"), tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(32, 3, activation="relu"), tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(10),
    ])
    path = folder / "bench_cnn.tflite"
    with quiet_tensorflow():
        path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def report(store: Store, wall: float, args: argparse.Namespace,
           span: tuple[float, float]) -> None:
    """Print efficiency and the per-job cost breakdown from the store's events."""
    db = store.connect()
    leased = {r["job_id"]: r["at"] for r in db.execute("SELECT job_id, at FROM events WHERE kind='leased'")}
    jobs = []
    for r in db.execute("SELECT e.job_id, e.at, e.detail, j.device FROM events e JOIN jobs j ON j.id=e.job_id "
                        "WHERE e.kind='done' ORDER BY e.at"):
        d = json.loads(r["detail"])
        jobs.append({"device": r["device"], "duration": r["at"] - leased[r["job_id"]], "at": r["at"], **d})
    seen: set[str] = set()
    for j in jobs:  # the first job of each device also opens its session (facts, runtime probe)
        j["first"] = j["device"] not in seen
        seen.add(j["device"])
    busy = sum(j["duration"] for j in jobs)
    runner = sum(j["runner_seconds"] for j in jobs)
    later = [j for j in jobs if not j["first"]] or jobs

    def med(key: str, rows: list[dict] = later) -> float:
        return statistics.median(r[key] for r in rows)

    for j in jobs:
        j["overhead"] = j["duration"] - j["runner_seconds"]
        j["farm"] = j["duration"] - j["health_seconds"] - j["measure_seconds"]
        j["session"] = j["measure_seconds"] - j["runner_seconds"]
    print(f"devices={args.devices} jobs={args.jobs} min_seconds={args.min_seconds:g} wall={wall:.2f} s "
          f"cpus={os.cpu_count()} load_avg_1m={os.getloadavg()[0]:.1f}")
    print(f"farm efficiency  busy(job durations)/(wall x devices) = {busy / (wall * args.devices):.3f}")
    print(f"                 runner time/(wall x devices)         = {runner / (wall * args.devices):.3f}")
    print(f"overhead per job (job duration - runner time): median {med('overhead'):.3f} s, "
          f"mean {statistics.mean(j['overhead'] for j in later):.3f} s (jobs after each device's first); "
          f"first job per device median {med('overhead', [j for j in jobs if j['first']]):.3f} s")
    print(f"  of which: controller bookkeeping (leases, claim, commit) median {med('farm'):.4f} s, "
          f"health check {med('health_seconds'):.3f} s, "
          f"session around the runner (push check, runner start-up, result pull) {med('session'):.3f} s")
    busy_by_device: dict[str, float] = {}
    for j in jobs:
        busy_by_device[j["device"]] = busy_by_device.get(j["device"], 0.0) + j["duration"]
    print(f"start-up (run start → first lease) {min(leased.values()) - span[0]:.2f} s; tail (last job done → run end) "
          f"{span[1] - max(j['at'] for j in jobs):.2f} s; busy per device: "
          + ", ".join(f"{d} {b:.1f} s" for d, b in sorted(busy_by_device.items())))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--min-seconds", type=float, default=2.0, help="timed-run length of each job")
    args = ap.parse_args(argv)

    from edgekit.farm.lab import Lab
    from edgekit.farm.store import Store
    from tests.farm.conftest import job_tables, lab_text, start_boards

    with tempfile.TemporaryDirectory(prefix="edgekit-farm-bench-") as tmp_s:
        tmp = Path(tmp_s)
        model = make_model(tmp)
        profiles = tmp / "profiles"
        profiles.mkdir()
        (profiles / "testboard.toml").write_text(
            f'name = "testboard"\ntransport = "ssh"\nrunner = "edgekit-runner"\npython = "{sys.executable}"\n'
            f'workdir = "/tmp/edgekit-farm-board"\nmax_temp_c = 200.0\n[connection]\nhost = "127.0.0.1"\n'
            f'user = "root"\n')
        boards = start_boards(tmp / "boards", args.devices, first_host=20)
        try:
            # distinct settings make distinct jobs of the same model
            jobs = job_tables(*[([str(model)], ["testboard"], f"runs = {10 + i}") for i in range(args.jobs)])
            lab_path = tmp / "lab.toml"
            lab_path.write_text(lab_text(
                "bench", profiles, tmp / "results.sqlite", boards.device_entries(), jobs, "lease_seconds = 60",
                defaults=f"warmup_runs = 5\nwarmup_seconds = 0.2\nmin_seconds = {args.min_seconds}\n"))
            lab = Lab.load(lab_path)
            t0, w0 = time.monotonic(), time.time()
            run = lab.run()
            wall, w1 = time.monotonic() - t0, time.time()
        finally:
            for b in boards.boards:
                b.kill()
        assert run.counts["done"] == args.jobs, run.counts
        report(Store(tmp / "results.sqlite"), wall, args, (w0, w1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
