"""What a controller's device workers share: the store, queue and leases, the session
factory, and the signals between the workers and the scheduler."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol

from ..artifact import Artifact
from ..devices.health import Health
from ..devices.profile import DeviceProfile
from ..errors import ConfigError
from ..measurement import Measurement, RunSettings
from ..progress import ProgressCallback
from ..store import Store
from .leases import DeviceLeases, Heartbeat
from .queue import JobQueue, JobRow

__all__ = ["FarmContext", "Session", "SessionFactory", "device_session"]


class Session(Protocol):
    """What the farm needs of a device session (``edgekit.devices.session.DeviceSession``)."""

    def health(self) -> Health: ...

    def measure(self, model: Path, settings: RunSettings, artifact: Optional[Artifact] = None) -> Measurement: ...


#: builds an (unentered) session for a device profile
SessionFactory = Callable[[DeviceProfile], AbstractContextManager[Session]]


def device_session(profile: DeviceProfile) -> AbstractContextManager[Session]:
    """The default session factory: ``DeviceSession(profile)``."""
    from ..devices.session import DeviceSession

    return DeviceSession(profile)


@dataclass
class FarmContext:
    """What every worker of one controller shares."""

    store: Store
    queue: JobQueue
    leases: DeviceLeases
    heartbeat: Heartbeat
    owner: str
    lease_seconds: float
    cooldown_seconds: float
    retries: int
    backoff_seconds: float
    session_factory: SessionFactory
    artifacts: dict[str, Artifact]
    total_jobs: int
    unhealthy_seconds: float = 300.0
    health_check_seconds: float = 0.0
    check_load: bool = True
    progress: Optional[ProgressCallback] = None
    poll_seconds: float = 0.25
    stop: threading.Event = field(default_factory=threading.Event)
    changed: threading.Event = field(default_factory=threading.Event)
    #: notified when a job ends or the run stops: idle workers look at the queue again at once
    wake: threading.Condition = field(default_factory=threading.Condition)
    #: how many times ``wake`` was notified (a worker that looked at the queue before the last
    #: notification does not wait: it looks again)
    nudges: int = 0

    def nudge(self) -> None:
        """Wake the idle workers (a job ended, or the run stops)."""
        with self.wake:
            self.nudges += 1
            self.wake.notify_all()

    def artifact_for(self, job: JobRow) -> Artifact:
        art = self.artifacts.get(job.id) or self.store.artifact(job.artifact_sha256)
        if art is None:
            raise ConfigError(f"job {job.label}: artifact {job.artifact_sha256[:12]} is not in the store")
        return art.with_(path=Path(job.artifact_path))
