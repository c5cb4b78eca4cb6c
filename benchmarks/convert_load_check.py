"""What the converter's load check (``edgekit.convert.load_check``) costs.

Builds a Keras MobileNetV2 (random weights, no download), converts it to fp32, int8 and
int16x8 with random calibration data (TensorFlow's ``convert()`` only, timed), then times
``check_loads`` on each file (LiteRT load + AllocateTensors + one invocation on zeros) and
prints both, with the check's share of the conversion time.

This is not a test: it prints figures. Run it with::

    python benchmarks/convert_load_check.py [--size 128] [--alpha 0.5] [--samples 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="check_loads runs per file (best is printed)")
    args = parser.parse_args()

    import tensorflow as tf

    from edgekit.convert.calibration import prepare_calibration
    from edgekit.convert.load_check import check_loads
    from edgekit.convert.loading import open_model
    from edgekit.convert.variants import VariantOptions, convert_variant
    from edgekit.errors import EdgekitError

    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.MobileNetV2(input_shape=(args.size, args.size, 3), alpha=args.alpha,
                                              weights=None, classes=10)
    with tempfile.TemporaryDirectory() as tmp:
        keras_path = Path(tmp) / "mobilenetv2.keras"
        model.save(keras_path)
        loaded = open_model(keras_path).load()
        x = np.random.default_rng(0).random((args.samples + args.samples // 3 + 1, args.size, args.size, 3),
                                            np.float32)
        calib = prepare_calibration(x, loaded.inputs[0], args.samples)
        print(f"MobileNetV2 {args.size}x{args.size} alpha {args.alpha}: {model.count_params():,} parameters, "
              f"{calib.count} calibration samples")
        print(f"{'variant':8} {'convert s':>10} {'check s':>9} {'share':>7}  result")
        for variant in ("fp32", "int8", "int16x8"):
            dest = Path(tmp) / f"m_{variant}.tflite"
            seconds = convert_variant(loaded, variant, VariantOptions(calib, "float32"), dest)
            best, result = float("inf"), "loads"
            for _ in range(args.repeat):
                start = time.perf_counter()
                try:
                    check_loads(dest, variant)
                except EdgekitError as err:
                    result = f"FAILS: {err.message[:120]}"
                best = min(best, time.perf_counter() - start)
            print(f"{variant:8} {seconds:10.2f} {best:9.3f} {best / seconds:7.1%}  {result}")


if __name__ == "__main__":
    main()
