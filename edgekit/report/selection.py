"""What a report shows: a selection of the store's artifacts and measurements.

A report shows what the user asked about: the report of an ``edgekit run`` shows that
run's models only, and ``edgekit report`` can select by run (its artifacts), lab run (its
measurements), model, variant, device and thread count. Frontiers and recommendations
compare like with like: one thread count (1 unless asked), and the runs of one artifact
on one device are grouped per delegate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..artifact import Artifact
from ..measurement import Measurement


@dataclass(frozen=True)
class Selection:
    """Filters applied before anything is computed (None = no filter on that axis)."""

    artifacts: Optional[frozenset[str]] = None        # sha256s (e.g. one pipeline run's)
    measurement_ids: Optional[frozenset[str]] = None  # e.g. one lab run's
    models: Optional[frozenset[str]] = None           # model names (artifact name without the variant)
    variants: Optional[frozenset[str]] = None
    threads: Optional[int] = 1                        # None = every thread count (not comparable!)

    def keeps_artifact(self, a: Artifact, model: str) -> bool:
        return ((self.artifacts is None or a.sha256 in self.artifacts)
                and (self.variants is None or a.variant in self.variants)
                and (self.models is None or model in self.models or a.name in self.models))

    def keeps_measurement(self, m: Measurement) -> bool:
        return ((self.measurement_ids is None or m.id in self.measurement_ids)
                and (self.threads is None or m.settings.threads == self.threads))

    def describe(self) -> list[str]:
        """Plain words for the report's notes (empty when nothing is filtered but threads = 1)."""
        out = []
        if self.artifacts is not None:
            out.append(f"{len(self.artifacts)} selected artifact(s)")
        if self.measurement_ids is not None:
            out.append(f"{len(self.measurement_ids)} selected measurement(s)")
        if self.models is not None:
            out.append("models " + ", ".join(sorted(self.models)))
        if self.variants is not None:
            out.append("variants " + ", ".join(sorted(self.variants)))
        return out
