"""The regression gate's false-alarm rate and detection rate, measured on this host.

Two models: A, a small CNN taking ≈1 ms per inference here (40×40×3 input), and A′, the
same network on a 10 % larger input (42×42: channels unchanged, so ≈10 % more compute on
the same vectorised kernels). Each of ``--trials`` trials (20 by default) is **one lab
run** through ``edgekit.farm.Lab`` with the real runner and the paper's protocol (warm-up,
then ≥ ``--runs`` timed runs and ≥ ``--seconds`` s per session, one thread, pinned) with
two A/B jobs on the host, each with an in-run baseline (lab ``baseline`` key) and
``--repeat`` interleaved sessions per model (A B B A A B …):

* **A/A**: candidate A with baseline A — every "regressed" verdict is a false alarm;
* **A/A′**: candidate A′ with baseline A — every "regressed" verdict is a detection.

Each results file is judged by ``edgekit.farm.gate.check`` without a baseline file (the
paired rule), once per paired rule ("significant": lower bound > 0 and estimate > 5 %;
"bound": lower bound > 5 %). The jobs' order alternates between trials. It prints both
rates per rule with their Wilson intervals, the measured slowdown of A′, the load average
before and after, and ``--json`` prints one document. Timings depend on the machine; they
are printed, never asserted.

Run from the repo root: ``python benchmarks/gate_power.py [--trials 20] [--repeat 5] [--json]``.
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


def lab_file(folder: Path, jobs: list[tuple[Path, Path]], runs: int, seconds: float, repeat: int) -> Path:
    """A lab of one host with one A/B job per ``(candidate, baseline)``."""
    path = folder / "lab.toml"
    text = (f'[lab]\nname = "gate-power"\ncheck_load = false\ncooldown_seconds = 0\n\n'
            f'[defaults]\nruns = {runs}\nmin_seconds = {seconds}\nwarmup_runs = 20\nwarmup_seconds = 0.2\n\n'
            f'[[device]]\nname = "host"\nprofile = "host"\n')
    for cand, base in jobs:
        text += f'\n[[job]]\nmodels = ["{cand}"]\nbaseline = "{base}"\ndevices = ["host"]\nrepeat = {repeat}\n'
    path.write_text(text, encoding="utf-8")
    return path


def measure(work: Path, jobs: list[tuple[Path, Path]], runs: int, seconds: float, repeat: int,
            tag: str) -> dict[str, Any]:
    """One lab run of the A/B jobs; its results document."""
    from edgekit.farm.lab import Lab

    folder = work / tag
    folder.mkdir(parents=True, exist_ok=True)
    lab = Lab.load(lab_file(folder, jobs, runs, seconds, repeat), store=str(folder / "store.sqlite"))
    try:
        return lab.run(fresh=True).results()
    finally:
        lab.store.close()


def wilson(k: int, n: int) -> tuple[float, float]:
    from edgekit.stats.proportion import wilson_interval

    return wilson_interval(k, n) if n else (0.0, 1.0)


#: the paired rules compared: (name, GateSettings fields)
RULES = {"significant": {}, "bound": {"paired_rule": "bound"},
         "signed-rank": {"paired_method": "signed-rank"}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5, help="interleaved sessions per model and job")
    ap.add_argument("--runs", type=int, default=100, help="timed runs per session, at least")
    ap.add_argument("--seconds", type=float, default=0.25, help="timed phase per session, at least (s)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--save", type=Path, help="also write the JSON document (with every session median) here")
    args = ap.parse_args(argv)

    from edgekit.farm.gate import GateSettings, check

    settings = {r: GateSettings(**kw) for r, kw in RULES.items()}
    load_before = list(os.getloadavg())
    out: dict[str, Any] = {"trials": args.trials, "repeat": args.repeat, "runs": args.runs,
                           "seconds_per_session": args.seconds, "rules": {}}
    t0 = time.perf_counter()
    verdicts: dict[str, dict[str, list[dict[str, Any]]]] = {r: {"A/A": [], "A/A'": []} for r in RULES}
    pairs: dict[str, list[list[list[float]]]] = {"A/A": [], "A/A'": []}   # per trial: [candidate, baseline]
    with tempfile.TemporaryDirectory(prefix="edgekit-gate-power-") as tmp:
        work = Path(tmp)
        a = make_model(work / "A", 40)
        a2 = make_model(work / "A-prime", 42)
        for t in range(args.trials):
            conds = [("A/A", a), ("A/A'", a2)][::(1 if t % 2 == 0 else -1)]
            doc = measure(work, [(cand, a) for _, cand in conds], args.runs, args.seconds, args.repeat, f"t{t}")
            for (cond, _), job in zip(conds, doc["jobs"]):
                pairs[cond].append([[s.get("median_us") for s in job.get("sessions") or []],
                                    [s.get("median_us") for s in (job.get("baseline") or {}).get("sessions") or []]])
            for rule in RULES:
                report = check(doc, None, settings[rule])
                for (cond, _), v in zip(conds, report.verdicts):
                    verdicts[rule][cond].append({"status": v.status, "change_pct": v.change_pct,
                                                 "ci_pct": list(v.change_ci_pct or ()), "median_us": v.median_us,
                                                 "baseline_us": v.baseline_us, "rule": v.rule,
                                                 "reason": v.reason})
            if not args.json:
                for cond, _ in conds:
                    v = verdicts["significant"][cond][-1]
                    if v["change_pct"] is None:   # the job failed (e.g. its runner was killed 3 times)
                        print(f"trial {t + 1:2d} {cond:5s} {v['status']}: {v['reason']}", flush=True)
                        continue
                    ci = v["ci_pct"] or [float("nan")] * 2
                    marks = " ".join(f"{r}={verdicts[r][cond][-1]['status']}" for r in RULES)
                    print(f"trial {t + 1:2d} {cond:5s} change {v['change_pct']:+6.2f}% CI {ci[0]:+6.2f} … "
                          f"{ci[1]:+6.2f}  {marks}  ({v['rule']})", flush=True)
    for rule in RULES:
        res: dict[str, Any] = {"describe": settings[rule].describe_paired()}
        for cond, vs in verdicts[rule].items():
            judged = [v for v in vs if v["change_pct"] is not None]   # failed jobs are left out, and counted
            k = sum(v["status"] == "regressed" for v in judged)
            changes = [v["change_pct"] for v in vs if v["change_pct"] is not None]
            res[cond] = {
                "regressed": k, "trials": len(judged), "not_judged": len(vs) - len(judged),
                "rate": k / len(judged) if judged else None, "rate_ci95": list(wilson(k, len(judged))),
                "cannot_judge": sum(v["status"] == "cannot-judge" for v in vs),
                "change_pct_median": statistics.median(changes) if changes else None,
                "change_pct_min": min(changes, default=None), "change_pct_max": max(changes, default=None),
                "ci_halfwidth_pct_median": statistics.median((v["ci_pct"][1] - v["ci_pct"][0]) / 2
                                                             for v in judged if v["ci_pct"]) if changes else None,
                "base_median_us_range": [min(v["baseline_us"] for v in judged), max(v["baseline_us"] for v in judged)]
                if judged else None,
            }
        out["rules"][rule] = res
    main_rule = out["rules"]["significant"]
    out.update(false_alarm_rate=main_rule["A/A"]["rate"], detection_rate=main_rule["A/A'"]["rate"],
               slowdown_pct=main_rule["A/A'"]["change_pct_median"], seconds=round(time.perf_counter() - t0, 1),
               loadavg_before=load_before, loadavg=list(os.getloadavg()), session_medians_us=pairs)
    if args.save:
        args.save.write_text(json.dumps(out, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"\n{args.trials} lab runs; each: 2 A/B jobs, {args.repeat} interleaved sessions per model "
          f"(≥ {args.runs} runs, ≥ {args.seconds:g} s each)")
    for rule, res in out["rules"].items():
        aa, ap2 = res["A/A"], res["A/A'"]
        print(f"rule {rule!r}: {res['describe']}")
        if aa["rate"] is None or ap2["rate"] is None:
            print(f"  not judged: {aa['not_judged']} A/A and {ap2['not_judged']} A/A' job(s) failed "
                  "(is another process using the host device? its runners and ours kill each other)")
            continue
        print(f"  A/A  false alarms: {aa['regressed']}/{aa['trials']} = {aa['rate']:.0%} "
              f"(95% CI {aa['rate_ci95'][0]:.0%}–{aa['rate_ci95'][1]:.0%}); changes {aa['change_pct_min']:+.1f} … "
              f"{aa['change_pct_max']:+.1f}%; median CI half-width {aa['ci_halfwidth_pct_median']:.1f} pp"
              + f"; {aa['not_judged']} trial(s) not judged (job failed or cannot-judge)" * bool(aa["not_judged"]))
        print(f"  A/A' detections: {ap2['regressed']}/{ap2['trials']} = {ap2['rate']:.0%} "
              f"(95% CI {ap2['rate_ci95'][0]:.0%}–{ap2['rate_ci95'][1]:.0%}); A' is {ap2['change_pct_median']:+.1f}% "
              f"slower (median over trials; {ap2['change_pct_min']:+.1f} … {ap2['change_pct_max']:+.1f}%)"
              + f"; {ap2['not_judged']} trial(s) not judged (job failed or cannot-judge)" * bool(ap2["not_judged"]))
    rng = out["rules"]["significant"]["A/A"]["base_median_us_range"]
    if rng:
        print(f"baseline medians {rng[0] / 1000:.3f}–{rng[1] / 1000:.3f} ms across trials")
    print(f"{out['seconds']:.0f} s; load average before {', '.join(f'{x:.2f}' for x in load_before)}, "
          f"after {', '.join(f'{x:.2f}' for x in out['loadavg'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
