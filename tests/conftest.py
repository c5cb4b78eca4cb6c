"""Shared fixtures: tiny real models (converted by TensorFlow), the --run-device option."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.postgres_server import pg_url, postgres_server, store_url  # noqa: F401 - fixtures, shared


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-device", action="append", default=[], metavar="NAME",
                     help="run the tests marked 'device' against the named device profile")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = config.getoption("--run-device")
    for item in items:
        if "device" in item.keywords and not wanted:
            item.add_marker(pytest.mark.skip(reason="needs real hardware: pass --run-device NAME"))


@pytest.fixture(scope="session", autouse=True)
def _default_store_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The default store (``.edgekit/results.sqlite`` in the current folder) never lands in the
    checkout: every test sees ``$EDGEKIT_STORE`` in a temporary folder unless it sets its own."""
    if "EDGEKIT_STORE" not in os.environ:
        os.environ["EDGEKIT_STORE"] = str(tmp_path_factory.mktemp("default-store") / "results.sqlite")


@pytest.fixture(autouse=True)
def _fresh_default_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own default store, so what one test measured never caches another's."""
    monkeypatch.setenv("EDGEKIT_STORE", str(tmp_path_factory.mktemp("store") / "results.sqlite"))


@pytest.fixture(scope="session")
def run_devices(pytestconfig: pytest.Config) -> list[str]:
    return list(pytestconfig.getoption("--run-device"))


@dataclass(frozen=True)
class TinyModels:
    """A tiny CNN on 8×8×1 inputs with 4 classes, saved and converted by TensorFlow directly."""

    folder: Path
    keras_path: Path        # .keras file
    h5_path: Path           # legacy .h5 file
    savedmodel_dir: Path    # SavedModel directory
    fp32_tflite: Path
    int8_tflite: Path       # full-integer, int8 input and output
    calibration_npz: Path   # x: (64, 8, 8, 1) float32
    test_npz: Path          # x, y: 48 samples with labels that the model fits

    @staticmethod
    def build_keras_model():  # noqa: ANN205 - keras type
        import tensorflow as tf

        return tf.keras.Sequential([
            tf.keras.Input((8, 8, 1), name="image"),
            tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(),
            tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            tf.keras.layers.GlobalAveragePooling2D(),
            tf.keras.layers.Dense(4),
            tf.keras.layers.Softmax(),
        ])


def _tiny_data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Four classes, each a bright quadrant: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=n)
    x = rng.normal(0.2, 0.1, size=(n, 8, 8, 1)).astype(np.float32)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, r * 4:(r + 1) * 4, q * 4:(q + 1) * 4, 0] += 0.8
    return x.clip(0, 1).astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("tiny_models")
    tf.keras.utils.set_random_seed(0)
    model = TinyModels.build_keras_model()
    model.compile(optimizer=tf.keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = _tiny_data(0, 256)
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    keras_path = folder / "tiny.keras"
    model.save(keras_path)
    h5_path = folder / "tiny.h5"
    model.save(h5_path)
    sm_dir = folder / "tiny_savedmodel"
    model.export(str(sm_dir), verbose=False)

    calib = x[:64]
    np.savez(folder / "calib.npz", x=calib)
    xt, yt = _tiny_data(1, 48)
    np.savez(folder / "test.npz", x=xt, y=yt)

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    (folder / "tiny_fp32.tflite").write_bytes(conv.convert())
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    (folder / "tiny_int8.tflite").write_bytes(conv.convert())
    return TinyModels(folder, keras_path, h5_path, sm_dir, folder / "tiny_fp32.tflite",
                      folder / "tiny_int8.tflite", folder / "calib.npz", folder / "test.npz")
