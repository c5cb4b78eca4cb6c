"""edgekit's runner vs LiteRT's own ``litert-benchmark`` on the same models, in one run.

Converts a small CIFAR-style CNN (the paper's family shape, width 0.25 and 0.5) to fp32 and
full-int8 with the real TFLiteConverter, then for each model runs

* ``edgekit.deploy(model, device="host")`` — edgekit's runner (Interpreter API, pinned to
  one core, warm-up ≥ 10 runs and ≥ 0.5 s, ≥ 50 runs and ≥ 1 s, every sample kept), and
* ``litert-benchmark --model M --num_threads 1 --num_runs N --result_json out.json`` (the
  tool shipped in ai-edge-litert; CompiledModel API), pinned with ``taskset`` to the same core,

and prints both medians and their ratio. Prints numbers; it is not a pass/fail test.

    python benchmarks/runner_vs_litert_benchmark.py [--runs 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgekit.devices.deploy import deploy  # noqa: E402
from edgekit.measurement import RunSettings  # noqa: E402


def build_models(folder: Path) -> list[Path]:
    """fp32 and int8 of a small CNN on 32×32×3 at two widths (the paper's model family shape)."""
    from edgekit.tflite.quiet import quiet_tensorflow

    paths = []
    with quiet_tensorflow():
        import tensorflow as tf

        tf.keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        calib = rng.uniform(0, 1, size=(32, 32, 32, 3)).astype(np.float32)
        for width in (0.25, 0.5):
            f = lambda n: max(8, int(n * width))  # noqa: E731
            model = tf.keras.Sequential([
                tf.keras.Input((32, 32, 3)),
                tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
                tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
                tf.keras.layers.MaxPooling2D(),
                tf.keras.layers.Conv2D(f(128), 3, padding="same", activation="relu"),
                tf.keras.layers.MaxPooling2D(),
                tf.keras.layers.Conv2D(f(256), 3, padding="same", activation="relu"),
                tf.keras.layers.GlobalAveragePooling2D(),
                tf.keras.layers.Dense(10),
            ])
            conv = tf.lite.TFLiteConverter.from_keras_model(model)
            fp32 = folder / f"cnn_w{width}_fp32.tflite"
            fp32.write_bytes(conv.convert())
            conv = tf.lite.TFLiteConverter.from_keras_model(model)
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
            int8 = folder / f"cnn_w{width}_int8.tflite"
            int8.write_bytes(conv.convert())
            paths += [fp32, int8]
    return paths


def litert_median_ms(model: Path, runs: int, cpu: str, out: Path) -> float:
    tool = shutil.which("litert-benchmark")
    if tool is None:
        raise SystemExit("litert-benchmark not found (it comes with: pip install ai-edge-litert)")
    argv = ["taskset", "-c", cpu, tool] if cpu else [tool]
    argv += ["--model", str(model), "--num_threads", "1", "--warmup_runs", "10", "--num_runs", str(runs),
             "--result_json", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"litert-benchmark failed: {done.stderr[-1000:]}")
    return float(json.loads(out.read_text())["latency"]["median_ms"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs for both tools")
    parser.add_argument("--rounds", type=int, default=2, help="alternate the two tools this many times")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        folder = Path(tmp)
        models = build_models(folder)
        settings = RunSettings(runs=args.runs, min_seconds=1.0, warmup_runs=10, warmup_seconds=0.5)
        rows = []
        for model in models:
            ours, theirs, cpu = [], [], ""
            for _ in range(args.rounds):
                [m] = deploy(model, device="host", settings=settings, store=False)
                ours.append(m.stats.median / 1000.0)  # type: ignore[union-attr]
                cpu = m.pinned_cpu or ""
                theirs.append(litert_median_ms(model, args.runs, cpu, folder / "litert.json"))
            a, b = float(np.median(ours)), float(np.median(theirs))
            rows.append((model.name, model.stat().st_size / 1024, a, b, a / b, cpu, len(m.samples_us)))
        print(f"host: {os.uname().nodename}, {os.cpu_count()} CPUs; {args.rounds} alternating rounds, "
              f"medians of the per-round medians; both single-threaded, pinned to the same CPU")
        print(f"{'model':<22}{'KB':>8}{'edgekit ms':>12}{'litert ms':>11}{'ratio':>8}{'cpu':>5}{'samples':>9}")
        for name, kb, a, b, r, cpu, n in rows:
            print(f"{name:<22}{kb:>8.1f}{a:>12.4f}{b:>11.4f}{r:>8.3f}{cpu:>5}{n:>9}")


if __name__ == "__main__":
    main()
