"""Device leases: one controller per physical device at a time, across processes and hosts.

A lease is a row of the store's ``device_leases`` table (device key, owner, expiry),
taken with one ``INSERT … ON CONFLICT DO UPDATE`` inside a write transaction (``BEGIN
IMMEDIATE`` on SQLite, a row lock on PostgreSQL), so
of two controllers racing for a device exactly one gets it. The holder renews it while it
works (:class:`Heartbeat`); a lease whose holder died expires and is taken over. On the
holder's own host a lease of a process that no longer exists is taken over at once.

Owners are ``host:pidns:pid:nonce`` strings (:func:`new_owner`); a worker's job leases use
``<controller owner>/<device>``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Optional

from .events import insert_event
from ..store import Store
from .schema import ensure_farm_schema

log = logging.getLogger(__name__)


def _host_id() -> str:
    try:
        pidns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        pidns = 0
    return f"{socket.gethostname()}:{pidns}"


def new_owner() -> str:
    """A lease owner id for this controller process (unique, and says where it lives)."""
    return f"{_host_id()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` is a controller on this host (same pid namespace) that has exited.

    Owners on other hosts are never declared dead here: their leases simply expire.
    """
    controller = owner.split("/", 1)[0]
    parts = controller.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != _host_id():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def takeable(owner: Optional[str], expires: Optional[float], me: str, now: float) -> bool:
    """Whether a lease (``owner``, ``expires``) may be taken by ``me`` at ``now``.

    A released lease with a future expiry (owner ``""``) is a cool-down: nobody takes it early.
    """
    if owner == me or expires is None or expires < now:
        return True
    return bool(owner) and owner_is_dead(owner)


@dataclass(frozen=True)
class Lease:
    """Who holds a device, until when, and for which job."""

    device: str
    owner: str
    expires: float
    job_id: Optional[str]


class DeviceLeases:
    """Leases on physical devices (keys from :func:`edgekit.farm.labfile.device_key`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        ensure_farm_schema(store)

    def acquire(self, device: str, owner: str, seconds: float) -> bool:
        """Take or renew the lease on ``device`` for ``seconds``; False if someone else holds it."""
        now = time.time()
        with self.store.transaction() as db:
            self.store.dialect.lock_key(db, "lease:" + device)
            row = db.execute("SELECT owner, expires FROM device_leases WHERE device=?" + self.store.dialect.row_lock,
                             (device,)).fetchone()
            if row is not None and not takeable(row["owner"], row["expires"], owner, now):
                return False
            db.execute(
                "INSERT INTO device_leases (device, owner, expires, job_id) VALUES (?,?,?,NULL) "
                "ON CONFLICT(device) DO UPDATE SET owner=excluded.owner, expires=excluded.expires",
                (device, owner, now + seconds),
            )
            if row is not None and row["owner"] and row["owner"] != owner:
                insert_event(db, "lease-takeover", {"from": row["owner"], "to": owner,
                                                      "expired": row["expires"] < now}, device=device)
        return True

    def renew(self, device: str, owner: str, seconds: float, job_id: Optional[str] = None) -> bool:
        """Extend a lease ``owner`` holds; False when it was lost (taken over after expiry)."""
        with self.store.transaction() as db:
            cur = db.execute("UPDATE device_leases SET expires=?, job_id=? WHERE device=? AND owner=?",
                             (time.time() + seconds, job_id, device, owner))
            return cur.rowcount == 1

    def release(self, device: str, owner: str, hold_seconds: float = 0.0) -> None:
        """Give the device up; with ``hold_seconds`` it stays blocked that long (a cool-down)."""
        with self.store.transaction() as db:
            if hold_seconds > 0:
                db.execute("UPDATE device_leases SET owner='', expires=?, job_id=NULL WHERE device=? AND owner=?",
                           (time.time() + hold_seconds, device, owner))
            else:
                db.execute("DELETE FROM device_leases WHERE device=? AND owner=?", (device, owner))

    def holder(self, device: str) -> Optional[Lease]:
        """The current lease on ``device`` (possibly expired), or None."""
        rows = self.store.query("SELECT device, owner, expires, job_id FROM device_leases WHERE device=?", (device,))
        row = rows[0] if rows else None
        return Lease(row["device"], row["owner"], row["expires"], row["job_id"]) if row else None


class Heartbeat(threading.Thread):
    """Renews the device and job leases of one controller while its workers run.

    Workers register what they hold with :meth:`hold`; every ``lease_seconds / 3`` the
    heartbeat extends all of it, in one transaction. A lease found lost is logged; the
    job's final commit checks ownership again, so a lost job is never stored twice.
    """

    def __init__(self, store: Store, lease_seconds: float) -> None:
        super().__init__(name="edgekit-lease-heartbeat", daemon=True)
        self.store = store
        self.lease_seconds = lease_seconds
        self.interval = max(lease_seconds / 3.0, 0.05)
        self._held: dict[str, tuple[str, Optional[str], Optional[str]]] = {}
        self._on_lost: dict[str, Callable[[str], None]] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def hold(self, device: str, owner: str, job_id: Optional[str] = None, job_owner: Optional[str] = None) -> None:
        """Keep renewing ``device`` (and ``job_id`` when given) for ``owner``."""
        with self._lock:
            self._held[device] = (owner, job_id, job_owner)

    def drop(self, device: str) -> None:
        with self._lock:
            self._held.pop(device, None)

    def watch(self, device: str, on_lost: Callable[[str], None]) -> None:
        """Call ``on_lost(device)`` (from the heartbeat thread) when a renewal finds the lease
        on ``device``, or the job held with it, taken over: the holder must stop its job."""
        with self._lock:
            self._on_lost[device] = on_lost

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        try:
            while not self._halt.wait(self.interval):
                self.beat()
        finally:
            self.store.close()

    def beat(self) -> None:
        """Renew everything held, now."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return
        until = time.time() + self.lease_seconds
        lost: list[str] = []
        try:
            with self.store.transaction() as db:
                for device, (owner, job, job_owner) in held.items():
                    cur = db.execute("UPDATE device_leases SET expires=?, job_id=? WHERE device=? AND owner=?",
                                     (until, job, device, owner))
                    if cur.rowcount != 1:
                        log.warning("lease on device %s was lost (expired and taken over)", device)
                        row = db.execute("SELECT owner FROM device_leases WHERE device=?", (device,)).fetchone()
                        if row is not None and row["owner"] not in ("", owner):  # not just released by us
                            lost.append(device)
                    if job is not None:
                        cur = db.execute("UPDATE jobs SET lease_expires=? WHERE id=? AND lease_owner=? "
                                         "AND state IN ('leased','running')", (until, job, job_owner))
                        row = db.execute("SELECT lease_owner FROM jobs WHERE id=?", (job,)).fetchone() \
                            if cur.rowcount != 1 else None
                        if row is not None and row["lease_owner"] not in (None, job_owner) and device not in lost:
                            log.warning("job %s on device %s was lost (taken over)", job, device)
                            lost.append(device)
        except Exception:  # noqa: BLE001 - a busy store must not kill the heartbeat
            log.warning("lease heartbeat failed; retrying", exc_info=True)
        for device in lost:
            with self._lock:
                callback = self._on_lost.get(device) if device in self._held else None
            if callback is not None:
                try:
                    callback(device)
                except Exception:  # noqa: BLE001 - the heartbeat must go on
                    log.warning("stopping the job on %s failed", device, exc_info=True)
