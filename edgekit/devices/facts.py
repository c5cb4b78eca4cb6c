"""What a device is, read with plain argv commands (no shell strings, no globs).

Linux boards and this host: ``uname``, ``/proc/cpuinfo``, ``/etc/os-release``, the cpufreq
and thermal sysfs files (listed with ``ls`` first, then read together with
``grep -H -s .``, which prints ``FILE:VALUE`` for each file that exists), Jetson's
``/etc/nv_tegra_release`` and ``nvpmodel -q``, Coral's libedgetpu package version, and the
TFLite runtime the device's Python imports. Android: one ``getprop`` plus the same sysfs.
A probe that fails is skipped (and logged); an unreachable device raises.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Optional, Sequence

from ..errors import DeviceTimeout, DeviceUnreachable
from .profile import DeviceProfile
from .transports.base import Completed, Transport

log = logging.getLogger(__name__)

__all__ = ["collect_facts", "probe_runtime", "read_cpu_state", "read_temps", "RUNTIME_PROBE"]

_CPU_DIR = "/sys/devices/system/cpu"
_THERMAL_DIR = "/sys/class/thermal"

#: the Python probe run with the device's interpreter: same import order as the runner
RUNTIME_PROBE = (
    "import json, platform\n"
    "out = {'python_version': platform.python_version()}\n"
    "for name in ('ai_edge_litert', 'tflite_runtime', 'tensorflow'):\n"
    "    try:\n"
    "        m = __import__(name)\n"
    "    except Exception as e:\n"
    "        out.setdefault('errors', []).append('%s: %s' % (name, e))\n"
    "        continue\n"
    "    out['runtime'] = name\n"
    "    out['runtime_version'] = getattr(m, '__version__', '')\n"
    "    break\n"
    "try:\n"
    "    import numpy\n"
    "    out['numpy_version'] = numpy.__version__\n"
    "except Exception as e:\n"
    "    out['numpy_error'] = str(e)\n"
    "print(json.dumps(out))\n"
)


def _run(transport: Transport, argv: Sequence[str], timeout: float) -> Optional[Completed]:
    """Run a probe; None when the command is missing or fails. Unreachable/timeout raise."""
    try:
        done = transport.run(list(argv), timeout=timeout)
    except (DeviceUnreachable, DeviceTimeout):
        raise
    except Exception as exc:  # noqa: BLE001 - a probe must not break fact collection
        log.debug("probe %s failed: %s", argv, exc)
        return None
    if not done.ok:
        log.debug("probe %s: exit %s: %s", argv, done.rc, done.stderr.strip()[:200])
        return None
    return done


def _listings(transport: Transport, folders: Sequence[str], timeout: float) -> dict[str, list[str]]:
    """``{folder: names}`` from one ``ls`` of several folders (a missing folder lists nothing)."""
    done = transport.run(["ls", *folders], timeout=timeout)
    out: dict[str, list[str]] = {f: [] for f in folders}
    current = folders[0] if len(folders) == 1 else None
    for line in done.stdout.splitlines():
        line = line.strip()
        if line.endswith(":") and line[:-1] in out:
            current = line[:-1]
        elif line and current is not None:
            out[current].extend(line.split())
    return out


def _numbered(names: list[str], prefix: str) -> list[str]:
    found = [n for n in names if n.startswith(prefix) and n[len(prefix):].isdigit()]
    return sorted(found, key=lambda n: int(n[len(prefix):]))


def _listing(transport: Transport, folder: str, prefix: str, timeout: float) -> list[str]:
    return _numbered(_listings(transport, [folder], timeout)[folder], prefix)


def _read_files(transport: Transport, files: list[str], timeout: float) -> dict[str, str]:
    """``{path: whole text}`` of each of ``files`` that exists, with one ``grep -H``."""
    done = transport.run(["grep", "-a", "-H", "-s", "", *files], timeout=timeout)
    out: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        for f in files:
            if line.startswith(f + ":"):
                out.setdefault(f, []).append(line[len(f) + 1:])
                break
    return {f: "\n".join(lines) for f, lines in out.items()}


def grep_files(transport: Transport, files: list[str], timeout: float) -> dict[str, str]:
    """``{path: first line}`` for each of ``files`` that exists (one command)."""
    if not files:
        return {}
    done = transport.run(["grep", "-H", "-s", ".", *files], timeout=timeout)
    out: dict[str, str] = {}
    for line in done.stdout.splitlines():
        path, sep, value = line.partition(":")
        if sep and path in files and path not in out:
            out[path] = value.strip()
    return out


def _sysfs_state(transport: Transport, cpus: Sequence[str], zones: Sequence[str],
                 timeout: float) -> tuple[dict[str, Any], dict[str, float]]:
    """Governor/frequencies of ``cpus`` and temperatures of ``zones``, in one ``grep``."""
    cpu_files = [f"{_CPU_DIR}/{c}/cpufreq/{leaf}" for c in cpus
                 for leaf in ("scaling_governor", "scaling_cur_freq", "cpuinfo_max_freq")]
    dirs = [z.rstrip("/") for z in zones if z != "auto"]
    zone_files = [f"{d}/{leaf}" for d in dirs for leaf in ("type", "temp")]
    values = grep_files(transport, cpu_files + zone_files, timeout)
    governor: dict[str, str] = {}
    freq: dict[str, dict[str, Optional[int]]] = {}
    for c in cpus:
        base = f"{_CPU_DIR}/{c}/cpufreq/"
        gov = values.get(base + "scaling_governor")
        if gov:
            governor[c] = gov
        cur, mx = values.get(base + "scaling_cur_freq"), values.get(base + "cpuinfo_max_freq")
        if cur or mx:
            freq[c] = {"cur": _int(cur), "max": _int(mx)}
    temps: dict[str, float] = {}
    for d in dirs:
        raw = _int(values.get(d + "/temp"))
        if raw is not None:
            name = f"{d.rsplit('/', 1)[-1]}:{values.get(d + '/type', 'unknown')}"
            temps[name] = round(raw / 1000.0 if abs(raw) >= 1000 else float(raw), 2)
    return {"cpus": list(cpus), "governor": governor, "freq_khz": freq}, temps


def read_cpu_state(transport: Transport, timeout: float = 15.0) -> dict[str, Any]:
    """Per-CPU governor and cur/max frequency (kHz), as far as the kernel exposes them."""
    cpus = _listing(transport, _CPU_DIR, "cpu", timeout)
    return _sysfs_state(transport, cpus, (), timeout)[0]


def read_temps(transport: Transport, zones: Sequence[str] = ("auto",), timeout: float = 15.0) -> dict[str, float]:
    """``{"<zone>:<type>": °C}`` of the profile's thermal zones (``auto``: all of them)."""
    if list(zones) == ["auto"] or not zones:
        zones = [f"{_THERMAL_DIR}/{z}" for z in _listing(transport, _THERMAL_DIR, "thermal_zone", timeout)]
    if not zones:
        return {}
    return _sysfs_state(transport, (), zones, timeout)[1]


def probe_runtime(transport: Transport, python: str, timeout: float = 60.0) -> dict[str, Any]:
    """The TFLite runtime (and numpy) the device's ``python`` imports, like the runner does."""
    done = _run(transport, [python, "-c", RUNTIME_PROBE], timeout)
    if done is None:
        return {"runtime_error": f"{python} could not run the runtime probe"}
    try:
        doc = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"runtime_error": f"unexpected probe output: {done.stdout[-200:]!r}"}
    return doc if isinstance(doc, dict) else {}


def collect_facts(transport: Transport, profile: DeviceProfile, timeout: float = 15.0,
                  runtime_probe: bool = True) -> dict[str, Any]:
    """Everything recorded with a measurement: model, SoC/CPU, ABI, OS, kernel, governor,
    frequencies, temperatures, runtime and its version (keys: model, soc, cpu, abi, os,
    os_build, kernel, governor, freq_khz, temps_c, runtime, runtime_version, libedgetpu…),
    and ``device_id``, the physical device (``serial:<ro.serialno>``, ``machine-id:<…>``).

    ``runtime_probe=False`` skips :func:`probe_runtime` (a serving runner reports the same)."""
    facts: dict[str, Any] = {"device": profile.name, "profile": profile.name, "soc": profile.soc,
                             "abi": "" if profile.abi == "auto" else profile.abi, "os": profile.os}
    if profile.os == "android":
        facts.update(_android(transport, timeout))
    else:
        facts.update(_linux(transport, profile, timeout))
    listed = _listings(transport, [_CPU_DIR, _THERMAL_DIR], timeout)
    cpus = _numbered(listed[_CPU_DIR], "cpu")
    zones = profile.thermal_zones
    if list(zones) == ["auto"] or not zones:
        zones = tuple(f"{_THERMAL_DIR}/{z}" for z in _numbered(listed[_THERMAL_DIR], "thermal_zone"))
    cpu_state, temps = _sysfs_state(transport, cpus, zones, timeout)
    facts["cpu_count"] = len(cpus) or facts.get("cpu_count")
    facts["governor"] = cpu_state["governor"]
    facts["freq_khz"] = cpu_state["freq_khz"]
    facts["temps_c"] = temps
    if profile.runner == "edgekit-runner" and runtime_probe:
        facts.update(probe_runtime(transport, profile.python, timeout=max(timeout, 60.0)))
    elif profile.runtime:
        name, _, version = profile.runtime.partition(" ")
        facts["runtime"], facts["runtime_version"] = name, version
    facts.setdefault("runtime", "")
    facts.setdefault("runtime_version", "")
    return facts


_LINUX_FILES = ["/proc/cpuinfo", "/etc/os-release", "/proc/device-tree/model", "/etc/nv_tegra_release",
                "/proc/loadavg", "/etc/machine-id"]


def _linux(transport: Transport, profile: DeviceProfile, timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    uname = _run(transport, ["uname", "-s", "-n", "-r", "-m"], timeout)
    if uname is not None:
        parts = uname.stdout.split()
        out["uname"] = " ".join(parts)
        if len(parts) == 4:
            out["hostname"], out["kernel"], out["machine"] = parts[1], parts[2], parts[3]
            if not profile.abi or profile.abi == "auto":
                out["abi"] = parts[3]
    files = _read_files(transport, _LINUX_FILES, timeout)
    if "/proc/cpuinfo" in files:
        out.update(_parse_cpuinfo(files["/proc/cpuinfo"]))
    if "/etc/os-release" in files:
        kv = dict(_kv(line) for line in files["/etc/os-release"].splitlines() if "=" in line)
        out["os_build"] = kv.get("PRETTY_NAME") or kv.get("NAME", "")
    machine_id = files.get("/etc/machine-id", "").strip()
    if machine_id:
        out["device_id"] = f"machine-id:{machine_id}"  # the physical device (its lease identity)
    model = files.get("/proc/device-tree/model", "").strip("\x00\n ")
    if model:
        out["model"] = model
    if "/proc/loadavg" in files:
        out["load_avg"] = [x for x in (_float(v) for v in files["/proc/loadavg"].split()[:3]) if x is not None]
    if files.get("/etc/nv_tegra_release", "").strip():
        out["l4t"] = files["/etc/nv_tegra_release"].strip().splitlines()[0]
        nvp = _run(transport, ["nvpmodel", "-q"], timeout)
        if nvp is not None:
            out["nvpmodel"] = " ".join(nvp.stdout.split())
    if "edgetpu" in profile.delegates:
        pkg = _run(transport, ["dpkg-query", "-W", "-f=${Package} ${Version}\\n",
                               "libedgetpu1-std", "libedgetpu1-max"], timeout)
        if pkg is not None:
            out["libedgetpu"] = "; ".join(line for line in pkg.stdout.splitlines() if line.split()[1:])
        from ..edgetpu.runtime import RUNTIME_PROBE as EDGETPU_PROBE

        probe = _run(transport, [profile.python, "-c", EDGETPU_PROBE], timeout)   # the library's own word
        if probe is not None and probe.ok and probe.stdout.strip():
            out["edgetpu_runtime"] = probe.stdout.strip().splitlines()[-1]
    return out


def _android(transport: Transport, timeout: float) -> dict[str, Any]:
    done = _run(transport, ["getprop"], timeout)
    props: dict[str, str] = {}
    if done is not None:
        for m in re.finditer(r"^\[([^\]]+)\]: \[(.*)\]\s*$", done.stdout, re.M):
            props[m.group(1)] = m.group(2)
    out: dict[str, Any] = {
        "model": props.get("ro.product.model", ""),
        "manufacturer": props.get("ro.product.manufacturer", ""),
        "soc": props.get("ro.soc.model") or props.get("ro.board.platform") or props.get("ro.hardware", ""),
        "board_platform": props.get("ro.board.platform", ""),
        "os_build": props.get("ro.build.fingerprint", ""),
        "android_release": props.get("ro.build.version.release", ""),
        "sdk": props.get("ro.build.version.sdk", ""),
    }
    if props.get("ro.product.cpu.abi"):
        out["abi"] = props["ro.product.cpu.abi"]
    serial = props.get("ro.serialno") or props.get("ro.boot.serialno")
    if serial:
        out["device_id"] = f"serial:{serial}"  # the physical phone, whichever transport reaches it
    uname = _run(transport, ["uname", "-r"], timeout)
    if uname is not None:
        out["kernel"] = uname.stdout.strip()
    files = _read_files(transport, ["/proc/cpuinfo", "/proc/loadavg"], timeout)
    if "/proc/cpuinfo" in files:
        out["cpu"] = _parse_cpuinfo(files["/proc/cpuinfo"]).get("cpu", "")
    if "/proc/loadavg" in files:
        out["load_avg"] = [x for x in (_float(v) for v in files["/proc/loadavg"].split()[:3]) if x is not None]
    return out


def _parse_cpuinfo(text: str) -> dict[str, Any]:
    kv: dict[str, str] = {}
    processors = 0
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep:
            continue
        if key == "processor":
            processors += 1
        kv.setdefault(key, value.strip())
    out: dict[str, Any] = {"cpu": kv.get("model name") or kv.get("Hardware") or kv.get("Processor")
                           or kv.get("CPU part", ""), "cpu_count": processors or None}
    if kv.get("Hardware"):
        out["hardware"] = kv["Hardware"]
    return out


def _kv(line: str) -> tuple[str, str]:
    k, _, v = line.partition("=")
    return k.strip(), v.strip().strip('"')


def _int(text: Optional[str]) -> Optional[int]:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _float(text: str) -> Optional[float]:
    try:
        return float(text)
    except ValueError:
        return None
