"""Diverse, realistic architectures to measure: the training set of a latency predictor.

Two families, drawn from one seeded random generator so that architecture ``i`` of seed
``s`` is always the same network:

* ``cnn`` — the paper's CNN family (:mod:`edgekit.recipes.family`) loosened: 1–3 stem
  convolutions, 2–4 blocks of 1–3 convolutions with 1×1/3×3/5×5 kernels, a width
  multiplier in [0.2, 1.6], input sides 24…72, 2×2 max-pooling between blocks, an optional
  hidden dense layer.
* ``mbv2`` — MobileNetV2-style inverted residuals: a stride-2 stem, blocks of expand 1×1 →
  depthwise 3×3/5×5 (stride 1 or 2, sometimes with explicit ``ZeroPadding2D`` + ``valid``
  as Keras' MobileNetV2 does) → project 1×1, residual ADD when the shapes allow, ReLU6, input sides 64…160.

Channel counts are rounded by a per-architecture rule: ``raw`` (``round(c·w)``, usually
unaligned, e.g. 34/69/138), ``div4``/``div8`` (MobileNet's ``make_divisible``), or ``odd``
(forced off every multiple of 2), so the predictor sees aligned and unaligned kernels.

An architecture is a JSON-able :class:`ArchSpec` whose ``id`` is a hash of its layers, so
it is stable across runs and machines. TensorFlow is imported only by :func:`build_keras`.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

FAMILIES: tuple[str, ...] = ("cnn", "mbv2")
ROUNDINGS: tuple[str, ...] = ("raw", "div4", "div8", "odd")


@dataclass(frozen=True)
class ArchSpec:
    """One architecture: input shape and layer list (plain JSON), and its stable id."""

    family: str
    input_shape: tuple[int, int, int]
    layers: tuple[dict[str, Any], ...]
    num_classes: int = 10
    rounding: str = "raw"

    @property
    def id(self) -> str:
        body = json.dumps({"f": self.family, "in": list(self.input_shape), "l": list(self.layers),
                           "k": self.num_classes}, sort_keys=True)
        return f"{self.family}-{hashlib.sha256(body.encode()).hexdigest()[:12]}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "family": self.family, "input_shape": list(self.input_shape),
                "layers": [dict(x) for x in self.layers], "num_classes": self.num_classes,
                "rounding": self.rounding}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ArchSpec":
        spec = cls(d["family"], tuple(d["input_shape"]), tuple(dict(x) for x in d["layers"]),  # type: ignore[arg-type]
                   int(d.get("num_classes", 10)), d.get("rounding", "raw"))
        if "id" in d and d["id"] != spec.id:
            raise ConfigError(f"architecture id {d['id']!r} does not match its layers (hash {spec.id!r})",
                              hint="the spec file was edited; regenerate it")
        return spec


def round_channels(c: float, rule: str) -> int:
    """Channels for a scaled count ``c`` under a rounding rule (see :data:`ROUNDINGS`)."""
    if rule == "raw":
        return max(1, int(round(c)))
    if rule in ("div4", "div8"):
        d = 4 if rule == "div4" else 8
        v = max(d, int(c + d / 2) // d * d)
        return v + d if v < 0.9 * c else v  # MobileNet's make_divisible
    if rule == "odd":
        v = max(1, int(round(c)))
        return v if v % 2 else v + 1
    raise ConfigError(f"channel rounding {rule!r} is unknown", hint=f"use one of {', '.join(ROUNDINGS)}")


def _cnn(rng: random.Random, rule: str) -> ArchSpec:
    side = rng.choice((24, 32, 32, 40, 48, 56, 64, 72))
    width = round(rng.uniform(0.2, 1.6), 3)
    layers: list[dict[str, Any]] = []
    stem = rng.choice((8, 16, 24, 32))
    for _ in range(rng.randint(1, 3)):
        layers.append({"op": "conv", "filters": round_channels(stem * max(width, 0.5), rule),
                       "kernel": 3, "stride": 1})
    cur = side
    if cur >= 16 and rng.random() < 0.8:
        layers.append({"op": "maxpool"})
        cur //= 2
    base = rng.choice((32, 48, 64))
    blocks = rng.randint(2, 4)
    for b in range(blocks):
        k = rng.choice((1, 3, 3, 3, 5))
        for _ in range(rng.randint(1, 3)):
            layers.append({"op": "conv", "filters": round_channels(base * (2 ** b) * width, rule),
                           "kernel": k, "stride": 1})
        if b < blocks - 1 and cur >= 4:
            layers.append({"op": "maxpool"})
            cur //= 2
    layers.append({"op": "gap"})
    if rng.random() < 0.7:
        layers.append({"op": "dense", "units": round_channels(128 * width, rule)})
    return ArchSpec("cnn", (side, side, 3), tuple(layers), 10, rule)


def _mbv2(rng: random.Random, rule: str) -> ArchSpec:
    side = rng.choice((64, 96, 112, 128, 128, 160))
    width = round(rng.uniform(0.35, 1.4), 3)
    explicit_pad = rng.random() < 0.5
    layers: list[dict[str, Any]] = [{"op": "conv", "filters": round_channels(32 * width, rule),
                                     "kernel": 3, "stride": 2}]
    cur = side // 2
    plan = [(1, 16, 1), (6, 24, 2), (6, 32, 2), (6, 64, 2), (6, 96, 1), (6, 160, 2)]
    n_stages = rng.randint(3, len(plan))
    for t, c, s in plan[:n_stages]:
        t = t if t == 1 else rng.choice((3, 4, 6))
        k = rng.choice((3, 3, 5))
        for r in range(rng.randint(1, 3)):
            stride = s if (r == 0 and cur >= 4) else 1
            layers.append({"op": "ir", "expand": t, "filters": round_channels(c * width, rule),
                           "kernel": k, "stride": stride, "pad": bool(explicit_pad and stride == 2)})
            cur = (cur + 1) // 2 if stride == 2 else cur
    layers.append({"op": "conv", "filters": round_channels(max(320, 640 * width) if n_stages > 4
                                                           else 256 * width, rule),
                   "kernel": 1, "stride": 1})
    layers.append({"op": "gap"})
    return ArchSpec("mbv2", (side, side, 3), tuple(layers), 10, rule)


def generate(n: int, seed: int = 0, families: tuple[str, ...] = FAMILIES,
             start: int = 0) -> list[ArchSpec]:
    """Architectures ``start … start+n-1`` of a seeded sequence (each from its own RNG, so
    asking for more never changes the first ones); duplicates are skipped.

    Raises:
        ConfigError: for a non-positive count or an unknown family.
    """
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"number of architectures {n!r} is not a positive whole number", hint="pass e.g. 40")
    bad = [f for f in families if f not in FAMILIES]
    if bad or not families:
        raise ConfigError(f"architecture families {bad or families!r} are unknown",
                          hint=f"use some of {', '.join(FAMILIES)}")
    out: list[ArchSpec] = []
    seen: set[str] = set()
    i = start
    while len(out) < n:
        rng = random.Random(f"edgekit-predict:{seed}:{i}")
        family = families[i % len(families)] if len(families) > 1 else families[0]
        rule = rng.choice(ROUNDINGS)
        spec = _cnn(rng, rule) if family == "cnn" else _mbv2(rng, rule)
        i += 1
        if spec.id not in seen:
            seen.add(spec.id)
            out.append(spec)
    return out


def build_keras(spec: ArchSpec, seed: int = 0) -> Any:
    """The Keras model of an architecture (random weights; for latency only)."""
    from ..tflite.quiet import quiet_tensorflow

    with quiet_tensorflow():
        return _build(spec, seed)


def _build(spec: ArchSpec, seed: int) -> Any:
    import keras
    from keras import layers as L

    init = keras.initializers.HeNormal(seed=seed)
    inputs = keras.Input(spec.input_shape, name="image")
    x = inputs
    for i, layer in enumerate(spec.layers):
        op = layer["op"]
        if op == "conv":
            x = L.Conv2D(layer["filters"], layer["kernel"], strides=layer["stride"], padding="same",
                         use_bias=False, kernel_initializer=init, name=f"l{i}_conv")(x)
            x = L.BatchNormalization(name=f"l{i}_bn")(x)
            x = L.ReLU(6.0 if spec.family == "mbv2" else None, name=f"l{i}_relu")(x)
        elif op == "maxpool":
            x = L.MaxPooling2D(2, name=f"l{i}_pool")(x)
        elif op == "gap":
            x = L.GlobalAveragePooling2D(name=f"l{i}_gap")(x)
        elif op == "dense":
            x = L.Dense(layer["units"], activation="relu", kernel_initializer=init, name=f"l{i}_dense")(x)
        elif op == "ir":
            x = _inverted_residual(L, x, layer, init, f"l{i}")
        else:
            raise ConfigError(f"layer {i} has unknown op {op!r}", hint="regenerate the architecture")
    x = L.Dense(spec.num_classes, kernel_initializer=init, name="logits")(x)
    x = L.Softmax(name="probabilities")(x)
    return keras.Model(inputs, x, name=spec.id)


def _inverted_residual(L: Any, x: Any, layer: dict[str, Any], init: Any, name: str) -> Any:
    cin = int(x.shape[-1])
    h = x
    if layer["expand"] != 1:
        h = L.Conv2D(cin * layer["expand"], 1, use_bias=False, kernel_initializer=init, name=f"{name}_expand")(h)
        h = L.BatchNormalization(name=f"{name}_expand_bn")(h)
        h = L.ReLU(6.0, name=f"{name}_expand_relu")(h)
    if layer["pad"]:
        k = layer["kernel"]
        h = L.ZeroPadding2D(((k // 2 - 1 + 1, k // 2), (k // 2 - 1 + 1, k // 2)), name=f"{name}_pad")(h)
        h = L.DepthwiseConv2D(k, strides=layer["stride"], padding="valid", use_bias=False,
                              depthwise_initializer=init, name=f"{name}_dw")(h)
    else:
        h = L.DepthwiseConv2D(layer["kernel"], strides=layer["stride"], padding="same", use_bias=False,
                              depthwise_initializer=init, name=f"{name}_dw")(h)
    h = L.BatchNormalization(name=f"{name}_dw_bn")(h)
    h = L.ReLU(6.0, name=f"{name}_dw_relu")(h)
    h = L.Conv2D(layer["filters"], 1, use_bias=False, kernel_initializer=init, name=f"{name}_project")(h)
    h = L.BatchNormalization(name=f"{name}_project_bn")(h)
    if layer["stride"] == 1 and cin == layer["filters"]:
        h = L.Add(name=f"{name}_add")([x, h])
    return h
