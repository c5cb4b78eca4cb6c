"""The second lease of a job: the physical device, once its facts name it.

A lab device's first lease key is where it is reached (:func:`edgekit.farm.labfile.device_key`,
e.g. ``ssh:pi@10.0.0.21:22``), known before any connection. The same board reached by name
and by address, or one phone over USB and over TCP, has two such keys. As device farms do
(STF keys a phone by its adb serial), the farm also leases the physical identity read from
the device's facts (``device_id``: ``serial:<ro.serialno>`` on Android, ``machine-id:<…>`` on
Linux) for the length of each job, with the worker's own owner id (``<controller>/<device>``),
so two lab devices of one controller that are one machine never run at once either.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

log = logging.getLogger(__name__)

__all__ = ["hold_physical", "physical_key"]

PREFIX = "id:"


def physical_key(session: Any) -> Optional[str]:
    """The lease key of the physical device behind ``session``, or None when its facts do
    not name it (a session without facts, a device without ``/etc/machine-id``)."""
    identity = getattr(session, "device_identity", None)  # DeviceSession: without waiting for its runner
    facts = getattr(session, "facts", None)
    if callable(identity):
        ident = str(identity() or "")
    elif callable(facts):
        ident = str((facts() or {}).get("device_id") or "")
    else:
        return None
    return PREFIX + ident if ident else None


def hold_physical(worker: Any, job: Any) -> bool:
    """Lease ``worker``'s physical device for ``job`` (a :class:`~.worker.DeviceWorker`).

    False, with the job re-queued, when another lab device that is the same machine holds it
    or the device's identity cannot be read (the job must not run blind)."""
    ctx = worker.ctx
    try:
        key = physical_key(worker._open_session())
    except Exception as exc:  # noqa: BLE001 - unreadable facts: retry later
        worker._close_session()
        ctx.queue.requeue(job.id, worker.job_owner, f"device {worker.device.name}: cannot read its identity: "
                          f"{exc}", delay=ctx.backoff_seconds)
        return False
    if key is None:
        return True
    if not ctx.leases.acquire(key, worker.job_owner, ctx.lease_seconds):
        holder = ctx.leases.holder(key)
        who = holder.owner if holder else "?"
        ctx.queue.requeue(job.id, worker.job_owner, f"device {worker.device.name} is {key[len(PREFIX):]}, held by {who}")
        worker._emit("lab.wait", job.label, f"same physical device as {who}")
        worker._cooldown_until = time.time() + ctx.poll_seconds
        return False
    worker._physical = key
    ctx.heartbeat.hold(key, worker.job_owner)
    ctx.heartbeat.watch(key, worker._lease_lost)
    return True
