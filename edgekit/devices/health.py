"""Whether a device should take a job now: reachable, not overloaded, not hot, pinned core idle.

:func:`check_health` reads the thermal zones, ``/proc/loadavg``, ``nproc`` and the per-core
busy fractions over a 0.5 s window (:mod:`.core_load`). The first check of a session that
opens in one device command (:mod:`.session_open`) takes those readings from that command
(the same files and commands, read just before the runner starts); later checks read them
anew, one command each. The verdict is the same either way. When a parked runner answers the
session (``keep_runner_s``), the window is the last 0.5 s it read while parked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from ..errors import DeviceError, DeviceTimeout, DeviceUnreachable

if TYPE_CHECKING:
    from .session import DeviceSession

log = logging.getLogger(__name__)

__all__ = ["Health", "check_health", "first_float"]


@dataclass(frozen=True)
class Health:
    """Whether the device should take a job now, and why not."""

    ok: bool
    reason: str
    temps_c: dict[str, float] = field(default_factory=dict)
    load_avg: Optional[float] = None
    state: str = "ok"        # ok | unreachable | too-hot | busy

    @property
    def transient(self) -> bool:
        """A state that passes by itself (a hot or busy device), unlike an unreachable one."""
        return self.state in ("too-hot", "busy")


def check_health(session: "DeviceSession", timeout: float = 10.0) -> Health:
    """``session``'s device health (see the module docstring)."""
    from .facts import read_temps

    try:
        opening = session._open(health=True, timeout=timeout)
    except (DeviceUnreachable, DeviceTimeout) as exc:
        return Health(False, f"unreachable: {exc}", {}, state="unreachable")
    if opening is not None:
        return _judge(session, dict(opening.facts.get("temps_c") or {}), opening.load1, opening.cpus, opening, timeout)
    transport = session.transport
    try:
        temps = read_temps(transport, session.profile.thermal_zones, timeout=timeout)
        load = transport.run(["cat", "/proc/loadavg"], timeout=timeout)
        ncpu = transport.run(["nproc"], timeout=timeout)
    except (DeviceUnreachable, DeviceTimeout) as exc:
        return Health(False, f"unreachable: {exc}", {}, state="unreachable")
    load1 = first_float(load.stdout) if load.ok else None
    cpus = first_float(ncpu.stdout) if ncpu.ok else None
    return _judge(session, temps, load1, cpus, None, timeout)


def _judge(session: "DeviceSession", temps: dict[str, float], load1: Optional[float], cpus: Optional[float],
           opening: Optional[Any], timeout: float) -> Health:
    """The verdict from the readings (the window's: ``opening``'s, or read now)."""
    profile = session.profile
    if temps:
        zone, hottest = max(temps.items(), key=lambda kv: kv[1])
        if hottest >= profile.max_temp_c:
            return Health(False, f"too hot: {zone} at {hottest:.1f} °C (max_temp_c {profile.max_temp_c:g})",
                          temps, load1, state="too-hot")
    if load1 is not None and cpus and load1 > 2 * cpus:
        return Health(False, f"busy: load average {load1:.2f} on {cpus:g} CPUs", temps, load1, state="busy")
    try:
        busy = pinned_core_busy(session, timeout, opening)
    except (DeviceUnreachable, DeviceTimeout) as exc:
        return Health(False, f"unreachable: {exc}", {}, state="unreachable")
    if busy is not None:
        return Health(False, busy, temps, load1, state="busy")
    return Health(True, "ok", temps, load1)


def pinned_core_busy(session: "DeviceSession", timeout: float, opening: Optional[Any] = None) -> Optional[str]:
    """Why the core a run pins to is not idle now (None if it is, or cannot be read)."""
    from .core_load import BUSY_CORE_FRACTION, core_busy, pinned_core

    try:
        if opening is not None and opening.parked:
            busy = parked_busy(session, timeout)
        elif opening is not None and opening.busy is None:
            raise DeviceError(opening.busy_error)
        else:
            busy = opening.busy if opening is not None else core_busy(session.transport, timeout=timeout)
        core = pinned_core(session.profile.big_cores, session._base_facts(), online=sorted(busy))
    except (DeviceUnreachable, DeviceTimeout):
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. no /proc/stat: the load average decides
        log.info("device %s: per-core load unavailable: %s", session.name, exc)
        return None
    if core is not None and busy.get(core, 0.0) > BUSY_CORE_FRACTION:
        return (f"busy: pinned core cpu{core} is {100 * busy[core]:.0f} % busy "
                f"(over {BUSY_CORE_FRACTION:.0%} in the last 0.5 s)")
    return None


def parked_busy(session: "DeviceSession", timeout: float) -> dict[int, float]:
    """The per-core busy fractions of the last 0.5 s from a parked runner's ready line (it read
    ``/proc/stat`` while it slept, see the runner's parked serve mode), or read now when the
    runner started anew after all (it ended between the opening's check and its start)."""
    from .core_load import busy_from_output, core_busy

    runner = session.runner()
    window = runner.parked_window(timeout) if hasattr(runner, "parked_window") else None
    if window is None:
        log.info("device %s: no parked runner answered; reading the idle window now", session.name)
        return core_busy(session.transport, timeout=timeout)
    return busy_from_output(window, 0, "", session.name)


def first_float(text: str) -> Optional[float]:
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None
