"""The regression gate's false-alarm rate and detection rate, measured on this host.

Two models under the same job name (``model[fp32] on host``): A, a small CNN taking ≈1 ms
per inference here (40×40×3 input), and A′, the same network on a 10 % larger input (42×42:
channels unchanged, so ≈10 % more compute on the same vectorised kernels). For each
of ``--trials`` trials (20 by default) and each condition it runs the real lab twice —
a baseline run and a new run, each a fresh lab run of one job through ``edgekit.farm.Lab``
with the real runner and the paper's protocol (warm-up, then ≥ ``--runs`` timed runs and
≥ ``--seconds`` s, one thread, pinned) — and judges the new results file against the
baseline with ``edgekit.farm.gate.check``:

* **A/A** (the same model twice): every "regressed" verdict is a false alarm;
* **A/A′** (A′ after A): every "regressed" verdict is a detection.

Conditions alternate within a trial (A/A then A/A′), so slow drifts of the shared machine
hit both. It prints both rates with their Wilson intervals, the measured slowdown of A′,
the medians' spread across trials and the load average; ``--json`` prints one document.
Timings depend on the machine; they are printed, never asserted.

Run from the repo root: ``python benchmarks/gate_power.py [--trials 20] [--json]``.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_model(folder: Path, side: int) -> Path:
    """The benchmark CNN on a ``side``×``side``×3 input, as ``folder/model.tflite`` (fp32)."""
    import tensorflow as tf

    from edgekit.tflite.quiet import quiet_tensorflow

    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([
        tf.keras.Input((side, side, 3)),
        tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        tf.keras.layers.Conv2D(64, 3, padding="same", activation="relu"), tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(64, 3, padding="same", activation="relu"), tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(10),
    ])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.tflite"
    with quiet_tensorflow():
        path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def lab_file(folder: Path, model: Path, runs: int, seconds: float) -> Path:
    path = folder / "lab.toml"
    path.write_text(f'[lab]\nname = "gate-power"\ncheck_load = false\ncooldown_seconds = 0\n\n'
                    f'[defaults]\nruns = {runs}\nmin_seconds = {seconds}\nwarmup_runs = 20\nwarmup_seconds = 0.3\n\n'
                    f'[[device]]\nname = "host"\nprofile = "host"\n\n'
                    f'[[job]]\nmodels = ["{model}"]\ndevices = ["host"]\n', encoding="utf-8")
    return path


def measure(work: Path, model: Path, runs: int, seconds: float, tag: str) -> dict[str, Any]:
    """One lab run of one job; its results document."""
    from edgekit.farm.lab import Lab

    folder = work / tag
    folder.mkdir(parents=True, exist_ok=True)
    lab = Lab.load(lab_file(folder, model, runs, seconds), store=str(folder / "store.sqlite"))
    try:
        return lab.run(fresh=True).results()
    finally:
        lab.store.close()


def wilson(k: int, n: int) -> tuple[float, float]:
    from edgekit.stats.proportion import wilson_interval

    return wilson_interval(k, n) if n else (0.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--runs", type=int, default=300, help="timed runs per lab run, at least")
    ap.add_argument("--seconds", type=float, default=1.0, help="timed phase per lab run, at least (s)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from edgekit.farm.gate import GateSettings, check

    settings = GateSettings()
    out: dict[str, Any] = {"trials": args.trials, "rule": settings.describe(), "conditions": {}}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgekit-gate-power-") as tmp:
        work = Path(tmp)
        a = make_model(work / "A", 40)
        a2 = make_model(work / "A-prime", 42)
        verdicts: dict[str, list[dict[str, Any]]] = {"A/A": [], "A/A'": []}
        for t in range(args.trials):
            for cond, new_model in (("A/A", a), ("A/A'", a2)):
                base = measure(work, a, args.runs, args.seconds, f"{t}-{cond}-base")
                new = measure(work, new_model, args.runs, args.seconds, f"{t}-{cond}-new")
                v = check(new, base, settings).verdicts[0]
                verdicts[cond].append({"status": v.status, "change_pct": v.change_pct,
                                       "ci_pct": list(v.change_ci_pct or ()), "median_us": v.median_us,
                                       "baseline_us": v.baseline_us})
                if not args.json:
                    print(f"trial {t + 1:2d} {cond:5s} {v.status:10s} change {v.change_pct:+6.2f}% "
                          f"CI {v.change_ci_pct[0]:+6.2f} … {v.change_ci_pct[1]:+6.2f}", flush=True)
    for cond, vs in verdicts.items():
        k = sum(v["status"] == "regressed" for v in vs)
        changes = [v["change_pct"] for v in vs]
        out["conditions"][cond] = {
            "regressed": k, "trials": len(vs), "rate": k / len(vs), "rate_ci95": list(wilson(k, len(vs))),
            "change_pct_median": statistics.median(changes), "change_pct_min": min(changes),
            "change_pct_max": max(changes),
            "base_median_us_range": [min(v["baseline_us"] for v in vs), max(v["baseline_us"] for v in vs)],
            "ci_halfwidth_pct_median": statistics.median((v["ci_pct"][1] - v["ci_pct"][0]) / 2 for v in vs),
        }
    aa, ap2 = out["conditions"]["A/A"], out["conditions"]["A/A'"]
    out.update(false_alarm_rate=aa["rate"], detection_rate=ap2["rate"],
               slowdown_pct=ap2["change_pct_median"], seconds=round(time.perf_counter() - t0, 1),
               loadavg=list(os.getloadavg()))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"\nrule: {out['rule']}")
        print(f"A/A  false alarms: {aa['regressed']}/{aa['trials']} = {aa['rate']:.0%} "
              f"(95% CI {aa['rate_ci95'][0]:.0%}–{aa['rate_ci95'][1]:.0%}); changes {aa['change_pct_min']:+.1f} … "
              f"{aa['change_pct_max']:+.1f}%")
        print(f"A/A' detections: {ap2['regressed']}/{ap2['trials']} = {ap2['rate']:.0%} "
              f"(95% CI {ap2['rate_ci95'][0]:.0%}–{ap2['rate_ci95'][1]:.0%}); A' is {ap2['change_pct_median']:+.1f}% "
              f"slower (median over trials); baseline medians {aa['base_median_us_range'][0] / 1000:.3f}–"
              f"{aa['base_median_us_range'][1] / 1000:.3f} ms")
        print(f"{out['seconds']:.0f} s; load average {', '.join(f'{x:.2f}' for x in out['loadavg'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
