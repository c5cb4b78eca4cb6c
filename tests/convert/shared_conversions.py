"""Conversions shared by tests/convert and tests/evaluate (each done once per session).

The conversion cache of the whole test session lives in a temporary folder
(``EDGEKIT_CACHE_DIR``), never in ``~/.cache``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

_CACHE_DIR: list[Path] = []
_DONE: dict[str, Any] = {}


def session_cache_dir() -> Path:
    """A temporary conversion cache for this test process, exported as EDGEKIT_CACHE_DIR."""
    if not _CACHE_DIR:
        path = Path(tempfile.mkdtemp(prefix="edgekit-test-cache-"))
        atexit.register(shutil.rmtree, path, True)
        _CACHE_DIR.append(path)
    os.environ["EDGEKIT_CACHE_DIR"] = str(_CACHE_DIR[0])
    return _CACHE_DIR[0]


def tiny_all_variants(tiny_models: Any) -> Any:
    """The conftest tiny CNN converted to all five variants (+ the int8 debug CSV)."""
    key = f"tiny:{tiny_models.folder}"
    if key not in _DONE:
        from edgekit.convert.api import convert

        session_cache_dir()
        _DONE[key] = convert(tiny_models.keras_path, tiny_models.folder / "converted",
                             calibration=tiny_models.calibration_npz, debug_quantization=True)
    return _DONE[key]


def build_rgb_model(seed: int = 0) -> Any:
    """An untrained 16×16×3 CNN, 10 classes, with tensors large enough (≥1024 elements)
    for dynamic-range quantization to quantize them."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    return tf.keras.Sequential([
        tf.keras.Input((16, 16, 3), name="pixels"),
        tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(10),
        tf.keras.layers.Softmax(),
    ], name="rgb_net")


def build_cumsum_model() -> Any:
    """A model with CUMSUM, which has no integer kernel: int8 cannot be integer-only."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1)
    inp = tf.keras.Input((8, 8, 1), name="image")
    x = tf.keras.layers.Conv2D(4, 3, padding="same")(inp)
    x = tf.keras.layers.Lambda(lambda t: tf.math.cumsum(t, axis=-1), name="cumsum")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    out = tf.keras.layers.Dense(4)(x)
    return tf.keras.Model(inp, out, name="cumsum_net")


def write_images(folder: Path, n: int, size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> np.ndarray:
    """Write ``n`` random PNG images with Pillow; returns their pixels (N, H, W, C) uint8."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    pixels = rng.integers(0, 256, size=(n, size[1], size[0], channels), dtype=np.uint8)
    for i, px in enumerate(pixels):
        Image.fromarray(px if channels == 3 else px[..., 0], mode=mode).save(folder / f"img_{i:03d}.png")
    return pixels
