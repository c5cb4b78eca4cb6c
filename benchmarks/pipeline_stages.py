"""Benchmark ``edgekit run``: the embedded default pipeline, timed per stage.

Runs the embedded default (scikit-learn's digits, widths 0.1/0.25/0.5, baseline +
distillation, fp32 + int8, measured on ``host``) in a temporary folder with an empty
conversion cache, prints the seconds of each stage, the models' accuracies, the
recommendation and the paper's two strategies in measured numbers; then runs it again
(everything cached) and prints that time too.

This is not a test: it prints figures. Run it with::

    python benchmarks/pipeline_stages.py [--keep DIR] [--epochs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _table(result: Any) -> str:
    lines = [f"{'stage':<10} {'status':<18} {'ran':>4} {'cached':>6} {'seconds':>9}"]
    for s in result.stages:
        lines.append(f"{s.name:<10} {s.status:<18} {s.ran:>4} {s.cached:>6} {s.seconds:>9.1f}")
    lines.append(f"{'total':<10} {'':<18} {'':>4} {'':>6} {result.seconds:>9.1f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run folder to keep (default: a temporary one)")
    parser.add_argument("--epochs", type=int, help="override [train] epochs")
    args = parser.parse_args()

    from edgekit.pipeline.run import run_pipeline

    with tempfile.TemporaryDirectory(prefix="edgekit-pipeline-bench-") as tmp:
        out = args.keep or Path(tmp) / "run"
        os.environ["EDGEKIT_CACHE_DIR"] = str(Path(tmp) / "convert-cache")  # a cold conversion cache
        overrides: dict[str, Any] = {"pipeline.out": str(out)}
        if args.epochs:
            overrides["train.epochs"] = args.epochs
        print(f"edgekit run (embedded default) → {out}; {os.cpu_count()} CPUs, "
              f"load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
        t0 = time.perf_counter()
        first = run_pipeline(None, overrides=overrides)
        wall = time.perf_counter() - t0
        print("\nfirst run (cold):")
        print(_table(first))
        print(f"wall clock, including imports: {wall:.1f} s")
        print("\nmodels (Keras top-1 on the test split):")
        for m in first.models:
            top1 = "—" if m.keras_top1 is None else f"{m.keras_top1 * 100:.2f}%"
            print(f"  {m.name:<26} {m.params:>9,} params  {top1:>8}  trained in {m.train_seconds:.1f} s")
        print("\nrecommended:")
        for device, rec in first.recommendations.items():
            if rec.get("found"):
                print(f"  {device}: {rec['label']}  {rec.get('quality_text')}  {rec['median_ms']:.4f} ms  "
                      f"{rec['size_bytes'] / 1024:.1f} KB")
            else:
                print(f"  {device}: nothing qualifies")
        print("\nthe paper's strategies, measured:")
        for text in first.strategies:
            print(f"  {text}")
        for note in first.notes:
            print(f"  note: {note}")
        t0 = time.perf_counter()
        second = run_pipeline(None, overrides=overrides)
        print("\nsecond run (nothing changed):")
        print(_table(second))
        print(f"wall clock: {time.perf_counter() - t0:.2f} s; did work: {second.did_work}")
        print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
