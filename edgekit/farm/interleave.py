"""A/B jobs: a candidate and its in-run baseline, measured in interleaved sessions.

A lab job with a ``baseline`` (:mod:`.labfile`) measures both models on the same device
within the one job, ``repeat`` sessions each, alternating with the order balanced::

    pair 0: A B    pair 1: B A    pair 2: A B    …        (A = baseline, B = candidate)

with the job's cool-down between sessions. Sessions ``i`` of A and B form pair ``i``: they
ran next to each other, so a drift of a shared machine moves both, and the gate judges the
change from the pairs (:mod:`edgekit.stats.paired`). Alternating which model goes first
cancels a steady trend and any first-of-the-pair effect over the pairs.

That is the fallback for runners that measure one model per process (``benchmark_model``).
With edgekit's runner a pair is ONE session in which both models alternate inference by
inference (``--baseline-model``, :meth:`DeviceSession.measure_pair`): its two halves ran
microseconds apart, which also cancels the second-scale contention of a shared CPU that
alternating whole sessions cannot (``benchmarks/gate_power.py``: detection 13–19/20 with
whole sessions, 20/20 inference by inference).

Both measurements are kept: each is its sessions combined (:func:`combine_sessions`, every
session's summary tagged with its ``pair``). The baseline travels inside the candidate's
``raw["baseline"]`` until the job completes; :func:`split_baseline` turns it into its own
measurement row, stored in the same transaction as the candidate and the job's ``done``
state (:meth:`.queue.JobQueue.complete`), and the candidate keeps its id as
``raw["baseline_measurement_id"]``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Optional

from ..artifact import Artifact
from ..devices.replicate import combine_sessions, session_summary
from ..errors import ConfigError, DeviceError
from ..measurement import Measurement, RunSettings
from ..store import Store

#: measures one model once (one session) on the job's device
MeasureOne = Callable[[Artifact], Measurement]
#: measures candidate and baseline in one session, alternating inference by inference
MeasurePair = Callable[[Artifact, Artifact], tuple[Measurement, Measurement]]
#: waits the cool-down; True when the run is stopping
Pause = Callable[[float], bool]


def ab_order(pairs: int) -> list[tuple[str, int]]:
    """The session order of ``pairs`` pairs: ``[("baseline", 0), ("candidate", 0), ("candidate", 1), …]``."""
    order: list[tuple[str, int]] = []
    for i in range(pairs):
        first, second = ("baseline", "candidate") if i % 2 == 0 else ("candidate", "baseline")
        order += [(first, i), (second, i)]
    return order


def baseline_artifact(store: Store, baseline: dict[str, Any]) -> Artifact:
    """The in-run baseline of a job row (``{"sha256", "path"}``), from the store."""
    art = store.artifact(baseline["sha256"])
    if art is None:
        raise ConfigError(f"baseline artifact {baseline['sha256'][:12]} is not in the store",
                          hint="load the lab file again (`edgekit lab run` stores every model it names)")
    return art.with_(path=Path(baseline["path"]))


def measure_ab(measure_one: MeasureOne, candidate: Artifact, baseline: Artifact, settings: RunSettings,
               pause: Pause, measure_pair: Optional[MeasurePair] = None) -> Measurement:
    """The candidate's measurement with the baseline's in ``raw["baseline"]`` (both combined
    from ``settings.repeat`` interleaved sessions each).

    With ``measure_pair`` (edgekit's runner) each pair is ONE session in which the runner
    alternates the two models inference by inference, so a pair spans milliseconds, not
    seconds: a device slowed for a second slows both alike. Without it (``benchmark_model``:
    one model per process) sessions alternate whole (``A B | B A | …``).

    A session that fails ends the job with that session's measurement (status ``failed``).
    When the run stops midway (``pause`` returns True) this raises :class:`DeviceError`, so
    the controller re-queues the job and it is measured whole later: a half-measured A/B
    job has too few pairs to judge.
    """
    runs: dict[str, list[Measurement]] = {"candidate": [], "baseline": []}
    if measure_pair is not None:
        return _measure_pairs(measure_pair, candidate, baseline, settings, pause)
    order = ab_order(max(settings.repeat, 1))
    for k, (who, _pair) in enumerate(order):
        if k and pause(settings.cooldown_seconds):
            raise DeviceError(f"the run stopped after {k} of {len(order)} interleaved sessions",
                              hint="the job is re-queued and measured again")
        m = measure_one(candidate if who == "candidate" else baseline)
        if m.status != "ok":
            return m if who == "candidate" else dataclasses.replace(
                m, artifact_sha256=candidate.sha256, artifact_name=candidate.name,
                error=f"baseline {baseline.name}: {m.error or 'measurement failed'}")
        runs[who].append(m)
    n = len(runs["candidate"])
    cand = _combined(runs["candidate"], settings)
    base = _combined(runs["baseline"], settings)
    return dataclasses.replace(cand, raw={**cand.raw, "baseline": base.to_dict(),
                                          "interleaved": {"pairs": n, "order": "ABBA"}})


def _measure_pairs(measure_pair: MeasurePair, candidate: Artifact, baseline: Artifact, settings: RunSettings,
                   pause: Pause) -> Measurement:
    runs: dict[str, list[Measurement]] = {"candidate": [], "baseline": []}
    pairs = max(settings.repeat, 1)
    for i in range(pairs):
        if i and pause(settings.cooldown_seconds):
            raise DeviceError(f"the run stopped after {i} of {pairs} interleaved sessions",
                              hint="the job is re-queued and measured again")
        cand, base = measure_pair(candidate, baseline)
        if cand.status != "ok" or base.status != "ok":
            bad = cand if cand.status != "ok" else base
            return dataclasses.replace(bad, artifact_sha256=candidate.sha256, artifact_name=candidate.name,
                                       status="failed", error=bad.error or "measurement failed")
        runs["candidate"].append(cand)
        runs["baseline"].append(base)
    cand_m = _combined(runs["candidate"], settings)
    base_m = _combined(runs["baseline"], settings)
    return dataclasses.replace(cand_m, raw={**cand_m.raw, "baseline": base_m.to_dict(),
                                            "interleaved": {"pairs": pairs, "order": "inference"}})


def _combined(sessions: list[Measurement], settings: RunSettings) -> Measurement:
    m = combine_sessions(sessions, settings.stability_tolerance)
    if len(sessions) == 1:  # combine_sessions keeps a lone session as it is: list it anyway
        m = dataclasses.replace(m, sessions=(session_summary(sessions[0]),))
    return dataclasses.replace(m, sessions=tuple({**s, "pair": i} for i, s in enumerate(m.sessions)))


def with_device(m: Measurement, device: str, profile: str) -> Measurement:
    """``m`` (and its in-run baseline) named for the lab device that measured it."""
    raw = m.raw
    if isinstance(raw.get("baseline"), dict):
        raw = {**raw, "baseline": {**raw["baseline"], "device": device, "profile": profile}}
    return dataclasses.replace(m, device=device, profile=profile, raw=raw)


def split_baseline(m: Measurement) -> list[Measurement]:
    """What to store for a job's measurement: ``[m]``, or ``[candidate, baseline]`` for an A/B job."""
    doc: Optional[Any] = m.raw.get("baseline")
    if not isinstance(doc, dict):
        return [m]
    base = Measurement.from_dict(doc)
    raw = {k: v for k, v in m.raw.items() if k != "baseline"}
    return [dataclasses.replace(m, raw={**raw, "baseline_measurement_id": base.id}), base]


__all__ = ["ab_order", "baseline_artifact", "measure_ab", "split_baseline", "with_device"]
