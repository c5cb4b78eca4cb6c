"""Make the two small models the example lab files measure (run once; the outputs are committed).

A small CNN for 32×32 RGB images (the shape of CIFAR-10), converted by TensorFlow's
TFLiteConverter to fp32 and to full-integer int8 (calibrated on random inputs: the
weights are untrained, which is fine for latency, meaningless for quality).

    python examples/models/make_models.py
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    import numpy as np
    import tensorflow as tf

    here = Path(__file__).resolve().parent
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([
        tf.keras.Input((32, 32, 3), name="image"),
        tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(10),
        tf.keras.layers.Softmax(),
    ])
    from edgekit.convert.quiet import quiet_tensorflow

    with quiet_tensorflow():
        (here / "small_cnn_fp32.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    calib = np.random.default_rng(0).random((32, 32, 32, 3), dtype=np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with quiet_tensorflow():
        (here / "small_cnn_int8.tflite").write_bytes(conv.convert())


if __name__ == "__main__":
    main()
