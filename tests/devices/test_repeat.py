"""Replicated sessions: interleaved across models, pooled, judged stable or not."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from edgekit.devices.deploy import deploy
from edgekit.devices.replicate import combine_sessions
from edgekit.measurement import LatencyStats, Measurement, RunSettings
from edgekit.store import NO_STORE

QUICK = RunSettings(warmup_runs=2, warmup_seconds=0.0, runs=20, min_seconds=0.05, repeat=3)


def test_sessions_interleave_across_models_and_are_kept(tiny_models: Any) -> None:
    ms = deploy([tiny_models.fp32_tflite, tiny_models.int8_tflite], device="host", settings=QUICK, store=NO_STORE)
    assert [m.status for m in ms] == ["ok", "ok"]
    a, b = ms
    assert len(a.sessions) == len(b.sessions) == 3
    order = sorted([(s["started_at"], "A") for s in a.sessions] + [(s["started_at"], "B") for s in b.sessions])
    assert "".join(x for _, x in order) == "ABABAB"                     # not AAABBB
    assert a.stats.count == sum(s["count"] for s in a.sessions) == len(a.samples_us)
    assert a.stability["state"] in ("stable", "unstable") and a.stability["sessions"] == 3
    assert ("unstable" in a.flags) == (a.stability["state"] == "unstable")


def _m(median: float, i: int) -> Measurement:
    samples = tuple(median * (1 + 0.001 * k) for k in range(-10, 11))
    return Measurement("a" * 64, "m", "host", "host", "r", "1", RunSettings(), samples,
                       LatencyStats.from_samples(samples), started_at=float(i), finished_at=i + 0.5)


def test_a_slow_session_makes_the_measurement_unstable() -> None:
    # the medians of five interleaved sessions of face_detection_short_range on this host (µs)
    sessions = [_m(v, i) for i, v in enumerate([936, 1362, 995, 953, 984])]
    m = combine_sessions(sessions, 0.05)
    assert m.stability["state"] == "unstable" and "unstable" in m.flags
    assert m.stability["spread"] == pytest.approx(1362 / 936 - 1)
    steady = combine_sessions([_m(v, i) for i, v in enumerate([936, 953, 960])], 0.05)
    assert steady.stability["state"] == "stable" and "unstable" not in steady.flags
    assert [s["median_us"] for s in steady.sessions] == pytest.approx([936, 953, 960])
    assert dataclasses.replace(steady).started_at == 0.0 and steady.finished_at == 2.5
