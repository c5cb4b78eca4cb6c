"""Replicated sessions: one model measured in N sessions, judged by MLPerf Mobile's rule.

Within-session statistics cannot see a session that ran slow as a whole (another tenant,
a governor change, a thermal state): five interleaved sessions of one model on this host
gave medians of 936, 1362, 995, 953 and 984 µs, and the slow one was not flagged by its own
spread. With ``RunSettings.repeat = N`` a model is measured in N sessions, interleaved
across models (A B A B …, never A A B B) with the cool-down between runs; the stored
measurement pools every session's warm samples, lists each session (median and its
interval) and carries the stability verdict: all session medians within
``stability_tolerance`` (5 %) of each other → stable, else flagged ``unstable``.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from ..measurement import LatencyStats, Measurement, quality_flags
from ..stats.stability import stability


def session_summary(m: Measurement) -> dict[str, object]:
    """What a combined measurement keeps of one session."""
    s = m.stats
    return {"id": m.id, "median_us": s.median if s else None, "count": s.count if s else 0,
            "median_ci_us": [s.median_ci_lo, s.median_ci_hi] if s else None,
            "started_at": m.started_at, "finished_at": m.finished_at, "flags": list(m.flags)}


def combine_sessions(sessions: Sequence[Measurement], tolerance: float) -> Measurement:
    """One measurement of a model from its sessions (all ok, same artifact and device)."""
    first, last = sessions[0], sessions[-1]
    if len(sessions) == 1:
        return first
    medians = [m.stats.median for m in sessions if m.stats is not None]
    verdict = stability(medians, tolerance=tolerance) if len(medians) == len(sessions) else None
    samples = tuple(x for m in sessions for x in m.samples_us)
    stats = LatencyStats.from_samples(samples) if samples else last.stats
    # heat, throttling, emulation … of any session stay; noise is judged again on the pooled samples
    spread = {"noisy", "outliers", "few-samples"}
    flags = [f for f in dict.fromkeys(f for m in sessions for f in m.flags) if f not in spread]
    flags += [f for f in quality_flags(stats, {}, {}) if f in spread]
    doc: dict[str, object] = {}
    if verdict is not None:
        doc = {"state": verdict.state, "spread": verdict.spread, "tolerance": tolerance,
               "sessions": len(sessions), "rule": verdict.rule}
        if verdict.state == "unstable":
            flags.append("unstable")
    else:
        doc = {"state": "cannot-judge", "reason": "a session kept no median", "sessions": len(sessions)}
    return dataclasses.replace(
        last, samples_us=samples, stats=stats,
        warmup_samples_us=tuple(x for m in sessions for x in m.warmup_samples_us),
        flags=tuple(flags), started_at=first.started_at, finished_at=last.finished_at,
        init_us=first.init_us, first_inference_us=first.first_inference_us,
        sessions=tuple(session_summary(m) for m in sessions), stability=doc,
        raw={**last.raw, "sessions_combined": len(sessions)})
