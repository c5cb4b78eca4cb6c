from __future__ import annotations

import numpy as np
import pytest

from edgekit.measurement import LatencyStats, Measurement, RunSettings, percentile, quality_flags


@pytest.mark.parametrize("q", [0, 10, 50, 90, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    rng = np.random.default_rng(3)
    xs = sorted(rng.lognormal(3, 0.4, size=37).tolist())
    assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))


def test_stats_from_samples() -> None:
    s = LatencyStats.from_samples([4.0, 1.0, 3.0, 2.0])
    assert (s.count, s.min, s.max, s.median, s.mean) == (4, 1.0, 4.0, 2.5, 2.5)
    assert s.std == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert s.cv == pytest.approx(s.std / 2.5)
    with pytest.raises(ValueError):
        LatencyStats.from_samples([])


def test_flags() -> None:
    steady = LatencyStats.from_samples([100.0] * 20)
    noisy = LatencyStats.from_samples([100.0, 200.0] * 10)
    spikes = LatencyStats.from_samples([100.0] * 38 + [400.0, 500.0])  # two preempted runs
    assert quality_flags(steady, {"cpu": 40.0}, {"cpu": 41.0}) == ()
    assert quality_flags(noisy, {}, {}) == ("noisy",)
    assert spikes.cv > 0.10 and spikes.p90 == spikes.p10
    assert quality_flags(spikes, {}, {}) == ("outliers",)
    assert quality_flags(steady, {"cpu": 40.0}, {"cpu": 50.0}) == ("heated",)
    assert "few-samples" in quality_flags(LatencyStats.from_samples([1.0, 1.0]), {}, {})


def test_measurement_round_trip_keeps_every_sample() -> None:
    samples = tuple(float(x) for x in range(100, 160))
    m = Measurement("ab" * 32, "m_int8", "host", "host", "edgekit-runner", "1", RunSettings(runs=60),
                    samples, LatencyStats.from_samples(samples), init_us=5.0, flags=("noisy",))
    back = Measurement.from_dict(m.to_dict())
    assert back == m
    assert back.samples_us == samples
