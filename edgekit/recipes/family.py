"""The paper's CNN family: one convolutional classifier, scaled by a width multiplier.

Menghani (2021, section 4.1) trains a CIFAR-10 CNN whose width multiplier scales the
filters of every convolution except the first two, at widths 0.05 … 1.0 (Table 5). The
paper gives parameter counts, not layers, so the layers here were fitted to its counts by
experiment: a fixed stem of two 32-filter convolutions, then three blocks of scaled
convolutions (64·w ×2, 128·w ×3, 256·w ×2) and a scaled hidden dense layer (128·w).
On 32×32×3 inputs with 10 classes this lands within 1.1 % of the paper's count at every
width (see :func:`family_param_table`).

Only operators that full-integer quantization and the EdgeTPU compiler handle are used:
Conv2D without bias + BatchNormalization (folded into the convolution by the converter),
ReLU, MaxPool, GlobalAveragePooling, Dense, Softmax. Pooling adapts to the input: a block
is followed by a 2×2 max-pool only while the feature map is at least 4×4, so any input of
8×8 or more works (the scikit-learn digits are 8×8).

TensorFlow is imported inside the functions that need it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError

#: the widths of the paper's Table 5
PAPER_WIDTHS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0)
#: filters of the two fixed (unscaled) stem convolutions
STEM_FILTERS: tuple[int, ...] = (32, 32)
#: filters at width 1.0 of the scaled convolution blocks, one tuple per block
BLOCK_FILTERS: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128, 128), (256, 256))
#: units at width 1.0 of the scaled hidden dense layer
DENSE_UNITS: int = 128
#: the family's name, stored with every artifact
FAMILY_NAME = "paper-cnn"
#: the paper's parameter counts (thousands) on CIFAR-10, Table 5 (also in /shared/paper)
PAPER_PARAMS_K: dict[float, float] = {
    0.05: 14.7, 0.1: 26.0, 0.25: 98.57, 0.5: 350.05, 0.75: 764.87, 1.0: 1343.01,
}
#: smallest side the family accepts (three poolings need at least 8 pixels)
MIN_SIDE = 8


def scaled(filters: int, width: float) -> int:
    """The number of filters of a scaled layer at ``width`` (rounded, at least 1)."""
    return max(1, int(round(filters * width)))


def make_divisible(value: float, multiple: int = 1) -> int:
    """MobileNet's ``make_divisible``: ``value`` rounded to the nearest multiple of ``multiple``,
    at least ``multiple``, and never more than 10 % below ``value`` (then one multiple up).

    ``multiple=1`` is plain rounding (at least 1): the family's widths without rounding.
    """
    multiple = check_multiple(multiple)
    new = max(multiple, int(value + multiple / 2) // multiple * multiple)
    if new < 0.9 * value:
        new += multiple
    return new


def check_multiple(multiple: Any) -> int:
    """``multiple`` as a whole number ≥ 1.

    Raises:
        ConfigError: it is not one.
    """
    if isinstance(multiple, bool) or not isinstance(multiple, int) or multiple < 1:
        raise ConfigError(f"channel multiple {multiple!r} is not a whole number ≥ 1",
                          hint="use 1 (no rounding, the paper's widths) or e.g. 4, 8 or 16 (MobileNet uses 8)")
    return multiple


def channels(width: float, multiple: int = 1) -> dict[str, list[int]]:
    """Every conv/dense width of the family member: ``stem``, ``blocks`` (one list per block)
    and ``dense`` (the hidden layer), each rounded by :func:`make_divisible` to ``multiple``.

    With ``multiple=1`` these are the widths the family has always had.
    """
    check_multiple(multiple)

    def w(f: int, scale: float) -> int:
        return scaled(f, scale) if multiple == 1 else make_divisible(f * scale, multiple)

    return {"stem": [w(f, 1.0) for f in STEM_FILTERS],
            "blocks": [[w(f, width) for f in block] for block in BLOCK_FILTERS],
            "dense": [w(DENSE_UNITS, width)]}


def flat_channels(width: float, multiple: int = 1) -> list[int]:
    """:func:`channels` as one list: stem, blocks, hidden dense (the order of the layers)."""
    c = channels(width, multiple)
    return c["stem"] + [f for block in c["blocks"] for f in block] + c["dense"]


def family_label(multiple: int = 1) -> str:
    """The family's name in model info: ``paper-cnn``, or ``paper-cnn-m8`` with channels rounded to 8."""
    return FAMILY_NAME if check_multiple(multiple) == 1 else f"{FAMILY_NAME}-m{multiple}"


def _check(width: float, input_shape: Sequence[int], num_classes: int) -> tuple[int, int, int]:
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not math.isfinite(width) \
            or width <= 0 or width > 16:
        raise ConfigError(f"width multiplier {width!r} is not a number in (0, 16]",
                          hint="use e.g. 0.05, 0.1, 0.25, 0.5, 0.75 or 1.0 (the paper's widths)")
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or shape[0] < MIN_SIDE or shape[1] < MIN_SIDE or shape[2] < 1:
        raise ConfigError(
            f"input shape {tuple(input_shape)} does not suit the paper CNN family",
            hint=f"the family takes images of shape (height, width, channels) with height and "
                 f"width ≥ {MIN_SIDE}",
        )
    if num_classes < 2:
        raise ConfigError(f"num_classes {num_classes} must be at least 2",
                          hint="the family is a classifier")
    return shape  # type: ignore[return-value]


def width_tag(width: float) -> str:
    """A short, file-name-safe tag for a width: 0.25 → ``w0.25``, 1.0 → ``w1``."""
    return "w" + (f"{width:.4f}".rstrip("0").rstrip("."))


def model_name(width: float, recipe: str = "", multiple: int = 1) -> str:
    """The family member's name, e.g. ``cnn-w0.25-distillation`` (``cnn-w0.25-m8-distillation``
    with channels rounded to multiples of 8)."""
    base = f"cnn-{width_tag(width)}" + (f"-m{multiple}" if check_multiple(multiple) != 1 else "")
    return f"{base}-{recipe}" if recipe else base


def paper_cnn(width: float, input_shape: Sequence[int] = (32, 32, 3), num_classes: int = 10,
              seed: int | None = None, channel_multiple: int = 1) -> Any:
    """Build (untrained) the paper's CNN at a width multiplier.

    Args:
        width: the width multiplier; scales every convolution except the first two, and the
            hidden dense layer.
        input_shape: (height, width, channels); height and width at least 8.
        num_classes: the number of classes of the softmax output.
        seed: seeds the weight initialisers (None: Keras' global seed state).
        channel_multiple: round every conv/dense width (the stem's too) to a multiple of this
            with :func:`make_divisible` (MobileNet's rule); 1 keeps the family's widths.

    Returns:
        A functional ``keras.Model`` named ``paper-cnn`` whose last layer is a ``Softmax``
        named ``probabilities`` over the output of the ``logits`` dense layer.

    Raises:
        ConfigError: for a width, shape, class count or channel multiple the family cannot take.
    """
    h, w, c = _check(width, input_shape, num_classes)
    widths = channels(width, channel_multiple)
    from ..tflite.quiet import quiet_tensorflow

    with quiet_tensorflow():  # the first layer initialises TensorFlow's devices, which prints
        return _build(widths, (h, w, c), num_classes, seed)


def _build(widths: dict[str, list[int]], shape: tuple[int, int, int], num_classes: int, seed: int | None) -> Any:
    import keras
    from keras import layers

    h, w, c = shape

    init = keras.initializers.HeNormal(seed=seed) if seed is not None else "he_normal"
    dense_init = keras.initializers.GlorotUniform(seed=None if seed is None else seed + 1)

    def conv_bn_relu(x: Any, filters: int, name: str) -> Any:
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init,
                          name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    inputs = keras.Input((h, w, c), name="image")
    x = inputs
    side = min(h, w)
    for i, f in enumerate(widths["stem"]):
        x = conv_bn_relu(x, f, f"stem{i + 1}")
    x, side = _maybe_pool(layers, x, side, "stem_pool")
    for b, block in enumerate(widths["blocks"]):
        for i, f in enumerate(block):
            x = conv_bn_relu(x, f, f"block{b + 1}_{i + 1}")
        if b < len(widths["blocks"]) - 1:
            x, side = _maybe_pool(layers, x, side, f"block{b + 1}_pool")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(widths["dense"][0], activation="relu", kernel_initializer=dense_init,
                     name="hidden")(x)
    logits = layers.Dense(num_classes, kernel_initializer=dense_init, name="logits")(x)
    probs = layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, probs, name=FAMILY_NAME)


def _maybe_pool(layers: Any, x: Any, side: int, name: str) -> tuple[Any, int]:
    if side >= 4:
        return layers.MaxPooling2D(2, name=name)(x), side // 2
    return x, side


def param_count(width: float, input_shape: Sequence[int] = (32, 32, 3), num_classes: int = 10,
                channel_multiple: int = 1) -> int:
    """The family member's parameter count (trainable + BatchNorm statistics), without Keras.

    Convolutions and dense layers have the same weights at any input size (global average
    pooling), so the count depends only on the channels, the width and the classes.
    """
    _, _, c = _check(width, input_shape, num_classes)
    flat = flat_channels(width, channel_multiple)
    total, prev = 0, c
    for f in flat[:-1]:
        total += 9 * prev * f + 4 * f   # 3×3 kernel without bias + BatchNorm (γ, β, mean, var)
        prev = f
    hidden = flat[-1]
    total += prev * hidden + hidden
    total += hidden * num_classes + num_classes
    return total


@dataclass(frozen=True)
class ParamRow:
    """One width of the family: our parameter count beside the paper's."""

    width: float
    ours: int
    paper: float          # the paper's count (units, not thousands)

    @property
    def ratio(self) -> float:
        return self.ours / self.paper

    def to_dict(self) -> dict[str, Any]:
        return {"width": self.width, "ours": self.ours, "paper": self.paper,
                "ours_k": round(self.ours / 1000, 2), "paper_k": round(self.paper / 1000, 2),
                "diff_pct": round((self.ratio - 1) * 100, 2)}


def paper_params_k() -> dict[float, float]:
    """The paper's parameter counts in thousands, read from the report's paper tables when
    they are shipped there, else the constants of this module (the same figures)."""
    try:
        path = resources.files("edgekit.report") / "paper_tables" / "table5_float.csv"
        with path.open("r", encoding="utf-8") as fh:
            rows = {float(r["width_multiplier"]): float(r["params_k"]) for r in csv.DictReader(fh)}
        if rows:
            return rows
    except (FileNotFoundError, KeyError, ValueError, OSError, ModuleNotFoundError):
        pass
    return dict(PAPER_PARAMS_K)


def family_param_table(input_shape: Sequence[int] = (32, 32, 3), num_classes: int = 10,
                       widths: Sequence[float] = PAPER_WIDTHS) -> list[ParamRow]:
    """Our parameter count beside the paper's at each width (CIFAR-10 shape by default)."""
    paper = paper_params_k()
    return [ParamRow(w, param_count(w, input_shape, num_classes), paper.get(w, float("nan")) * 1000)
            for w in widths]


def load_user_model(path: str | Path) -> Any:
    """Load a user's Keras model (``.keras`` or ``.h5``) with a clear error when it cannot be.

    Raises:
        ConfigError: the file is missing or not a Keras model.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"model '{path}' does not exist",
                          hint="list .keras or .h5 files saved by model.save() in [family] models")
    if path.suffix not in (".keras", ".h5"):
        raise ConfigError(f"model '{path}' is not a .keras or .h5 file",
                          hint="save the model with model.save('name.keras') and list that file")
    from ..tflite.quiet import quiet_tensorflow

    with quiet_tensorflow():
        import keras

        try:
            return keras.models.load_model(path, compile=False)
        except Exception as exc:  # keras raises many types for foreign/corrupt files
            raise ConfigError(f"model '{path}' could not be loaded by Keras: {exc}",
                              hint="check that the file is a complete Keras model saved by model.save()"
                              ) from exc
