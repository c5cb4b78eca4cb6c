"""Taking turns on a device between controllers that share one lab.

A worker keeps its device's lease from job to job (no round trip to the store per job, the
runner stays warm). Another controller's worker that finds the device held records that it
waits: a ``want:<device>`` row in the lease table, owned by it and refreshed while it polls.
The holder looks for such a row after each job and, if another controller waits, ends its
runner and gives the device up for :data:`YIELD_SECONDS` (longer than a waiter's slowest
poll), so the waiter takes it; with both waiting, they alternate job by job. This is the
round-robin hand-over of shared device farms (STF queues users per device), on the same
table and transactions as the leases themselves.
"""

from __future__ import annotations

import time

from .leases import DeviceLeases

__all__ = ["FairShare", "YIELD_SECONDS"]

#: how long a holder stays away after yielding (a waiter polls at least every 2 s)
YIELD_SECONDS = 3.0
_PREFIX = "want:"


class FairShare:
    """One controller's side of the turn-taking."""

    def __init__(self, leases: DeviceLeases, owner: str, want_seconds: float = 5.0) -> None:
        self.leases = leases
        self.owner = owner
        self.want_seconds = want_seconds
        self._away_until: dict[str, float] = {}

    def want(self, device: str) -> None:
        """Record (refresh) that this controller waits for ``device``."""
        self.leases.acquire(_PREFIX + device, self.owner, self.want_seconds)

    def got(self, device: str) -> None:
        """This controller holds ``device`` now: it no longer waits."""
        self.leases.release(_PREFIX + device, self.owner)

    def others_wait(self, device: str) -> bool:
        """Another controller waits for ``device`` (its want row is fresh)."""
        row = self.leases.holder(_PREFIX + device)
        return bool(row and row.owner and row.owner != self.owner and row.expires > time.time())

    def yield_to_others(self, device: str) -> bool:
        """After a job: True (and stay away a while) when the device should be given up now."""
        if not self.others_wait(device):
            return False
        self._away_until[device] = time.time() + YIELD_SECONDS
        return True

    def away(self, device: str) -> bool:
        """Still leaving ``device`` to the controller this one yielded to."""
        return time.time() < self._away_until.get(device, 0.0)
