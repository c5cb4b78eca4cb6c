"""Measuring on this host: the same Python and runtime as ``evaluate``, and the controller
kept off the core the runner is pinned to.

* **Interpreter.** A ``local`` profile whose ``python`` is the bare default (``python3`` or
  ``python``) runs the runner with :data:`sys.executable`, the interpreter edgekit itself runs
  in, not whatever ``python3`` comes first on ``PATH`` (from a venv or pipx install that is
  another Python with another runtime). An explicit path is kept.
* **Runtime.** On this host (``kind = "host"``) the runner must report the LiteRT runtime
  and version that ``evaluate`` uses in this process (``ai_edge_litert``); anything else is
  refused before the run (:func:`check_host_runtime`), so quality and latency come from one
  runtime.
* **Affinity.** While a local session measures, every thread of this process is kept off the
  runner's pinned core (:class:`ControllerAffinity`): the controller's own work (result
  parsing, heartbeats, other devices' I/O) does not steal that core's cycles. Processes this
  one starts inherit the narrowed mask, so the runner's hash-checked start
  (:mod:`.runners.verified`) widens its own mask back to :envvar:`EDGEKIT_RESET_AFFINITY`
  (this process's original CPUs, set here) before the runner picks its core.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import os
import sys
import threading
from typing import Any, Callable, Mapping, Optional

from ..errors import RuntimeIncompatible
from .profile import DeviceProfile

log = logging.getLogger(__name__)

__all__ = ["ControllerAffinity", "RESET_AFFINITY_ENV", "check_host_runtime", "evaluate_runtime", "host_profile"]

RESET_AFFINITY_ENV = "EDGEKIT_RESET_AFFINITY"
_DEFAULT_PYTHONS = ("python3", "python")


def host_profile(profile: DeviceProfile) -> DeviceProfile:
    """``profile`` with ``python = sys.executable`` when it is a local profile with the default name."""
    if profile.transport == "local" and profile.python in _DEFAULT_PYTHONS and sys.executable:
        return dataclasses.replace(profile, python=sys.executable)
    return profile


def evaluate_runtime() -> tuple[str, str]:
    """(module, version) of the LiteRT runtime ``evaluate`` uses in this process."""
    try:
        return "ai_edge_litert", importlib.metadata.version("ai-edge-litert")
    except importlib.metadata.PackageNotFoundError:
        return "ai_edge_litert", ""


def check_host_runtime(profile: DeviceProfile, facts: Mapping[str, Any]) -> None:
    """Refuse a runner on this host (a ``host`` profile) whose runtime differs from
    :func:`evaluate_runtime`. Other local profiles (a board simulated with another Python,
    ``coral-usb``) say on purpose which runtime they measure."""
    if profile.kind != "host" or profile.transport != "local" or profile.runner != "edgekit-runner":
        return
    want_name, want_version = evaluate_runtime()
    got_name, got_version = str(facts.get("runtime") or ""), str(facts.get("runtime_version") or "")
    if not want_version or (got_name, got_version) == (want_name, want_version):
        return
    raise RuntimeIncompatible(
        f"device '{profile.name}': the runner's Python ({profile.python}) has {got_name or 'no runtime'} "
        f"{got_version}, but edgekit (and `evaluate`) use {want_name} {want_version} in {sys.executable}",
        hint=f"measure with the same interpreter: set python = \"python3\" in the profile (edgekit then uses "
             f"{sys.executable}), or install ai-edge-litert=={want_version} into {profile.python}")


class ControllerAffinity:
    """Keep every thread of this process off one core while held (re-entrant, counted)."""

    _lock = threading.Lock()
    _holders = 0
    _saved: dict[int, set[int]] = {}

    def __init__(self, core: Optional[int]) -> None:
        self.core = core
        self._held = False

    def __enter__(self) -> "ControllerAffinity":
        self.hold()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def hold(self) -> None:
        """Narrow every thread's CPU set to exclude :attr:`core` (no-op when that leaves nothing)."""
        if self._held or self.core is None or not hasattr(os, "sched_setaffinity"):
            return
        cls = type(self)
        with cls._lock:
            if cls._holders == 0:
                original = os.sched_getaffinity(0)
                rest = original - {self.core}
                if not rest or self.core not in original:
                    return
                os.environ.setdefault(RESET_AFFINITY_ENV, ",".join(str(c) for c in sorted(original)))
                cls._saved = {}
                for tid in _threads():
                    try:
                        cls._saved[tid] = os.sched_getaffinity(tid)
                        os.sched_setaffinity(tid, cls._saved[tid] - {self.core} or rest)
                    except OSError:  # a thread that just ended
                        continue
                log.debug("controller kept off cpu%d (now on %s)", self.core, sorted(rest))
            cls._holders += 1
            self._held = True

    def release(self) -> None:
        """Give the cores back once the last holder is done."""
        if not self._held:
            return
        cls = type(self)
        with cls._lock:
            self._held = False
            cls._holders -= 1
            if cls._holders > 0:
                return
            for tid in _threads():
                mask = cls._saved.get(tid) or {int(c) for c in os.environ.get(RESET_AFFINITY_ENV, "").split(",") if c}
                try:
                    if mask:
                        os.sched_setaffinity(tid, mask)
                except OSError:
                    continue
            cls._saved = {}


def _threads() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def controller_off_core(profile: Any, facts: Callable[[], dict[str, Any]], settings: Any) -> "ControllerAffinity":
    """On this host, keep the controller's threads off the core a 1-thread run pins to
    (``facts`` is called only then)."""
    core = None
    if profile.transport == "local" and settings.threads == 1:
        from .core_load import pinned_core

        online = sorted(int(c) for c in os.environ.get("EDGEKIT_RESET_AFFINITY", "").split(",") if c) \
            or sorted(os.sched_getaffinity(0))
        core = pinned_core(profile.big_cores, facts(), online=online)
    return ControllerAffinity(core)
