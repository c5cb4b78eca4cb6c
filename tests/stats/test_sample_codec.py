"""The sample codec: exact round trips, size on realistic distributions, corrupt input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.errors import ConfigError, MeasurementError
from edgekit.stats.sample_codec import (FORMAT_VERSION, decode_samples, encode_samples, samples_from_base64,
                                        samples_to_base64, to_nanoseconds)

N = 57_000


def realistic(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Warm samples in µs at 1 ns resolution (as a ns timer gives them)."""
    if kind == "20us":
        x = 20.0 * rng.lognormal(0.0, 0.03, N) + rng.exponential(0.3, N)
    elif kind == "1ms":
        x = 1000.0 * rng.lognormal(0.0, 0.02, N) + np.where(rng.random(N) < 0.01, rng.exponential(300.0, N), 0.0)
    elif kind == "1ms-us-timer":
        x = np.round(1000.0 * rng.lognormal(0.0, 0.02, N))
    else:  # drifting: the device heats up over the run
        x = 1000.0 * np.linspace(1.0, 1.3, N) * rng.lognormal(0.0, 0.002, N)
    return np.round(x * 1000.0) / 1000.0


@pytest.mark.parametrize("kind,limit", [("20us", 150_000), ("1ms", 150_000), ("1ms-us-timer", 60_000),
                                        ("drift", 150_000)])
def test_round_trip_is_exact_and_small(kind: str, limit: int) -> None:
    x = realistic(kind, np.random.default_rng(9))
    blob = encode_samples(x)
    assert blob[0] == FORMAT_VERSION
    assert np.array_equal(decode_samples(blob), x)
    assert len(blob) <= limit, f"{kind}: {len(blob)} bytes"
    assert len(blob) < 0.4 * len(json.dumps(x.tolist())), "no better than JSON floats"


def test_drift_uses_the_delta_transform_and_iid_the_offset() -> None:
    rng = np.random.default_rng(3)
    assert encode_samples(realistic("drift", rng))[1] == 1
    assert encode_samples(realistic("1ms", rng))[1] == 0


def test_sub_ns_values_round_to_the_nearest_ns() -> None:
    x = np.array([1.0004, 1.0006, 999.9999994, 0.0, -2.5])
    y = decode_samples(encode_samples(x))
    assert np.array_equal(to_nanoseconds(y), to_nanoseconds(x))
    assert np.max(np.abs(y - x)) <= 0.0005 + 1e-12
    assert np.array_equal(decode_samples(encode_samples(y)), y)


@pytest.mark.parametrize("x", [[], [5.0], [7.25] * 10, [1e12, 1.0, 1e12], list(range(1, 300))])
def test_edge_cases_round_trip(x: list[float]) -> None:
    arr = np.asarray(x, dtype=np.float64)
    assert np.array_equal(decode_samples(encode_samples(arr)), arr)


def test_base64_in_json() -> None:
    x = realistic("20us", np.random.default_rng(1))[:1000]
    doc = json.loads(json.dumps({"samples_b64": samples_to_base64(x)}))
    assert np.array_equal(samples_from_base64(doc["samples_b64"]), x)


def test_corrupt_and_bad_input() -> None:
    blob = encode_samples([1.0, 2.0, 3.0])
    with pytest.raises(MeasurementError, match="format version 9"):
        decode_samples(bytes([9]) + blob[1:])
    with pytest.raises(MeasurementError):
        decode_samples(blob[:-3])
    with pytest.raises(MeasurementError, match="base64"):
        samples_from_base64("not base64!")
    with pytest.raises(ConfigError, match="NaN"):
        encode_samples([1.0, float("nan")])
