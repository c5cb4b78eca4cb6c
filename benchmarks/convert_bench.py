"""Benchmark ``edgekit convert`` on the paper's largest CNN (~1.3 M parameters).

Builds the width-1.0 member of the paper's CIFAR-10 family (32×32×3 inputs, 10 classes,
random weights), converts all five variants with random calibration data into a fresh
cache, prints seconds, sizes and fidelity per variant and the int8/fp32 size ratio, then
converts again (a cache hit) in this process and in a fresh one, and prints those times.

This is not a test: it prints figures. Run it with::

    python benchmarks/convert_bench.py [--samples 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build_model() -> Any:
    """The paper's width-1.0 CNN: edgekit's family if available, else the same layout here."""
    try:
        from edgekit.recipes.family import paper_cnn

        return paper_cnn(1.0)
    except ImportError:
        pass
    import tensorflow as tf

    layers = tf.keras.layers
    inp = tf.keras.Input((32, 32, 3))
    x = inp
    for f in (32, 32):
        x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(f, 3, padding="same", use_bias=False)(x)))
    for block in ((64, 64), (128, 128, 128), (256, 256)):
        for f in block:
            x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(f, 3, padding="same", use_bias=False)(x)))
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(128, activation="relu")(x)
    out = layers.Softmax()(layers.Dense(10)(x))
    return tf.keras.Model(inp, out, name="paper_cnn_w1.0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="calibration samples")
    parser.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="edgekit-convert-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["EDGEKIT_CACHE_DIR"] = str(work / "cache")  # a fresh cache: the first run converts

    from edgekit.convert.api import convert
    from edgekit.tflite.quiet import quiet_tensorflow

    t0 = time.perf_counter()
    with quiet_tensorflow():
        import tensorflow as tf

        tf.keras.utils.set_random_seed(0)
        model = build_model()
        model_path = work / "paper_cnn_w1.0.keras"
        model.save(model_path)
    params = model.count_params()
    rng = np.random.default_rng(0)
    calib = rng.random((args.samples + 50, 32, 32, 3), dtype=np.float32)
    np.savez(work / "calib.npz", x=calib)
    print(f"model: {model.name}, {params:,} parameters, built and saved in {time.perf_counter() - t0:.1f} s")
    print(f"calibration: {args.samples} random samples (+50 held back); outputs in {work}")

    marks: dict[str, float] = {}
    last = [time.perf_counter()]

    def progress(ev: Any) -> None:
        now = time.perf_counter()
        if ev.done > 0:
            marks[ev.item] = now - last[0]
        last[0] = now

    start = time.perf_counter()
    m = convert(model_path, work / "out", calibration=work / "calib.npz", samples=args.samples, progress=progress)
    total = time.perf_counter() - start
    fp32 = m.get("fp32")
    print()
    print(f"{'variant':8} {'convert() s':>11} {'wall s':>7} {'size KB':>9} {'×fp32':>6} "
          f"{'max-abs':>9} {'cosine':>8} {'top-1':>6}")
    for a in m.artifacts:
        f = a.fidelity
        print(f"{a.variant:8} {a.conversion_seconds:11.2f} {marks.get(a.variant, 0):7.2f} "
              f"{a.size_bytes / 1024:9.1f} {fp32.size_bytes / a.size_bytes:6.2f} "
              f"{f.max_abs_error:9.2g} {f.cosine:8.5f} {100 * (f.top1_agreement or 0):5.0f}%")
    int8 = m.get("int8")
    print(f"\nfirst run (incl. TensorFlow import, model load, fidelity): {total:.1f} s")
    print(f"int8 / fp32 size: {int8.size_bytes:,} / {fp32.size_bytes:,} bytes = "
          f"{int8.size_bytes / fp32.size_bytes:.3f} (fp32 is {fp32.size_bytes / int8.size_bytes:.2f}× larger)")
    print(f"paper (Table 5/6, w=1.0): 5251.34 KB / 1334.41 KB = {5251.34 / 1334.41:.2f}×")

    start = time.perf_counter()
    again = convert(model_path, work / "out_cached", calibration=work / "calib.npz", samples=args.samples)
    hit = time.perf_counter() - start
    assert all(a.extra.get("cached") for a in again.artifacts), "expected a cache hit"
    print(f"\ncache hit, same process (5 variants, files copied, manifest rewritten): {hit:.3f} s")

    script = textwrap.dedent(f"""
        import json, sys, time
        t = time.perf_counter()
        from edgekit.convert.api import convert
        m = convert({str(model_path)!r}, {str(work / "out_fresh")!r}, calibration={str(work / "calib.npz")!r},
                    samples={args.samples})
        print(json.dumps({{"seconds": time.perf_counter() - t, "tensorflow": "tensorflow" in sys.modules,
                           "cached": all(a.extra.get("cached") for a in m.artifacts)}}))
    """)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ}, timeout=300)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 1
    fresh = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"cache hit, fresh process: {fresh['seconds']:.3f} s in convert() (imports included), "
          f"{wall:.3f} s with interpreter start-up; TensorFlow imported: {fresh['tensorflow']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
