"""int8 and int16x8 calibration for a model with two inputs (an image and a vector,
concatenated): ``.npz`` with one key per input, a dict, a tuple of arrays or per-sample tuples
through the API; fidelity measured on the held-back samples of both inputs; clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.artifact import Manifest, TensorSpec
from edgekit.cli.main import main
from edgekit.convert.api import convert
from edgekit.convert.fidelity import reference_outputs
from edgekit.convert.multi_calibration import prepare_multi_calibration
from edgekit.errors import ConfigError

# "image" sorts after "extra": the .tflite inputs come in the other order than the Keras ones
SPECS = [TensorSpec("image", (1, 12, 12, 3), "float32", dynamic_dims=(0,)),
         TensorSpec("extra", (1, 4), "float32", dynamic_dims=(0,))]


def build_two_input_model(seed: int = 0) -> Any:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    layers = tf.keras.layers
    image = tf.keras.Input((12, 12, 3), name="image")
    extra = tf.keras.Input((4,), name="extra")
    x = layers.Conv2D(8, 3, activation="relu")(image)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Concatenate()([x, layers.Dense(8, activation="relu")(extra)])
    return tf.keras.Model([image, extra], layers.Dense(5)(x), name="two_input")


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 12, 12, 3), np.float32), rng.normal(size=(n, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def two_input(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Path]:
    folder = tmp_path_factory.mktemp("two_input")
    model = build_two_input_model()
    model.save(folder / "two_input.keras")
    image, extra = _data(80)
    np.savez(folder / "calib.npz", image=image, extra=extra)
    return model, folder / "two_input.keras", folder / "calib.npz"


@pytest.fixture(scope="module")
def converted(two_input: tuple[Any, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    _, keras_path, npz = two_input
    return convert(keras_path, tmp_path_factory.mktemp("two_out"), variants="fp32,int8,int16x8", calibration=npz)


def test_npz_with_one_key_per_input_converts_int8_and_int16x8_with_fidelity(
        two_input: tuple[Any, Path, Path], converted: Manifest) -> None:
    model, _, _ = two_input
    assert [a.variant for a in converted.artifacts] == ["fp32", "int8", "int16x8"] and not converted.failures
    calib = converted.options["calibration"]
    assert (calib["samples"], calib["holdback"]) == (60, 20)
    for variant in ("int8", "int16x8"):
        art = converted.get(variant)
        assert len(art.inputs) == 2 and art.path.is_file()
        fid = art.fidelity
        assert fid is not None and fid.samples == 20 and fid.cosine > 0.9, (variant, fid)
    # the fp32 reference was fed the right array on each input: it matches Keras on the held-back samples
    image, extra = _data(80)
    ref = reference_outputs(converted.get("fp32").path, (image[60:], extra[60:]), ("image", "extra"))
    np.testing.assert_allclose(ref[0], model.predict([image[60:], extra[60:]], verbose=0), atol=1e-4)


def test_dict_tuple_and_per_sample_sources_give_the_same_calibration() -> None:
    image, extra = _data(40)
    from_dict = prepare_multi_calibration({"extra": extra, "image": image}, SPECS)
    from_tuple = prepare_multi_calibration((image, extra), SPECS)
    per_sample = prepare_multi_calibration(lambda: ((image[i], extra[i]) for i in range(40)), SPECS)
    per_batch_dicts = prepare_multi_calibration(
        [{"image": image[i:i + 8], "extra": extra[i:i + 8]} for i in range(0, 40, 8)], SPECS)
    shas = {(c.sha256, c.holdback_sha256) for c in (from_dict, from_tuple, per_sample, per_batch_dicts)}
    assert len(shas) == 1
    assert from_dict.inputs == ("image", "extra") and (from_dict.count, from_dict.holdback_count) == (30, 10)
    np.testing.assert_array_equal(from_dict.holdback[1], extra[30:])
    first = next(iter(from_dict.representative_dataset()()))
    assert set(first) == {"image", "extra"} and first["image"].shape == (1, 12, 12, 3)


def test_missing_key_names_the_input_and_the_fix(two_input: tuple[Any, Path, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, keras_path, _ = two_input
    image, _ = _data(40)
    np.savez(tmp_path / "only_image.npz", image=image)
    monkeypatch.setenv("COLUMNS", "400")
    rc = main(["convert", str(keras_path), "-o", str(tmp_path / "out"), "-c", str(tmp_path / "only_image.npz"),
               "--variants", "int8"])
    err = " ".join(capsys.readouterr()[1].split())
    assert rc == 2, err
    assert "no array for the model input 'extra' (it has: image)" in err
    assert "numpy.savez(path, image=..., extra=...)" in err and "Traceback" not in err


@pytest.mark.parametrize("source, words", [
    (lambda im, ex: {"image": im, "extra": ex[:, :3]}, ["input 'extra'", "does not match the model input (4,)"]),
    (lambda im, ex: {"image": im, "extra": ex[:30]}, ["'image' has 40, 'extra' has 30", "same samples"]),
    (lambda im, ex: (im, ex, ex), ["tuple of 3 arrays, but the model has 2 inputs", "image, extra"]),
    (lambda im, ex: im, ["one array (40, 12, 12, 3), but the model has 2 inputs", "dict {name: array}"]),
    (lambda im, ex: [(im[i],) for i in range(40)], ["item 0 is a tuple of 1", "order: image, extra"]),
    (lambda im, ex: [{"image": im[i]} for i in range(40)], ["item 0 has no array for the model input 'extra'"]),
])
def test_bad_multi_input_calibration(source: Any, words: list[str]) -> None:
    image, extra = _data(40)
    with pytest.raises(ConfigError) as info:
        prepare_multi_calibration(source(image, extra), SPECS)
    text = f"{info.value.message} {info.value.hint}"
    for w in words:
        assert w in text, (w, text)
    assert info.value.hint


def test_npy_file_for_two_inputs_is_refused(tmp_path: Path) -> None:
    image, _ = _data(40)
    np.save(tmp_path / "x.npy", image)
    with pytest.raises(ConfigError, match="gives one array, but the model has 2 inputs") as info:
        prepare_multi_calibration(tmp_path / "x.npy", SPECS)
    assert "numpy.savez(path, image=..., extra=...)" in (info.value.hint or "")
