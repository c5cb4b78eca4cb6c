"""One device, held open: its transport, work dir, facts, health, and :meth:`measure`.

The farm runs one :class:`DeviceSession` per device in a worker thread; ``deploy`` opens
one per call. ``measure`` is the whole protocol for one model: read it, check that the
device's runtime can load it, push it (content-addressed), cool down, run the runner with a
timeout derived from the settings, pull the result, and build the :class:`Measurement` with
the device's facts and quality flags. Errors name the device.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from ..artifact import Artifact, Manifest
from ..errors import ConfigError, DeviceTimeout, DeviceUnreachable, MeasurementError, RuntimeIncompatible
from ..measurement import Measurement, RunSettings, quality_flags
from ..tflite.model_file import ModelFile, read_model
from .compat import raise_if_incompatible
from .facts import collect_facts, read_temps
from .profile import DeviceProfile
from .runners.result import RunResult
from .transports.base import Transport
from .workdir import RemoteWorkdir

log = logging.getLogger(__name__)

__all__ = ["DeviceSession", "Health"]


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


class DeviceSession:
    """A context manager over one device profile.

    Args:
        profile: the device.
        benchmark_binary: host path of ``benchmark_model`` (phones), overriding the profile.
        transport: an existing transport (default: built from the profile, closed on exit).
        timeout_margin_s: seconds allowed beyond the run's own ``max_seconds`` before the
            run is declared hung (interpreter start-up, model load, result write).
    """

    def __init__(self, profile: DeviceProfile, benchmark_binary: Optional[Union[str, Path]] = None,
                 transport: Optional[Transport] = None, timeout_margin_s: float = 60.0) -> None:
        self.profile = profile
        self.benchmark_binary = benchmark_binary
        self.timeout_margin_s = timeout_margin_s
        self._own_transport = transport is None
        self._transport = transport
        self._workdir: Optional[RemoteWorkdir] = None
        self._runner: Any = None
        self._facts: Optional[dict[str, Any]] = None
        self._lock = threading.RLock()

    @property
    def name(self) -> str:
        return self.profile.name

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "DeviceSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._transport is not None and self._own_transport:
            self._transport.close()

    @property
    def transport(self) -> Transport:
        with self._lock:
            if self._transport is None:
                from .transports.factory import make_transport

                self._transport = make_transport(self.profile)
            return self._transport

    @property
    def workdir(self) -> RemoteWorkdir:
        with self._lock:
            if self._workdir is None:
                self._workdir = RemoteWorkdir(self.transport, self.profile.workdir, self.name)
            return self._workdir

    def runner(self) -> Any:
        """The profile's runner (built once; a missing benchmark binary raises ConfigError)."""
        with self._lock:
            if self._runner is None:
                if self.profile.runner == "edgekit-runner":
                    from .runners.script import ScriptRunner

                    self._runner = ScriptRunner(self.transport, self.profile, self.workdir)
                else:
                    from .runners.benchmark_model import BenchmarkModelRunner

                    self._runner = BenchmarkModelRunner(self.transport, self.profile, self.workdir,
                                                        self.benchmark_binary)
            return self._runner

    # -- facts and health --------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        """What the device is (cached for the session)."""
        with self._lock:
            if self._facts is None:
                self._facts = collect_facts(self.transport, self.profile)
            return dict(self._facts)

    def health(self, timeout: float = 10.0) -> Health:
        """Reachable quickly, not overloaded, and cooler than ``profile.max_temp_c``."""
        try:
            temps = read_temps(self.transport, self.profile.thermal_zones, timeout=timeout)
            load = self.transport.run(["cat", "/proc/loadavg"], timeout=timeout)
            ncpu = self.transport.run(["nproc"], timeout=timeout)
        except (DeviceUnreachable, DeviceTimeout) as exc:
            return Health(False, f"unreachable: {exc}", {}, state="unreachable")
        load1 = _first_float(load.stdout) if load.ok else None
        cpus = _first_float(ncpu.stdout) if ncpu.ok else None
        if temps:
            zone, hottest = max(temps.items(), key=lambda kv: kv[1])
            if hottest >= self.profile.max_temp_c:
                return Health(False, f"too hot: {zone} at {hottest:.1f} °C (max_temp_c {self.profile.max_temp_c:g})",
                              temps, load1, state="too-hot")
        if load1 is not None and cpus and load1 > 2 * cpus:
            return Health(False, f"busy: load average {load1:.2f} on {cpus:g} CPUs", temps, load1, state="busy")
        return Health(True, "ok", temps, load1)

    # -- measuring -----------------------------------------------------------------------------
    def check_model(self, model_file: ModelFile, settings: RunSettings,
                    artifact: Optional[Artifact] = None) -> RunSettings:
        """Refuse models the device cannot run; returns the settings to use (EdgeTPU delegate)."""
        facts = self.facts()
        if self.profile.runner == "edgekit-runner" and not facts.get("runtime"):
            raise MeasurementError(
                f"device '{self.name}': {self.profile.python} imports no TFLite runtime "
                f"({facts.get('runtime_error') or '; '.join(facts.get('errors') or []) or 'unknown reason'})",
                hint="install one on the device: pip install ai-edge-litert (or tflite-runtime), "
                     "or set `python` in the profile to an interpreter that has it")
        if model_file.is_edgetpu:
            if "edgetpu" not in self.profile.delegates:
                raise RuntimeIncompatible(f"'{model_file.path.name}' is an EdgeTPU model and device '{self.name}' "
                                          "has no Edge TPU", hint="measure the int8 variant here, or pick a Coral device")
            from ..edgetpu.runtime import check_runtime
            from ..edgetpu.variant import recorded_runtime_version

            # the version the model needs is read from its Edge TPU package (the manifest's record
            # is the fallback); 0 on the device side means unknown, and is not checked
            check_runtime(model_file, self.profile.edgetpu_runtime_version, self.name,
                          recorded=recorded_runtime_version(artifact) if artifact else None)
            if settings.delegate != "edgetpu":
                settings = dataclasses.replace(settings, delegate="edgetpu")
        elif settings.delegate not in self.profile.delegates and not settings.delegate.endswith(".so") \
                and not (settings.delegate == "cpu" and "xnnpack" in self.profile.delegates):
            raise ConfigError(f"device '{self.name}' has no delegate {settings.delegate!r} "
                              f"(it has: {', '.join(self.profile.delegates)})",
                              hint="pick one of those with --delegate, or add it to the profile")
        raise_if_incompatible(model_file, str(facts.get("runtime") or ""), str(facts.get("runtime_version") or ""),
                              self.name)
        return settings

    def measure(self, model: Union[str, Path], settings: Optional[RunSettings] = None,
                artifact: Optional[Artifact] = None) -> Measurement:
        """Measure one ``.tflite`` model on this device (see the module docstring)."""
        settings = settings or RunSettings()
        path = Path(model)
        model_file = read_model(path)
        started = time.time()
        runner = self.runner()  # a missing benchmark binary is a ConfigError before the device is touched
        settings = self.check_model(model_file, settings, artifact)
        remote = self.workdir.push_model(path, model_file.sha256).remote
        if settings.cooldown_seconds > 0:
            log.info("device %s: cooling down %.1f s", self.name, settings.cooldown_seconds)
            time.sleep(settings.cooldown_seconds)
        factor = 1.0 if self.profile.runner == "edgekit-runner" else 2.0  # benchmark_model: warm-up + runs
        timeout = factor * settings.max_seconds + self.timeout_margin_s
        result: RunResult = runner.run(remote, settings, timeout=timeout)
        return self._measurement(path, model_file, settings, artifact, result, started)

    def _measurement(self, path: Path, model_file: ModelFile, settings: RunSettings,
                     artifact: Optional[Artifact], result: RunResult, started: float) -> Measurement:
        stats = result.stats()
        facts = self.facts()
        facts.update(runtime=result.runtime or facts.get("runtime", ""),
                     runtime_version=result.runtime_version or facts.get("runtime_version", ""),
                     temps_before_c=result.temps_before_c, temps_after_c=result.temps_after_c,
                     governor_during=result.governor)
        flags = quality_flags(stats, result.temps_before_c, result.temps_after_c, result.throttled,
                              min_samples=min(10, settings.runs))
        if result.raw.get("samples_source") == "aggregate":
            flags += ("aggregate-only",)
        if result.raw.get("stopped_by") == "max_seconds":
            flags += ("max-seconds",)
        return Measurement(
            artifact_sha256=model_file.sha256,
            artifact_name=artifact.name if artifact else path.stem,
            device=self.name, profile=self.profile.profile_name,
            runner=result.runner, runner_version=result.runner_version, settings=settings,
            samples_us=result.samples_us, stats=stats, init_us=result.init_us,
            first_inference_us=result.first_inference_us, warmup_samples_us=result.warmup_samples_us,
            peak_memory_kb=result.peak_memory_kb, facts=facts, pinned_cpu=result.pinned_cpu, flags=flags,
            started_at=result.started_at or started, finished_at=result.finished_at or time.time(),
            artifact_variant=artifact.variant if artifact else guess_variant(path, model_file),
            size_bytes=model_file.size_bytes, raw=result.raw,
        )


def guess_variant(path: Path, model_file: ModelFile) -> str:
    """The variant of a bare ``.tflite``: from a ``manifest.json`` beside it, else from its content."""
    manifest = path.parent / "manifest.json"
    if manifest.is_file():
        try:
            for a in Manifest.load(manifest).artifacts:
                if a.sha256 == model_file.sha256:
                    return a.variant
        except Exception as exc:  # noqa: BLE001 - a foreign manifest.json is not our concern here
            log.debug("ignoring %s: %s", manifest, exc)
    if model_file.is_edgetpu:
        return "edgetpu"
    return "tflite"


def _first_float(text: str) -> Optional[float]:
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None
