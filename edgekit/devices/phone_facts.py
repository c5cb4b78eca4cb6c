"""A phone's state around one ``benchmark_model`` run: the same facts boards record.

edgekit's runner reads, on the device, the governor and frequencies of the pinned cores and
every thermal zone before and after each run (``before``/``after`` in its result). A phone runs
``benchmark_model`` instead, so edgekit reads the same sysfs files over the transport, in one
``grep`` before and one after the run, and records them under the same keys.

Throttling (the ``throttled`` flag) is read from frequency drops on a pinned core after the run:
its ``scaling_max_freq`` lowered during the run (a thermal cap), or — under the ``performance``
governor, where an unthrottled core runs at its maximum — ``scaling_cur_freq`` below
``cpuinfo_max_freq``. (Under ``schedutil``/``ondemand`` an idle core
after the run is slow by design, so cur < max alone would flag every phone.)
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .facts import grep_files
from .transports.base import Transport

__all__ = ["read_run_state", "throttled", "CPU_DIR", "THERMAL_DIR"]

CPU_DIR = "/sys/devices/system/cpu"
THERMAL_DIR = "/sys/class/thermal"
_LEAVES = ("scaling_governor", "scaling_cur_freq", "cpuinfo_max_freq", "scaling_max_freq")


def _int(text: Optional[str]) -> Optional[int]:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def read_run_state(transport: Transport, cpus: Optional[Sequence[int]], zones: Sequence[str],
                   timeout: float = 15.0, cpu_dir: str = CPU_DIR) -> dict[str, Any]:
    """``{"cpus": [{"cpu", "governor", "cur_freq_khz", "max_freq_khz", "scaling_max_freq_khz"}],
    "temps_c": {"<zone dir>:<type>": °C}}`` — the runner's ``before``/``after`` shape.

    ``zones`` are thermal zone directories (the profile's, resolved; see :func:`zone_dirs`).
    """
    cpus = list(cpus or [])
    cpu_files = [f"{cpu_dir}/cpu{c}/cpufreq/{leaf}" for c in cpus for leaf in _LEAVES]
    dirs = [z.rstrip("/") for z in zones]
    values = grep_files(transport, cpu_files + [f"{d}/{leaf}" for d in dirs for leaf in ("type", "temp")], timeout)
    states = []
    for c in cpus:
        base = f"{cpu_dir}/cpu{c}/cpufreq/"
        states.append({"cpu": c, "governor": values.get(base + "scaling_governor"),
                       "cur_freq_khz": _int(values.get(base + "scaling_cur_freq")),
                       "max_freq_khz": _int(values.get(base + "cpuinfo_max_freq")),
                       "scaling_max_freq_khz": _int(values.get(base + "scaling_max_freq"))})
    temps: dict[str, float] = {}
    for d in dirs:
        raw = _int(values.get(d + "/temp"))
        if raw is not None:
            temps[f"{d.rsplit('/', 1)[-1]}:{values.get(d + '/type', 'unknown')}"] = \
                round(raw / 1000.0 if abs(raw) >= 1000 else float(raw), 2)
    return {"cpus": states, "temps_c": temps}


def zone_dirs(transport: Transport, zones: Sequence[str], timeout: float = 15.0,
              thermal_dir: str = THERMAL_DIR) -> list[str]:
    """The profile's thermal zone directories; ``auto`` lists every ``thermal_zone*``."""
    if list(zones) and list(zones) != ["auto"]:
        return [z for z in zones if z != "auto"]
    done = transport.run(["ls", thermal_dir], timeout=timeout)
    names = [n for n in done.stdout.split() if n.startswith("thermal_zone")] if done.ok else []
    return [f"{thermal_dir}/{n}" for n in sorted(names, key=lambda n: int(n[12:]) if n[12:].isdigit() else 0)]


def throttled(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """True when a pinned core's frequency dropped (see the module docstring)."""
    caps_before = {s["cpu"]: s.get("scaling_max_freq_khz") for s in before.get("cpus") or []}
    for s in after.get("cpus") or []:
        cur, top, cap = s.get("cur_freq_khz"), s.get("max_freq_khz"), s.get("scaling_max_freq_khz")
        if cap and caps_before.get(s["cpu"]) and cap < caps_before[s["cpu"]]:  # type: ignore[operator]
            return True
        if s.get("governor") == "performance" and cur and top and cur < top:
            return True
    return False
