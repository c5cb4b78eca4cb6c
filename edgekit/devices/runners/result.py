"""What a runner hands back: the samples (or aggregate stats) and the device's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ...measurement import LatencyStats


@dataclass(frozen=True)
class RunResult:
    """One run of one model on one device, before it becomes a :class:`Measurement`.

    ``samples_us`` holds every warm per-run sample when the runner reports them
    (edgekit's runner); ``aggregate`` holds the statistics when the runner prints only a
    summary (``benchmark_model``), with ``samples_us`` empty.
    """

    runner: str
    runner_version: str
    samples_us: tuple[float, ...]
    warmup_samples_us: tuple[float, ...] = ()
    aggregate: Optional[LatencyStats] = None
    init_us: Optional[float] = None
    first_inference_us: Optional[float] = None
    peak_memory_kb: Optional[float] = None
    pinned_cpu: Optional[str] = None
    temps_before_c: dict[str, float] = field(default_factory=dict)
    temps_after_c: dict[str, float] = field(default_factory=dict)
    governor: Optional[str] = None
    throttled: bool = False
    runtime: str = ""
    runtime_version: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)

    def stats(self) -> Optional[LatencyStats]:
        """Statistics of the samples, or the runner's own aggregate when there are none."""
        if self.samples_us:
            return LatencyStats.from_samples(self.samples_us)
        return self.aggregate
