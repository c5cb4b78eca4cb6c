"""Calibration and cost of ``edgekit.stats``: coverages, the gate's error rates, codec sizes.

Prints, for simulated data (seeded, so the figures repeat):

* coverage of the 95 % median interval (normal, lognormal, exponential; n = 101, 1000);
* coverage of the 95 % ratio-of-medians interval (bootstrap at n = 40, order statistics
  at n = 1000) and of the summary-only relative-change interval;
* the gate's P(regressed) against the true change, for a ≈1 ms model with ~1000 samples
  per run at three noise levels (its operating characteristic);
* the sample codec's size for 57 000 samples of several realistic distributions;
* the time of ``median_estimate`` and ``ratio_of_medians_ci`` on 500 000 samples.

This is not a test: it prints figures. Run it with::

    python benchmarks/stats_calibration.py [--trials 2000]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgekit.stats import (encode_samples, judge_samples, median_estimate, order_statistic_ranks,  # noqa: E402
                           ratio_of_medians_ci, relative_change_from_summary)
from edgekit.stats.relative_change import summary_of  # noqa: E402


def median_coverage(trials: int) -> None:
    rng = np.random.default_rng(1)
    dists = {"normal": (lambda s: rng.normal(5, 1, s), 5.0), "lognormal": (lambda s: rng.lognormal(0, 0.5, s), 1.0),
             "exponential": (lambda s: rng.exponential(2, s), 2 * math.log(2))}
    print("median_ci 95 % coverage")
    for name, (draw, truth) in dists.items():
        for n in (101, 1000):
            r = order_statistic_ranks(n)
            part = np.partition(draw((trials, n)), [r.lower - 1, r.upper - 1], axis=1)
            cov = np.mean((part[:, r.lower - 1] <= truth) & (truth <= part[:, r.upper - 1]))
            print(f"  {name:12s} n={n:5d}  {cov * 100:5.1f} %  (exact {r.coverage * 100:.2f} %)")


def ratio_coverage(trials: int) -> None:
    rng = np.random.default_rng(2)
    print("ratio_of_medians_ci 95 % coverage (lognormal / exponential, true ratio 2)")
    for n, method, t in ((40, "bootstrap", min(trials, 500)), (1000, "order-statistic", trials)):
        hits = 0
        for i in range(t):
            a, b = 2 * rng.lognormal(0, 0.3, n), rng.exponential(1 / math.log(2), n)
            est = ratio_of_medians_ci(a, b, method=method, resamples=1000, seed=i)  # type: ignore[arg-type]
            hits += est.lo <= 2.0 <= est.hi
        print(f"  {method:16s} n={n:5d}  {hits / t * 100:5.1f} %  ({t} trials)")
    hits = 0
    for _ in range(trials):
        base, new = 1000 * rng.lognormal(0, 0.1, 500), 1070 * rng.lognormal(0, 0.1, 500)
        hits += relative_change_from_summary(summary_of(base), summary_of(new)).contains(0.07)
    print(f"  summary-only relative change n=500  {hits / trials * 100:5.1f} %")


def gate_curve(trials: int) -> None:
    rng = np.random.default_rng(3)
    print("gate P(regressed) vs true change, ≈1 ms model, 1000 samples/run, 2 % outliers")
    shifts = (0.0, 0.03, 0.05, 0.07, 0.10, 0.15)
    print("  sigma   " + "  ".join(f"{s * 100:+5.0f}%" for s in shifts))
    for sigma in (0.05, 0.15, 0.30):
        row = []
        for shift in shifts:
            hits = 0
            for _ in range(trials // 2):
                def run(f: float) -> np.ndarray:
                    x = 1000 * f * rng.lognormal(0, sigma, 1000)
                    return x + np.where(rng.random(1000) < 0.02, rng.exponential(500, 1000), 0)
                hits += judge_samples(run(1.0), run(1.0 + shift)).state == "regressed"
            row.append(hits / (trials // 2))
        print(f"  {sigma:4.2f}    " + "  ".join(f"{p * 100:5.1f}%" for p in row))


def codec_sizes() -> None:
    rng = np.random.default_rng(4)
    n = 57_000
    cases = {
        "20 µs, 3 % jitter + tail": 20 * rng.lognormal(0, 0.03, n) + rng.exponential(0.3, n),
        "1 ms, 1 % jitter": 1000 * rng.lognormal(0, 0.01, n),
        "1 ms, 2 % jitter + 1 % outliers": 1000 * rng.lognormal(0, 0.02, n)
        + np.where(rng.random(n) < 0.01, rng.exponential(300, n), 0),
        "1 ms, 5 % jitter": 1000 * rng.lognormal(0, 0.05, n),
        "1 ms, µs timer": np.round(1000 * rng.lognormal(0, 0.02, n)),
        "1 ms drifting +30 %": 1000 * np.linspace(1, 1.3, n) * rng.lognormal(0, 0.002, n),
    }
    print(f"sample codec, {n} samples at 1 ns resolution")
    for name, x in cases.items():
        x = np.round(x * 1000) / 1000
        t = time.perf_counter()
        blob = encode_samples(x)
        dt = time.perf_counter() - t
        as_json = len(json.dumps(x.tolist()))
        print(f"  {name:34s} {len(blob) / 1000:7.1f} kB  base64 {math.ceil(len(blob) / 3) * 4 / 1000:7.1f} kB"
              f"  ({len(blob) * 8 / n:4.1f} bit/sample, JSON floats {as_json / 1000:6.1f} kB, {dt * 1000:4.0f} ms)")


def timings() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.lognormal(0, 0.2, 500_000), rng.lognormal(0.1, 0.2, 500_000)
    median_estimate(a[:10])
    for label, fn in (("median_estimate(500k), first call", lambda: median_estimate(a)),
                      ("median_estimate(500k), ranks cached", lambda: median_estimate(b)),
                      ("ratio_of_medians_ci(500k, 500k)", lambda: ratio_of_medians_ci(a, b))):
        t = time.perf_counter()
        fn()
        print(f"  {label:40s} {(time.perf_counter() - t) * 1000:6.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args(argv)
    median_coverage(args.trials)
    ratio_coverage(args.trials)
    gate_curve(args.trials)
    codec_sizes()
    timings()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
