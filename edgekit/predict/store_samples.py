"""Training rows from the results store: every successful measurement of a device whose
artifact file is still on disk.

A row's architecture (its group for held-out evaluation) is the artifact's
``extra["model"]["arch_id"]`` (set by :mod:`edgekit.predict.sampling`), else the source
model's hash, so every variant of one model falls in one group. A model measured several
times contributes one row, from the warm samples of all its measurements pooled (measuring
again — ``edgekit predict sample --again`` — tightens a noisy target). The statistic is a
quantile of those samples (0.5, the median, by default; a low quantile resists a shared
machine's interference, which only ever adds time). Aggregate-only runs (no samples) give
their printed median when the statistic is the median.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..errors import ConfigError, EdgekitError
from ..measurement import Measurement
from ..store import Store
from .dataset import Sample, sample_from_file

log = logging.getLogger(__name__)


@dataclass
class StoreSamples:
    """The rows read, and what was left out and why (counts by reason)."""

    samples: list[Sample]
    skipped: dict[str, int] = field(default_factory=dict)
    measurements: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _statistic(ms: list[Measurement], quantile: float) -> Optional[float]:
    pooled = [x for m in ms for x in m.samples_us]
    if pooled:
        return float(np.quantile(pooled, quantile)) / 1000.0
    medians = [m.stats.median for m in ms if m.stats is not None and m.stats.median]
    if quantile == 0.5 and medians:
        return float(np.median(medians)) / 1000.0   # aggregate-only runs: the printed medians
    return None


def samples_from_store(store: Store, device: str, quantile: float = 0.5,
                       include_emulated: bool = False) -> StoreSamples:
    """``device``'s measured models in ``store`` as training rows.

    Raises:
        ConfigError: the quantile is not in (0, 1), or the device has no usable measurement.
    """
    if not 0 < quantile < 1:
        raise ConfigError(f"latency quantile {quantile!r} is not in (0, 1)", hint="use 0.5 (the median)")
    out = StoreSamples([])
    by_artifact: dict[str, list[Measurement]] = defaultdict(list)
    for m in store.measurements(device=device, status="ok"):
        out.measurements += 1
        if "emulated" in m.flags and not include_emulated:
            out.skip("emulated runtime")
            continue
        if m.settings.threads != 1 or m.settings.delegate != "cpu":
            out.skip("not single-threaded CPU")
            continue
        by_artifact[m.artifact_sha256].append(m)
    for sha, ms in by_artifact.items():
        artifact = store.artifact(sha)
        if artifact is None or not artifact.path.is_file():
            out.skip("artifact file not on disk")
            continue
        value = _statistic(ms, quantile)
        if value is None or value <= 0:
            out.skip("no samples")
            continue
        model = artifact.extra.get("model") if isinstance(artifact.extra.get("model"), dict) else {}
        group = str(model.get("arch_id") or artifact.source_sha256 or artifact.source or sha)
        facts = ms[-1].facts
        try:
            out.samples.append(sample_from_file(artifact.path, value, group, artifact.variant,
                                                str(facts.get("runtime", "")), str(facts.get("runtime_version", ""))))
        except EdgekitError as exc:
            log.warning("skipping %s: %s", artifact.path, exc)
            out.skip("not a readable model")
    if not out.samples:
        why = "; ".join(f"{n} {r}" for r, n in sorted(out.skipped.items())) or "none measured"
        raise ConfigError(f"device '{device}' has no usable measurements in store '{store.location}' ({why})",
                          hint=f"measure samples first: edgekit predict sample --device {device} --n 40")
    return out


def device_now(store: Store, device: str,
               keep: Optional[Callable[[Measurement], bool]] = None) -> tuple[str, str]:
    """(runtime version, profile) of ``device`` as its latest ok measurement (by its finish
    time; ``keep`` filters which count) shows them; empty strings when it has none. A
    predictor fitted for another runtime or profile is then stale."""
    ok = [m for m in store.measurements(device=device, status="ok", samples=False) if keep is None or keep(m)]
    if not ok:
        return "", ""
    latest = max(ok, key=lambda m: m.finished_at or m.started_at)
    return str(latest.facts.get("runtime_version") or ""), latest.profile
