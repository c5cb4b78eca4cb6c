"""Public functions that join packages which do not import each other.

The device farm (:mod:`edgekit.farm`) is imported only here and by the CLI: the pipeline
measures through a lab file with the farm's ``Lab.load`` handed to it, so
:mod:`edgekit.pipeline` never imports :mod:`edgekit.farm`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .pipeline.result import PipelineResult
from .progress import ProgressCallback


def run_pipeline(path: str | Path | None = None, overrides: Optional[dict[str, Any]] = None,
                 progress: Optional[ProgressCallback] = None) -> PipelineResult:
    """Run a pipeline file (or the embedded default) from dataset to report.

    See :func:`edgekit.pipeline.run.run_pipeline`; this one can measure through a lab file
    (``[measure] lab``) as well as on named devices.
    """
    from .farm.lab import Lab
    from .pipeline.run import run_pipeline as run

    return run(path, overrides, progress, lab_loader=Lab.load)


__all__ = ["run_pipeline"]
