"""How busy each CPU core is right now, from two ``/proc/stat`` readings on the device.

The 1-minute load average over all cores hides a single busy core (one spinning process on
an 8-core phone is a load of 1 out of 8) and lags by a minute. A measurement pinned to one
core needs that core idle, so the idle check reads the kernel's per-core tick counters twice,
``window_s`` apart, in ONE device command (the window is timed on the device, not across the
link), and computes each core's busy fraction over the window, like ``top``/``mpstat`` do:
``1 - Δ(idle + iowait) / Δ(all)``.

The core the runner will pin to is chosen by the runner's own rule (:func:`pinned_core`):
among the profile's ``big_cores`` (all cores for ``auto``), the one with the highest
``cpuinfo_max_freq``, the highest-numbered on a tie.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

from ..errors import DeviceError
from .cpuset import parse_cpu_set
from .transports.base import Transport

log = logging.getLogger(__name__)

__all__ = ["core_busy", "busy_from_output", "parse_proc_stat", "pinned_core", "window_script", "BUSY_CORE_FRACTION"]

#: a pinned core busier than this over the window makes the device "busy"
BUSY_CORE_FRACTION = 0.5
_SEPARATOR = "__EDGEKIT_WINDOW__"


def parse_proc_stat(text: str) -> dict[int, tuple[int, int]]:
    """``{core: (idle ticks incl. iowait, total ticks)}`` from ``/proc/stat`` lines ``cpuN …``."""
    out: dict[int, tuple[int, int]] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit():
            continue
        try:
            ticks = [int(v) for v in rest.split()]
        except ValueError:
            continue
        if len(ticks) < 4:
            continue
        # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        out[int(name[3:])] = (idle, sum(ticks[:8]))
    return out


def core_busy(transport: Transport, window_s: float = 0.5, timeout: float = 10.0) -> dict[int, float]:
    """``{core: busy fraction 0..1}`` over ``window_s`` seconds, measured on the device.

    A core that was offline in either reading (or saw no ticks) is left out. Raises
    DeviceError when the device has no readable ``/proc/stat``.
    """
    done = transport.run(["sh", "-c", window_script(window_s)], timeout=timeout + window_s)
    return busy_from_output(done.stdout, done.rc, done.stderr, transport.device)


def window_script(window_s: float = 0.5) -> str:
    """The device command of :func:`core_busy`: two ``/proc/stat`` readings ``window_s`` apart."""
    return (f"grep '^cpu[0-9]' /proc/stat; echo {_SEPARATOR}; sleep {window_s:g}; "
            "grep '^cpu[0-9]' /proc/stat")


def busy_from_output(stdout: str, rc: int, stderr: str, device: str) -> dict[int, float]:
    """:func:`core_busy`'s result from :func:`window_script`'s output (also run inside a
    session's opening command, :mod:`.session_open`)."""
    before_text, sep, after_text = stdout.partition(_SEPARATOR)
    if rc != 0 or not sep:
        raise DeviceError(f"device '{device}': cannot read /proc/stat "
                          f"(exit {rc}: {stderr.strip()[:200]})",
                          hint="the idle check needs a Linux /proc; check the device's shell",
                          device=device)
    before, after = parse_proc_stat(before_text), parse_proc_stat(after_text)
    busy: dict[int, float] = {}
    for core, (idle1, total1) in after.items():
        if core not in before:
            continue
        idle0, total0 = before[core]
        d_total = total1 - total0
        if d_total <= 0:
            continue
        busy[core] = min(1.0, max(0.0, 1.0 - (idle1 - idle0) / d_total))
    return busy


def pinned_core(big_cores: str, facts: Mapping[str, Any], online: Optional[list[int]] = None) -> Optional[int]:
    """The core a 1-thread run pins to (the runner's rule), or None when nothing is known."""
    candidates = parse_cpu_set(big_cores)
    if candidates is None:
        freq = facts.get("freq_khz") or {}
        candidates = sorted(int(c[3:]) for c in freq if str(c)[3:].isdigit()) or (online or [])
    if not candidates:
        return None
    freq = facts.get("freq_khz") or {}

    def speed(core: int) -> int:
        return int((freq.get(f"cpu{core}") or {}).get("max") or 0)

    return max(candidates, key=lambda c: (speed(c), c))
