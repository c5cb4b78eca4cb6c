"""What one report shows, assembled once and handed to every writer (HTML, Markdown, JSON, CSV)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .collect import ReportData
from .frontiers import Frontiers
from .recommend import Constraints, Recommendation
from .tables import Table


@dataclass(frozen=True)
class Plot:
    """A plot written to disk: its files and what it shows."""

    id: str
    title: str
    caption: str
    files: tuple[Path, ...]

    def file(self, fmt: str) -> Optional[Path]:
        return next((p for p in self.files if p.suffix == "." + fmt), None)


@dataclass
class ReportContent:
    """Data, frontiers, recommendations, tables and figures of one report."""

    title: str
    generated: str                           # ISO timestamp
    edgekit_version: str
    data: ReportData
    devices: list[str]
    constraints: Constraints
    frontiers: Frontiers
    recommendations: dict[str, Recommendation]   # device → answer ("" = size × quality only)
    tables: list[Table] = field(default_factory=list)
    paper_tables: list[Table] = field(default_factory=list)
    figures: list[Plot] = field(default_factory=list)
    paper_shown: bool = False
    paper_in_plots: bool = False     # only when quality is measured on the paper's dataset (CIFAR-10)
    paper_columns: dict[str, str] = field(default_factory=dict)   # device → paper latency column

    def table(self, id: str) -> Optional[Table]:
        return next((t for t in self.tables + self.paper_tables if t.id == id), None)
