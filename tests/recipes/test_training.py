"""Training recipes: the distillation loss on hand-made logits, label-invariant augmentation,
and the errors a bad call gets."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.recipes.datasets import Dataset
from edgekit.recipes.training import (AugmentationConfig, distillation_loss, label_loss, logits_model,
                                      make_augmenter, outputs_probabilities, train)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _by_hand(y: np.ndarray, s: np.ndarray, t: np.ndarray, temp: float, l1: float, l2: float) -> float:
    hard = -np.log(_softmax(s)[np.arange(len(y)), y]).mean()
    soft = -(_softmax(t / temp) * np.log(_softmax(s / temp))).sum(axis=1).mean()
    return l1 * hard + l2 * temp ** 2 * soft


S = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 1.0, 1.0]], dtype=np.float32)
T = np.array([[3.0, 1.0, -2.0], [0.0, 0.5, 2.5], [2.0, 0.0, -1.0]], dtype=np.float32)
Y = np.array([0, 2, 1])


@pytest.mark.parametrize("temp, l1, l2", [(1.0, 1.0, 0.0), (4.0, 0.5, 0.5), (2.0, 0.1, 0.9), (10.0, 0.0, 1.0)])
def test_distillation_loss_matches_the_formula(temp: float, l1: float, l2: float) -> None:
    got = float(distillation_loss(Y, S, T, temp, l1, l2))
    assert got == pytest.approx(_by_hand(Y, S, T, temp, l1, l2), rel=1e-5)


def test_distillation_loss_known_value() -> None:
    # one sample, two classes, uniform student: CE(labels) = ln 2; soft CE with any teacher = ln 2
    s = np.zeros((1, 2), np.float32)
    t = np.array([[5.0, -5.0]], np.float32)
    assert float(distillation_loss(np.array([1]), s, t, 2.0, 0.5, 0.5)) == pytest.approx(
        0.5 * np.log(2) + 0.5 * 4 * np.log(2), rel=1e-6)
    assert float(label_loss(np.array([1]), s)) == pytest.approx(np.log(2), rel=1e-6)


def test_distillation_gradient_does_not_reach_the_teacher() -> None:
    import tensorflow as tf

    t = tf.Variable(T)
    with tf.GradientTape() as tape:
        loss = distillation_loss(Y, S, t, 4.0, 0.5, 0.5)
    assert tape.gradient(loss, t) is None


def _asymmetric_batch() -> np.ndarray:
    x = np.zeros((16, 8, 8, 1), np.float32)
    x[:, 1:7, 1, 0] = 1.0          # a bar on the left only
    x[:, 2, 1:4, 0] = 0.5
    return x


def test_digits_augmentation_never_flips() -> None:
    x = _asymmetric_batch()
    aug = make_augmenter(AugmentationConfig(shift=0.0, rotation_degrees=0.0), allow_flip=False, seed=0)
    for _ in range(5):
        assert np.array_equal(np.asarray(aug(x, training=True)), x)


def test_flips_where_allowed_are_exact_mirrors() -> None:
    x = _asymmetric_batch()
    aug = make_augmenter(AugmentationConfig(shift=0.0, rotation_degrees=0.0), allow_flip=True, seed=1)
    out = np.asarray(aug(x, training=True))
    mirrored = [np.array_equal(o, x[0][:, ::-1]) for o in out]
    same = [np.array_equal(o, x[0]) for o in out]
    assert all(m or s for m, s in zip(mirrored, same))
    assert any(mirrored) and any(same)


def test_shifts_and_rotations_keep_shape_range_and_mass_roughly() -> None:
    x = _asymmetric_batch()
    aug = make_augmenter(AugmentationConfig(shift=0.125, rotation_degrees=10.0, flip=False), allow_flip=True, seed=2)
    out = np.asarray(aug(x, training=True))
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6
    assert not np.array_equal(out, x)                      # it does change the images …
    assert np.abs(out.sum(axis=(1, 2, 3)) - x[0].sum()).max() < 0.5 * x[0].sum()   # … but keeps the strokes
    # inference mode is the identity
    assert np.array_equal(np.asarray(aug(x, training=False)), x)


def test_bad_augmentation_config() -> None:
    with pytest.raises(ConfigError, match="shift 0.6"):
        make_augmenter(AugmentationConfig(shift=0.6), False, 0)
    with pytest.raises(ConfigError, match="rotation 90"):
        make_augmenter(AugmentationConfig(rotation_degrees=90), False, 0)


def _tiny_dataset(n: int = 64) -> Dataset:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = rng.random((n, 8, 8, 1), dtype=np.float32) * 0.2
    for i, c in enumerate(y):
        x[i, :, c * 2:(c * 2) + 2, 0] += 0.8
    return Dataset("tiny", x, y, x[:16], y[:16], 3, (8, 8, 1), id="tiny-0")


def test_logits_of_the_family_and_of_softmax_models() -> None:
    import keras

    from edgekit.recipes.family import paper_cnn

    x = _tiny_dataset().x_train[:4]
    m = paper_cnn(0.1, (8, 8, 1), 3, seed=0)
    assert outputs_probabilities(m)
    z = np.asarray(logits_model(m)(x))
    assert np.allclose(_softmax(z), np.asarray(m(x)), atol=1e-6)
    dense_softmax = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                      keras.layers.Dense(3, activation="softmax")])
    z = np.asarray(logits_model(dense_softmax)(x))
    assert np.allclose(_softmax(z / 2.0), _softmax(np.log(np.asarray(dense_softmax(x))) / 2.0), atol=1e-5)
    plain = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    assert not outputs_probabilities(plain) and logits_model(plain) is plain


def test_baseline_training_learns_and_reports_each_epoch() -> None:
    from edgekit.recipes.family import paper_cnn

    ds = _tiny_dataset()
    model = paper_cnn(0.1, (8, 8, 1), 3, seed=0)
    events = []
    result = train(model, ds, "baseline", epochs=3, batch_size=16, seed=0, learning_rate=5e-3,
                   progress=events.append, name="tiny")
    assert result.model is model
    assert len(result.history["loss"]) == 3 and result.history["loss"][-1] < result.history["loss"][0]
    assert [e.done for e in events] == [0, 1, 2, 3] and {e.stage for e in events} == {"train"}


def test_train_rejects_bad_calls() -> None:
    from edgekit.recipes.family import paper_cnn

    ds = _tiny_dataset()
    with pytest.raises(ConfigError, match="recipe 'mixup' is not known"):
        train(paper_cnn(0.1, (8, 8, 1), 3), ds, "mixup", 1, 8, 0)
    with pytest.raises(ConfigError, match="needs a teacher"):
        train(paper_cnn(0.1, (8, 8, 1), 3), ds, "distillation", 1, 8, 0)
    with pytest.raises(ConfigError, match="has 10 outputs but dataset 'tiny' has 3 classes"):
        train(paper_cnn(0.1, (8, 8, 1), 10), ds, "baseline", 1, 8, 0)
    with pytest.raises(ConfigError, match=r"takes inputs \(16, 16, 1\)"):
        train(paper_cnn(0.1, (16, 16, 1), 3), ds, "baseline", 1, 8, 0)
