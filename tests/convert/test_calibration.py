"""Calibration sources and their validation (no TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.artifact import TensorSpec
from edgekit.convert.calibration import (DEFAULT_SAMPLES, MAX_HOLDBACK, array_sha256, prepare_calibration,
                                         samples_needed)
from edgekit.errors import ConfigError

from .shared_conversions import write_images

GRAY = TensorSpec("image", (1, 8, 8, 1), "float32", dynamic_dims=(0,))
RGB = TensorSpec("pixels", (1, 16, 16, 3), "float32", dynamic_dims=(0,))


def _data(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 8, 8, 1), dtype=np.float32)


def test_split_holds_back_the_last_quarter_up_to_50() -> None:
    x = _data(64)
    cs = prepare_calibration(x, GRAY)
    assert len(cs.holdback) == 16 and len(cs.calibration) == 48
    np.testing.assert_array_equal(cs.calibration, x[:48])
    np.testing.assert_array_equal(cs.holdback, x[48:])
    big = prepare_calibration(_data(1000), GRAY)
    assert len(big.calibration) == DEFAULT_SAMPLES and len(big.holdback) == MAX_HOLDBACK
    # only the first samples + 50 are read: the hold-back follows the calibration samples
    np.testing.assert_array_equal(big.holdback, _data(1000)[DEFAULT_SAMPLES:DEFAULT_SAMPLES + MAX_HOLDBACK])
    some = prepare_calibration(_data(1000), GRAY, samples=10)
    assert len(some.calibration) == 10 and len(some.holdback) == 15  # 60 read, 60 // 4 held back


def test_npz_npy_array_iterable_and_callable_give_the_same_samples(tmp_path: Path) -> None:
    x = _data(40)
    np.savez(tmp_path / "c.npz", x=x)
    np.savez(tmp_path / "only.npz", images=x)
    np.save(tmp_path / "c.npy", x)
    sources = {
        "npz": tmp_path / "c.npz", "npz-only-key": str(tmp_path / "only.npz"), "npy": tmp_path / "c.npy",
        "array": x, "iterable of samples": [s for s in x], "generator of nested lists": (s.tolist() for s in x),
        "iterable of TFLite-style batches": [[x[i:i + 1]] for i in range(len(x))],
        "callable": lambda: iter(x), "callable returning an array": lambda: x,
    }
    shas = {}
    for name, src in sources.items():
        cs = prepare_calibration(src, GRAY, samples=30)
        assert cs.calibration.dtype == np.float32 and cs.calibration.shape == (30, 8, 8, 1), name
        np.testing.assert_array_equal(cs.calibration, x[:30], err_msg=name)
        shas[name] = (cs.sha256, cs.holdback_sha256)
    assert len(set(shas.values())) == 1
    assert shas["npy"][0] == array_sha256(x[:30])


def test_integer_arrays_are_cast_to_float32() -> None:
    x = (np.arange(20 * 64) % 7).reshape(20, 8, 8, 1).astype(np.int64)
    cs = prepare_calibration(x, GRAY)
    assert cs.calibration.dtype == np.float32
    assert cs.calibration[0, 0, 3, 0] == 3.0


def test_infinite_generator_is_read_only_as_far_as_needed() -> None:
    def forever():  # noqa: ANN202
        rng = np.random.default_rng(0)
        while True:
            yield rng.random((8, 8, 1), dtype=np.float32)

    cs = prepare_calibration(forever, GRAY, samples=20)
    assert len(cs.calibration) == 20 and len(cs.holdback) == 17  # 70 read, 70 // 4 held back


def test_image_folder_is_resized_converted_and_scaled(tmp_path: Path) -> None:
    pixels = write_images(tmp_path / "rgb", 12, (20, 20), "RGB")
    cs = prepare_calibration(tmp_path / "rgb", RGB)
    assert cs.calibration.shape == (9, 16, 16, 3) and len(cs.holdback) == 3
    assert 0.0 <= cs.calibration.min() and cs.calibration.max() <= 1.0
    from PIL import Image

    expected = np.asarray(Image.fromarray(pixels[0]).resize((16, 16), Image.BILINEAR), np.float32) / 255.0
    np.testing.assert_allclose(cs.calibration[0], expected, atol=1e-6)
    # RGB files for a grayscale model: converted to one channel
    gray = prepare_calibration(tmp_path / "rgb", GRAY)
    assert gray.calibration.shape == (9, 8, 8, 1)
    # same size, grayscale files for a grayscale model: no resize, exact pixels / 255
    px = write_images(tmp_path / "gray", 8, (8, 8), "L")
    exact = prepare_calibration(tmp_path / "gray", GRAY)
    np.testing.assert_allclose(exact.calibration[0], px[0].astype(np.float32) / 255.0)


@pytest.mark.parametrize("make, words", [
    (lambda: np.zeros((20, 28, 28), np.float32), ["rank 3", "(8, 8, 1)", "(samples, 8, 8, 1)"]),
    (lambda: np.zeros((20, 64), np.float32), ["rank 2", "(8, 8, 1)"]),
    (lambda: np.zeros((20, 28, 28, 1), np.float32), ["sample shape (28, 28, 1)", "does not match the model input (8, 8, 1)"]),
    (lambda: np.full((20, 8, 8, 1), "a"), ["dtype <U1", "not numeric"]),
    (lambda: np.ones((20, 8, 8, 1), bool), ["dtype bool", "not numeric"]),
])
def test_wrong_shape_rank_or_dtype_is_refused(make, words) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError) as info:
        prepare_calibration(make(), GRAY)
    for w in words:
        assert w in str(info.value)
    assert info.value.hint


def test_nan_and_inf_are_counted_with_the_first_sample() -> None:
    x = _data(40)
    x[7, 0, 0, 0] = np.nan
    x[9, 1, 1, 0] = np.inf
    x[9, 2, 1, 0] = np.nan
    with pytest.raises(ConfigError) as info:
        prepare_calibration(x, GRAY)
    msg = str(info.value)
    assert "2 NaN and 1 Inf values in 2 samples" in msg and "first is sample 7" in msg
    assert "isfinite" in info.value.hint


def test_fewer_samples_than_asked_says_how_many_there_are() -> None:
    with pytest.raises(ConfigError) as info:
        prepare_calibration(_data(64), GRAY, samples=100)
    assert "has 64 samples" in str(info.value) and "100 were asked" in str(info.value)
    assert "--samples 48" in info.value.hint and f"at least {samples_needed(100)}" in info.value.hint
    assert samples_needed(100) == 133 and samples_needed(200) == 250  # 133 - 133 // 4 = 100
    with pytest.raises(ConfigError, match="not a positive whole number"):
        prepare_calibration(_data(64), GRAY, samples=0)


def test_unreadable_sources_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        prepare_calibration(tmp_path / "nope.npz", GRAY)
    (tmp_path / "junk.npz").write_text("not numpy")
    with pytest.raises(ConfigError, match="junk.npz' is not a readable .npz/.npy"):
        prepare_calibration(tmp_path / "junk.npz", GRAY)
    np.savez(tmp_path / "two.npz", a=_data(4), b=_data(4))
    with pytest.raises(ConfigError, match="has arrays a, b and no 'x'"):
        prepare_calibration(tmp_path / "two.npz", GRAY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no images"):
        prepare_calibration(tmp_path / "empty", GRAY)
    write_images(tmp_path / "bad", 4, (8, 8), "L")
    (tmp_path / "bad" / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    with pytest.raises(ConfigError, match="zz_broken.png' cannot be read"):
        prepare_calibration(tmp_path / "bad", GRAY)
    with pytest.raises(ConfigError, match="not an image"):
        prepare_calibration(tmp_path / "bad", TensorSpec("v", (1, 64), "float32"))
    with pytest.raises(ConfigError, match="raised RuntimeError"):
        prepare_calibration(lambda: (_ for _ in ()).throw(RuntimeError("x")), GRAY)
    with pytest.raises(ConfigError, match="different shapes"):
        prepare_calibration([np.zeros((8, 8, 1)), np.zeros((8, 8, 2))], GRAY)
