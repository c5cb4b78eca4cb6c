"""Farm efficiency: how busy the controller keeps its devices, and what it costs per job.

Starts N real sshd "boards" on loopback (each in its own mount namespace, as in the farm
tests), runs a lab of M jobs of a small real model on them through ``edgekit.farm.Lab``
and the real DeviceSession, then prints

* runner efficiency = Σ runner time (the runner's own start → finish of each job) / (wall × N):
  the share of the devices' time spent measuring,
* job efficiency = Σ job durations (lease → commit) / (wall × N): how much of the time a
  device holds a job (overhead included),
* the controller's overhead per job = job duration − runner time (health check, push check,
  job hand-over, result, commit): median over the jobs after each device's first, and the
  first job's (which also opens the session: SSH connection, one opening command with the
  work dir, facts and the health check's 0.5 s window, then the runner's start and imports;
  see ``edgekit/devices/session_open.py``),
* where that overhead goes: the controller's own bookkeeping (leases, claim, commit), the
  health check, and the session around the runner.

``--one-shot`` measures the old way (one runner process per job, result file pulled and
removed) for comparison; the default is serve mode (one runner per device session).
``--keep-runner-s S`` gives the boards ``keep_runner_s = S`` (parked runners, see
``docs/design.md``) and runs the lab twice on the same boards, each run on a store of its own
(``--rounds``): the first starts the runners, the second attaches to the parked ones, as the
next CI job on a lab does. The JSON's top level is the last round's; ``rounds`` has them all.
``--json`` prints one JSON document instead of text. The load average is part of the output:
this benchmark shares the machine's cores with the boards it simulates.

Run as root from the repo root:
``python benchmarks/farm_efficiency.py [--devices 4] [--jobs 12] [--keep-runner-s 600] [--json]``.
Timings depend on the machine's load; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_model(folder: Path) -> Path:
    """A small CNN (64×64×3 → 10), converted by TensorFlow: ~0.6 ms per inference on this machine.

    (It was 32×32×3 with 16/32 channels until serve mode came: ~70 µs per inference, i.e.
    ~30 000 samples per 2 s job, which is not the ~1 ms the benchmark meant to model.)
    """
    import tensorflow as tf

    from edgekit.tflite.quiet import quiet_tensorflow

    model = tf.keras.Sequential([
        tf.keras.Input((64, 64, 3)),
        tf.keras.layers.Conv2D(32, 3, activation="relu"), tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(64, 3, activation="relu"), tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(10),
    ])
    path = folder / "bench_cnn.tflite"
    with quiet_tensorflow():
        path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def figures(db_path: Path, wall: float, args: argparse.Namespace, span: tuple[float, float]) -> dict[str, Any]:
    """Efficiency and the per-job cost breakdown, from the lab's events in the store."""
    db = sqlite3.connect(str(db_path))
    db.row_factory = sqlite3.Row
    try:
        leased = {r["job_id"]: r["at"] for r in db.execute("SELECT job_id, at FROM events WHERE kind='leased'")}
        rows = list(db.execute("SELECT e.job_id, e.at, e.detail, j.device FROM events e JOIN jobs j ON j.id=e.job_id "
                               "WHERE e.kind='done' ORDER BY e.at"))
    finally:
        db.close()
    jobs = []
    for r in rows:
        d = json.loads(r["detail"])
        jobs.append({"device": r["device"], "duration": r["at"] - leased[r["job_id"]], "at": r["at"], **d})
    seen: set[str] = set()
    for j in jobs:  # the first job of each device also opens its session (facts, runtime probe, runner start)
        j["first"] = j["device"] not in seen
        seen.add(j["device"])
        j["overhead"] = j["duration"] - j["runner_seconds"]
        j["farm"] = j["duration"] - j["health_seconds"] - j["measure_seconds"]
        j["session"] = j["measure_seconds"] - j["runner_seconds"]
    later = [j for j in jobs if not j["first"]] or jobs
    firsts = [j for j in jobs if j["first"]]

    def med(key: str, rows: list[dict[str, Any]] = later) -> float:
        return round(statistics.median(r[key] for r in rows), 4)

    capacity = wall * args.devices
    busy_by_device: dict[str, float] = {}
    for j in jobs:
        busy_by_device[j["device"]] = round(busy_by_device.get(j["device"], 0.0) + j["duration"], 3)
    return {
        "mode": "one-shot" if args.one_shot else "serve",
        "devices": args.devices, "jobs": len(jobs), "min_seconds": args.min_seconds, "wall_s": round(wall, 3),
        "cpus": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()],
        "runner_efficiency": round(sum(j["runner_seconds"] for j in jobs) / capacity, 4),
        "job_efficiency": round(sum(j["duration"] for j in jobs) / capacity, 4),
        "overhead_median_s": med("overhead"),
        "overhead_mean_s": round(statistics.mean(j["overhead"] for j in later), 4),
        "overhead_max_s": round(max(j["overhead"] for j in later), 4),
        "first_job_overhead_s": med("overhead", firsts),
        "breakdown_median_s": {"controller": med("farm"), "health_check": med("health_seconds"),
                               "session": med("session")},
        "runner_seconds_median": med("runner_seconds", jobs),
        "latency_median_ms": round(statistics.median(j["median_us"] for j in jobs) / 1000, 4),
        "startup_s": round(min(leased.values()) - span[0], 3),
        "tail_s": round(span[1] - max(j["at"] for j in jobs), 3),
        "busy_s_by_device": dict(sorted(busy_by_device.items())),
    }


def print_text(f: dict[str, Any]) -> None:
    print(f"mode={f['mode']} devices={f['devices']} jobs={f['jobs']} min_seconds={f['min_seconds']:g} "
          f"wall={f['wall_s']:.2f} s cpus={f['cpus']} load_avg={f['load_avg']}")
    print(f"runner efficiency  runner time/(wall x devices)         = {f['runner_efficiency']:.3f}")
    print(f"job efficiency     busy(job durations)/(wall x devices) = {f['job_efficiency']:.3f}")
    print(f"overhead per job (job duration - runner time): median {f['overhead_median_s']:.3f} s, "
          f"mean {f['overhead_mean_s']:.3f} s, max {f['overhead_max_s']:.3f} s (jobs after each device's first); "
          f"first job per device median {f['first_job_overhead_s']:.3f} s")
    b = f["breakdown_median_s"]
    print(f"  of which: controller bookkeeping (leases, claim, commit) median {b['controller']:.4f} s, "
          f"health check {b['health_check']:.3f} s, session around the runner {b['session']:.4f} s")
    print(f"start-up (run start -> first lease) {f['startup_s']:.2f} s; tail (last job done -> run end) "
          f"{f['tail_s']:.2f} s; busy per device: " + ", ".join(f"{d} {s:.1f} s" for d, s in f["busy_s_by_device"].items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--min-seconds", type=float, default=2.0, help="timed-run length of each job")
    ap.add_argument("--one-shot", action="store_true", help="one runner process per job (the old way)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--keep-runner-s", type=float, default=0.0,
                    help="the boards' keep_runner_s: runners stay parked between lab runs (0: they end with "
                         "their sessions)")
    ap.add_argument("--rounds", type=int, default=0,
                    help="lab runs, one after the other on the same boards (default: 2 with --keep-runner-s, "
                         "so the second attaches to the parked runners the first left; else 1)")
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.keep_runner_s > 0 else 1)

    from edgekit.devices.session import DeviceSession
    from edgekit.farm.lab import Lab
    from tests.farm.conftest import job_tables, lab_text, start_boards

    with tempfile.TemporaryDirectory(prefix="edgekit-farm-bench-") as tmp_s:
        tmp = Path(tmp_s)
        model = make_model(tmp)
        profiles = tmp / "profiles"
        profiles.mkdir()
        (profiles / "testboard.toml").write_text(
            f'name = "testboard"\ntransport = "ssh"\nrunner = "edgekit-runner"\npython = "{sys.executable}"\n'
            f'workdir = "/tmp/edgekit-farm-board"\nmax_temp_c = 200.0\nkeep_runner_s = {args.keep_runner_s:g}\n'
            f'[connection]\nhost = "127.0.0.1"\nuser = "root"\n')
        boards = start_boards(tmp / "boards", args.devices, first_host=20)
        results = []
        try:
            # distinct settings make distinct jobs of the same model
            jobs = job_tables(*[([str(model)], ["testboard"], f"runs = {10 + i}") for i in range(args.jobs)])
            for n in range(rounds):  # each round its own store: the same jobs, all to run
                lab_path = tmp / f"lab-{n}.toml"
                store = tmp / f"results-{n}.sqlite"
                lab_path.write_text(lab_text(
                    "bench", profiles, store, boards.device_entries(), jobs, "lease_seconds = 60",
                    defaults=f"warmup_runs = 5\nwarmup_seconds = 0.2\nmin_seconds = {args.min_seconds}\n"))
                lab = Lab.load(lab_path)
                if n:
                    time.sleep(1.0)  # between two CI jobs: the parked runners' idle windows fill
                t0, w0 = time.monotonic(), time.time()
                run = lab.run(session_factory=lambda p: DeviceSession(p, serve=not args.one_shot))
                wall, w1 = time.monotonic() - t0, time.time()
                assert run.counts["done"] == args.jobs, run.counts
                results.append({"round": n + 1, "keep_runner_s": args.keep_runner_s,
                                "runners": "parked" if n and args.keep_runner_s > 0 else "started",
                                **figures(store, wall, args, (w0, w1))})
            if args.keep_runner_s > 0:
                end_parked_runners(lab)
        finally:
            for b in boards.boards:
                b.kill()
    result = {**results[-1], "rounds": results} if len(results) > 1 else results[0]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for r in results:
            print(f"-- round {r['round']} (runners {r['runners']})")
            print_text(r)
    return 0


def end_parked_runners(lab: Any) -> None:
    """Remove the boards' park sockets: their parked runners end within 0.1 s."""
    from edgekit.devices.transports.factory import make_transport

    for device in lab.spec.devices:
        transport = make_transport(device.profile)
        try:
            transport.run(["rm", "-rf", f"{device.profile.workdir}/park"], timeout=30)
        finally:
            transport.close()


if __name__ == "__main__":
    sys.exit(main())
