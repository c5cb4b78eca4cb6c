"""The architecture generator: seeded, stable ids, aligned and unaligned channels."""

from __future__ import annotations

import pytest

from edgekit.errors import ConfigError
from edgekit.predict.generate import ArchSpec, generate, round_channels


def test_reproducible_and_prefix_stable() -> None:
    a = generate(12, seed=3)
    b = generate(20, seed=3)
    assert [s.id for s in a] == [s.id for s in b[:12]]
    assert len({s.id for s in b}) == 20
    assert [s.id for s in generate(12, seed=4)] != [s.id for s in a]
    assert generate(5, seed=3, start=7)[0].id == b[7].id


def test_families_and_channel_alignment_both_covered() -> None:
    specs = generate(60, seed=0)
    assert {s.family for s in specs} == {"cnn", "mbv2"}
    channels = [layer["filters"] for s in specs for layer in s.layers if "filters" in layer]
    assert any(c % 8 == 0 for c in channels) and any(c % 4 for c in channels)
    assert any(layer.get("pad") for s in specs for layer in s.layers)
    assert any(layer.get("kernel") == 5 for s in specs for layer in s.layers)
    assert len({s.input_shape for s in specs}) >= 4


def test_round_channels() -> None:
    assert [round_channels(128 * 1.08, r) for r in ("raw", "div4", "div8", "odd")] == [138, 140, 136, 139]
    assert round_channels(34.56, "raw") == 35
    assert round_channels(3, "div8") == 8
    with pytest.raises(ConfigError):
        round_channels(10, "nearest")


def test_spec_round_trip_and_tamper_check() -> None:
    spec = generate(1, seed=1)[0]
    assert ArchSpec.from_dict(spec.to_dict()) == spec
    d = spec.to_dict()
    d["layers"][0] = dict(d["layers"][0], filters=999)
    with pytest.raises(ConfigError, match="does not match"):
        ArchSpec.from_dict(d)


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        generate(0)
    with pytest.raises(ConfigError, match="unknown"):
        generate(3, families=("resnet",))
