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


def baseline_result(result: RunResult, device: str, baseline_name: str, paired_with: str) -> RunResult:
    """The baseline's half of an A/B run (``raw["baseline"]`` of edgekit's runner) as a
    :class:`RunResult` of its own; the run's facts (pinning, temperatures, times) are shared.

    Raises:
        MeasurementError: the runner returned no baseline samples (an older runner).
    """
    import dataclasses

    from ...errors import MeasurementError

    doc = result.raw.get("baseline")
    if not isinstance(doc, dict) or not doc.get("samples_us"):
        raise MeasurementError(f"device '{device}': the runner returned no baseline samples for '{baseline_name}'",
                               hint="update the runner on the device (it is pushed by content hash): run again")
    raw = {k: v for k, v in result.raw.items() if k != "baseline"}
    raw.update(inputs=doc.get("inputs"), model_size_bytes=doc.get("model_size_bytes"), paired_with=paired_with)
    return dataclasses.replace(
        result, samples_us=tuple(float(x) for x in doc["samples_us"]),
        warmup_samples_us=tuple(float(x) for x in doc.get("warmup_samples_us") or ()),
        init_us=doc.get("init_us"), first_inference_us=doc.get("first_inference_us"), raw=raw)
