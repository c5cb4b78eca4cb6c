"""What a runner is: the typed interface :class:`~edgekit.devices.session.DeviceSession` uses.

A runner measures one pushed model on the device and returns a :class:`RunResult`:
:class:`~edgekit.devices.runners.script.ScriptRunner` (edgekit's one-file runner, one process
per run), :class:`~edgekit.devices.serve_session.ServedScriptRunner` (the same runner kept
open for the session) and :class:`~edgekit.devices.runners.benchmark_model.BenchmarkModelRunner`
(``benchmark_model`` on phones).
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

from ...measurement import RunSettings
from .result import RunResult


@runtime_checkable
class Runner(Protocol):
    """Measures a model already pushed to the device."""

    name: str

    def prepare(self) -> str:
        """Make sure the runner is on the device; returns its path there."""
        ...

    def run(self, remote_model: str, settings: RunSettings, timeout: float) -> RunResult:
        """Measure ``remote_model`` with ``settings``; a DeviceError/MeasurementError on failure.

        edgekit's runner also takes ``baseline=REMOTE_PATH`` (an A/B run: both models in one
        process, alternating inference by inference; the baseline's samples come back in
        ``RunResult.raw["baseline"]``)."""
        ...


@runtime_checkable
class ServedRunner(Runner, Protocol):
    """A runner kept open for the whole device session (jobs over its stdin/stdout)."""

    def start(self) -> None: ...

    def runtime_facts(self, timeout: Optional[float] = None) -> dict[str, Any]: ...

    def replace_if_dead(self) -> None: ...

    def close(self) -> None: ...
