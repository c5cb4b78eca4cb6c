"""The paper's training recipes: baseline, data augmentation, augmentation + distillation.

All three run in one custom training loop (``tf.GradientTape`` in a ``tf.function``), so
that the distillation loss is written out exactly:

    loss = λ1 · CE(y, softmax(s)) + λ2 · T² · CE(softmax(t / T), softmax(s / T))

where ``s`` and ``t`` are the student's and the teacher's logits. This is the paper's
λ1·CE(labels) + λ2·CE(teacher), with the teacher's distribution softened by the
temperature T (Hinton et al. 2015); the T² factor keeps the soft term's gradients at the
same scale as the hard term's when T changes. Set ``lambda_teacher = 0`` to recover the
augmentation recipe.

Augmentation uses only label-invariant transforms: small shifts, small rotations, and
horizontal flips only where the dataset allows them (CIFAR-10 yes; digits no — a
mirrored 2 is not a 2). The teacher sees the same augmented batch as the student.

Epochs run inside :func:`edgekit.tflite.quiet.quiet_tensorflow` (TensorFlow's console
noise goes to the debug log); progress is reported between epochs.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np

from ..errors import ConfigError
from ..progress import ProgressCallback, report
from .datasets import Dataset

LOG = logging.getLogger(__name__)

RECIPES: tuple[str, ...] = ("baseline", "augmentation", "distillation")
#: recipes whose training batches are augmented
AUGMENTED: frozenset[str] = frozenset({"augmentation", "distillation"})


@dataclass(frozen=True)
class AugmentationConfig:
    """Label-invariant augmentation.

    Attributes:
        shift: the largest shift, as a fraction of the image's height and width.
        rotation_degrees: the largest rotation either way, in degrees.
        flip: horizontal flips: None = whatever the dataset allows (``Dataset.allow_flip``),
            True/False to force.
    """

    shift: float = 0.125
    rotation_degrees: float = 10.0
    flip: Optional[bool] = None

    def validate(self) -> None:
        if not 0 <= self.shift < 0.5:
            raise ConfigError(f"augmentation shift {self.shift} is not in [0, 0.5)",
                              hint="a fraction of the image size, e.g. 0.125")
        if not 0 <= self.rotation_degrees <= 45:
            raise ConfigError(f"augmentation rotation {self.rotation_degrees}° is not in [0, 45]",
                              hint="small rotations keep labels, e.g. 10")

    def resolved_flip(self, dataset_allows_flip: bool) -> bool:
        return dataset_allows_flip if self.flip is None else bool(self.flip)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """A trained model, its per-epoch history and the training time."""

    model: Any
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0


# -- losses -----------------------------------------------------------------------------
def distillation_loss(labels: Any, student_logits: Any, teacher_logits: Any, temperature: float,
                      lambda_labels: float, lambda_teacher: float) -> Any:
    """λ1·CE(y, softmax(s)) + λ2·T²·CE(softmax(t/T), softmax(s/T)), averaged over the batch.

    Args:
        labels: int class indices, shape (N,).
        student_logits: (N, C) logits of the student.
        teacher_logits: (N, C) logits of the teacher (no gradient flows into them).
        temperature: T > 0; higher softens the teacher's distribution.
        lambda_labels: λ1, weight of the cross-entropy with the labels.
        lambda_teacher: λ2, weight of the cross-entropy with the softened teacher.

    Returns:
        A scalar tensor.
    """
    import tensorflow as tf

    s = tf.convert_to_tensor(student_logits, tf.float32)
    t = tf.stop_gradient(tf.convert_to_tensor(teacher_logits, tf.float32))
    y = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    hard = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=s))
    soft_targets = tf.nn.softmax(t / temperature)
    soft = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=soft_targets,
                                                                  logits=s / temperature))
    return lambda_labels * hard + lambda_teacher * (temperature ** 2) * soft


def label_loss(labels: Any, logits: Any) -> Any:
    """CE(y, softmax(logits)), averaged over the batch."""
    import tensorflow as tf

    y = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))


# -- models -----------------------------------------------------------------------------
def outputs_probabilities(model: Any) -> bool:
    """True when the model ends in a softmax (a Softmax layer or a softmax activation)."""
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return True
    act = getattr(last, "activation", None)
    return act is not None and getattr(act, "__name__", "") == "softmax"


def logits_model(model: Any) -> Any:
    """A model that shares ``model``'s layers and outputs its logits.

    For a model ending in a ``Softmax`` layer, the input of that layer; for a layer with a
    softmax activation, ``log(p)`` (softmax is shift-invariant, so softmax(log p / T) equals
    softmax(z / T)); otherwise the model's output is taken to be logits already.
    """
    import keras
    import tensorflow as tf

    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        return keras.Model(inputs, last.input, name=f"{model.name}_logits")
    if outputs_probabilities(model):
        def log_probs(x: Any, training: bool = False) -> Any:
            return tf.math.log(tf.clip_by_value(model(x, training=training), 1e-7, 1.0))
        return log_probs
    return model


def make_augmenter(config: AugmentationConfig, allow_flip: bool, seed: int) -> Any:
    """A Keras pipeline of random label-invariant transforms (active with ``training=True``)."""
    import keras
    from keras import layers

    config.validate()
    steps: list[Any] = []
    if config.shift > 0:
        steps.append(layers.RandomTranslation(config.shift, config.shift, fill_mode="constant",
                                              fill_value=0.0, seed=seed))
    if config.resolved_flip(allow_flip):
        steps.append(layers.RandomFlip("horizontal", seed=seed + 1))
    if config.rotation_degrees > 0:
        steps.append(layers.RandomRotation(config.rotation_degrees / 360.0, fill_mode="constant",
                                           fill_value=0.0, seed=seed + 2))
    if not steps:
        return layers.Identity(name="augmentation")
    return keras.Sequential(steps, name="augmentation")


# -- training ---------------------------------------------------------------------------
def train(model: Any, dataset: Dataset, recipe: str, epochs: int, batch_size: int, seed: int,
          teacher: Any = None, temperature: float = 4.0, lambda_labels: float = 0.5,
          lambda_teacher: float = 0.5, augmentation: AugmentationConfig = AugmentationConfig(),
          learning_rate: float = 2e-3, progress: Optional[ProgressCallback] = None,
          name: str = "") -> TrainResult:
    """Train ``model`` in place with one of the paper's recipes.

    Args:
        model: a Keras classifier (softmax or logits output) matching the dataset's shape.
        dataset: the training data (``x_train``, ``y_train``).
        recipe: ``baseline`` | ``augmentation`` | ``distillation`` (augmentation + teacher).
        epochs: passes over the training set.
        batch_size: samples per step.
        seed: seeds weights' shuffling and the augmentation.
        teacher: a trained Keras model; required for ``distillation``.
        temperature: T of the distillation loss.
        lambda_labels: λ1 of the distillation loss.
        lambda_teacher: λ2 of the distillation loss.
        augmentation: the transforms of the augmented recipes.
        learning_rate: Adam's learning rate (cosine-decayed to 5 % over the run).
        progress: receives ("train", name, epoch, epochs) after each epoch.
        name: the item name in progress events.

    Returns:
        A :class:`TrainResult` with the same model object, trained.

    Raises:
        ConfigError: unknown recipe, missing teacher, shapes that do not match.
    """
    if recipe not in RECIPES:
        raise ConfigError(f"training recipe '{recipe}' is not known", hint=f"use one of: {', '.join(RECIPES)}")
    if recipe == "distillation" and teacher is None:
        raise ConfigError("the distillation recipe needs a teacher model",
                          hint="train a teacher first (the pipeline does this from [train] teacher_width)")
    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"epochs ({epochs}) and batch_size ({batch_size}) must be at least 1")
    _check_shapes(model, dataset, "model")
    if teacher is not None and recipe == "distillation":
        _check_shapes(teacher, dataset, "teacher")

    from ..tflite.quiet import quiet_tensorflow

    t0 = time.perf_counter()
    with quiet_tensorflow():
        step = _build_step(model, dataset, recipe, epochs, batch_size, seed, teacher, temperature,
                           lambda_labels, lambda_teacher, augmentation, learning_rate)
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    x, y = dataset.x_train.astype(np.float32), dataset.y_train.astype(np.int64)
    report(progress, "train", name, 0, epochs)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        losses, correct = [], 0
        with quiet_tensorflow():
            for i in range(0, len(x), batch_size):
                idx = order[i:i + batch_size]
                loss, hits = step(x[idx], y[idx])
                losses.append(float(loss) * len(idx))
                correct += int(hits)
        history["loss"].append(sum(losses) / len(x))
        history["accuracy"].append(correct / len(x))
        if not math.isfinite(history["loss"][-1]):
            raise ConfigError(f"training '{name or model.name}' diverged at epoch {epoch + 1} (loss is NaN)",
                              hint="lower [train] learning_rate")
        LOG.debug("%s epoch %d: loss %.4f acc %.4f", name, epoch + 1, history["loss"][-1],
                  history["accuracy"][-1])
        report(progress, "train", name, epoch + 1, epochs,
               f"loss {history['loss'][-1]:.3f} acc {history['accuracy'][-1]:.3f}")
    return TrainResult(model, history, time.perf_counter() - t0)


def _check_shapes(model: Any, dataset: Dataset, what: str) -> None:
    want = tuple(model.input_shape[1:])
    have = tuple(dataset.input_shape)
    if len(want) != len(have) or any(w is not None and w != h for w, h in zip(want, have)):
        raise ConfigError(f"{what} '{model.name}' takes inputs {want} but dataset '{dataset.name}' "
                          f"has images {have}", hint="use a model built for the dataset's image shape")
    classes = model.output_shape[-1]
    if classes != dataset.num_classes:
        raise ConfigError(f"{what} '{model.name}' has {classes} outputs but dataset '{dataset.name}' "
                          f"has {dataset.num_classes} classes",
                          hint="use a model whose last layer has one unit per class")


def _build_step(model: Any, dataset: Dataset, recipe: str, epochs: int, batch_size: int, seed: int,
                teacher: Any, temperature: float, lambda_labels: float, lambda_teacher: float,
                augmentation: AugmentationConfig, learning_rate: float) -> Any:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    student = logits_model(model)
    teach = logits_model(teacher) if recipe == "distillation" else None
    augment = make_augmenter(augmentation, dataset.allow_flip, seed) if recipe in AUGMENTED else None
    steps = epochs * math.ceil(len(dataset.x_train) / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, steps), alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)
    optimizer.build(model.trainable_variables)
    spec_x = tf.TensorSpec((None, *dataset.input_shape), tf.float32)
    spec_y = tf.TensorSpec((None,), tf.int64)

    @tf.function(input_signature=[spec_x, spec_y])
    def step(x: Any, y: Any) -> tuple[Any, Any]:
        if augment is not None:
            x = augment(x, training=True)
        with tf.GradientTape() as tape:
            s = student(x, training=True)
            if teach is not None:
                t = teach(x, training=False)
                loss = distillation_loss(y, s, t, temperature, lambda_labels, lambda_teacher)
            else:
                loss = label_loss(y, s)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        hits = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(s, axis=-1), y), tf.int32))
        return loss, hits

    return step


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy of a Keras model (argmax of its output) on arrays."""
    from ..tflite.quiet import quiet_tensorflow

    with quiet_tensorflow():
        pred = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(pred, axis=-1) == y))
