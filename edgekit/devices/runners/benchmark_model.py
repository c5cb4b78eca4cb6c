"""Measure on phones with TFLite's ``benchmark_model`` (or LiteRT's ``benchmark_litert_model``).

The binary for the device's ABI is found from ``--benchmark-binary``, the profile's
``benchmark_binary``, or the cache (``$EDGEKIT_CACHE`` or ``~/.cache/edgekit``,
``bin/<abi>/<tool>``); it is pushed once per content to ``bin/<tool>-<sha12>``, made
executable, and run pinned with ``taskset MASK`` to the profile's big cores. These tools
print aggregate statistics only: the :class:`RunResult` carries them in ``aggregate`` with
``samples_us`` empty and ``raw["samples_source"] = "aggregate"``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any, Optional

from ...artifact import sha256_file
from ...errors import ConfigError, MeasurementError
from ...measurement import RunSettings
from ..compat import incompatibility_from_error
from ..cpuset import parse_cpu_set, to_list, to_mask
from ..facts import read_cpu_state
from ..phone_facts import read_run_state, throttled, zone_dirs
from ..profile import DeviceProfile
from ..transports.base import Transport
from ..workdir import RemoteWorkdir
from .benchmark_parse import BenchmarkOutput, parse_benchmark_output
from .result import RunResult

log = logging.getLogger(__name__)

__all__ = ["BenchmarkModelRunner", "find_benchmark_binary", "benchmark_argv", "cache_dir"]

_NIGHTLY = "https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/release/lite/tools/nightly/latest/"
_NIGHTLY_NAMES = {"arm64-v8a": "android_aarch64_benchmark_model", "armeabi-v7a": "android_arm_benchmark_model",
                  "x86_64": "linux_x86-64_benchmark_model", "aarch64": "linux_aarch64_benchmark_model"}
_DELEGATE_FLAGS = {"gpu": "--use_gpu=true", "nnapi": "--use_nnapi=true", "hexagon": "--use_hexagon=true",
                   "xnnpack": "--use_xnnpack=true"}


def cache_dir() -> Path:
    """Where edgekit looks for downloaded binaries: ``$EDGEKIT_CACHE`` or ``~/.cache/edgekit``."""
    return Path(os.environ.get("EDGEKIT_CACHE") or Path.home() / ".cache" / "edgekit")


def find_benchmark_binary(profile: DeviceProfile, explicit: Optional[str | Path] = None) -> Path:
    """The host-side binary to push; ConfigError saying where to get it and where to put it."""
    tool = profile.runner
    candidates: list[tuple[str, Path]] = []
    if explicit:
        candidates.append(("--benchmark-binary", Path(explicit).expanduser()))
    if profile.benchmark_binary:
        candidates.append((f"profile {profile.name} benchmark_binary", Path(profile.benchmark_binary).expanduser()))
    cached = cache_dir() / "bin" / (profile.abi or "unknown-abi") / tool
    candidates.append(("cache", cached))
    for source, path in candidates:
        if path.is_file():
            return path
        if source != "cache":
            raise ConfigError(f"{tool} for device '{profile.name}' not found at '{path}' (from {source})",
                              hint="check the path")
    where = _NIGHTLY + _NIGHTLY_NAMES.get(profile.abi, "android_aarch64_benchmark_model")
    if tool == "benchmark_litert_model":
        where = "a LiteRT release or your own build: bazel build -c opt --config=android_arm64 //litert/tools:benchmark_model"
    raise ConfigError(
        f"no {tool} binary for device '{profile.name}' (ABI {profile.abi or 'unknown'})",
        hint=f"get it from {where} and put it at {cached} (or pass --benchmark-binary PATH, "
             f"or set benchmark_binary in the profile)")


def benchmark_argv(binary: str, model: str, settings: RunSettings, mask: Optional[str],
                   tool: str = "benchmark_model", report_peak_memory: bool = False,
                   op_profiling: bool = False) -> list[str]:
    """``[taskset MASK] BINARY --graph=… --num_threads=… …`` as an argv list."""
    argv = ["taskset", mask] if mask else []
    argv += [
        binary, f"--graph={model}", f"--num_threads={settings.threads}",
        f"--warmup_runs={settings.warmup_runs}", f"--warmup_min_secs={settings.warmup_seconds:g}",
        f"--num_runs={settings.runs}", f"--min_secs={settings.min_seconds:g}",
        f"--max_secs={settings.max_seconds:g}",
    ]
    if settings.delegate in _DELEGATE_FLAGS:
        argv.append(_DELEGATE_FLAGS[settings.delegate])
    elif tool == "benchmark_litert_model" and settings.delegate in ("cpu", ""):
        argv.append("--use_cpu=true")
    if report_peak_memory:
        argv.append("--report_peak_memory_footprint=true")
    if op_profiling:
        argv.append("--enable_op_profiling=true")
    return argv


class BenchmarkModelRunner:
    """Runs ``benchmark_model`` / ``benchmark_litert_model`` and parses its output."""

    def __init__(self, transport: Transport, profile: DeviceProfile, workdir: RemoteWorkdir,
                 binary: Optional[str | Path] = None, report_peak_memory: bool = False,
                 op_profiling: bool = False) -> None:
        self.transport = transport
        self.profile = profile
        self.workdir = workdir
        self.name = profile.runner
        self.binary = find_benchmark_binary(profile, binary)
        self.report_peak_memory = report_peak_memory
        self.op_profiling = op_profiling
        self._remote: Optional[str] = None
        self._sha = ""
        self._has_taskset: Optional[bool] = None

    @property
    def device(self) -> str:
        return self.profile.name

    def prepare(self) -> str:
        """Push the binary (once per content) and make it executable."""
        if self._remote is None:
            self._sha = sha256_file(self.binary)
            pushed = self.workdir.push_content(self.binary, "bin", f"{self.name}-{self._sha[:12]}", self._sha,
                                               executable=True)
            self._remote = pushed.remote
        return self._remote

    def runtime_facts(self, timeout: float = 30.0) -> dict[str, str]:
        """The pushed binary's TFLite version, probed with ``--version`` (its banner where it has no
        such flag); ``{}`` when it does not say (then op versions are not checked up front)."""
        from ..binary_version import parse_binary_version

        done = self.transport.run([self.prepare(), "--version"], timeout=timeout)
        version = parse_binary_version(done.stdout + "\n" + done.stderr)
        if not version:
            log.info("device %s: %s does not say its version; op versions are checked when it loads the model",
                     self.device, self.name)
            return {}
        runtime = "litert" if self.name == "benchmark_litert_model" else "tflite"
        return {"runtime": runtime, "runtime_version": version, "runtime_source": f"{self.name} --version"}

    def pin_cpus(self, settings: RunSettings) -> Optional[list[int]]:
        """The big cores to pin to (profile mask/list, or the fastest cores when ``auto``)."""
        if not settings.pin:
            return None
        if self._has_taskset is None:
            self._has_taskset = self.transport.run(["which", "taskset"], timeout=15.0).ok
            if not self._has_taskset:
                log.warning("device %s has no taskset: %s runs unpinned", self.device, self.name)
        if not self._has_taskset:
            return None
        cpus = parse_cpu_set(self.profile.big_cores, where=f"device '{self.device}': big_cores")
        if cpus is not None:
            return cpus
        freq = read_cpu_state(self.transport)["freq_khz"]
        maxes = {int(c[3:]): f["max"] for c, f in freq.items() if f.get("max")}
        if not maxes or len(set(maxes.values())) == 1:
            return None  # all cores alike (or unknown): nothing to prefer
        top = max(maxes.values())
        return sorted(c for c, f in maxes.items() if f == top)

    def run(self, remote_model: str, settings: RunSettings, timeout: float) -> RunResult:
        binary = self.prepare()
        cpus = self.pin_cpus(settings)
        argv = benchmark_argv(binary, remote_model, settings, to_mask(cpus) if cpus else None, self.name,
                              self.report_peak_memory, self.op_profiling)
        zones = zone_dirs(self.transport, self.profile.thermal_zones)
        before = read_run_state(self.transport, cpus, zones)   # per run, as the board runner records
        started = time.time()
        done = self.transport.run(argv, timeout=timeout)
        finished = time.time()
        after = read_run_state(self.transport, cpus, zones)
        temps_before, temps_after = before["temps_c"], after["temps_c"]
        text = done.stdout + "\n" + done.stderr
        parsed = parse_benchmark_output(text)
        if done.rc != 0 or not parsed.ok:
            incompatible = incompatibility_from_error(text, self.device, remote_model.rsplit("/", 1)[-1])
            if incompatible is not None:
                raise incompatible
            tail = "\n".join(parsed.errors) or text.strip()[-600:]
            raise MeasurementError(f"device '{self.device}': {self.name} failed (exit {done.rc}): {tail}",
                                   hint="run the same command on the device by hand (edgekit -v shows it)")
        result = self._result(parsed, cpus, temps_before, temps_after, started, finished, argv)
        governors = [c["governor"] for c in before["cpus"] if c.get("governor")]
        return dataclasses.replace(result, governor=governors[0] if governors else None,
                                   throttled=throttled(before, after),
                                   raw={**result.raw, "before": before, "after": after})

    def _result(self, parsed: BenchmarkOutput, cpus: Optional[list[int]], temps_before: dict[str, float],
                temps_after: dict[str, float], started: float, finished: float, argv: list[str]) -> RunResult:
        raw: dict[str, Any] = {
            "samples_source": "aggregate", "format": parsed.format, "tool": parsed.tool, "argv": argv,
            "binary_sha256": self._sha,
            "warmup": _asdict(parsed.warmup), "inference": _asdict(parsed.inference),
            "warmup_avg_us": parsed.warmup_avg_us, "inference_avg_us": parsed.inference_avg_us,
            "model_size_mb": parsed.model_size_mb, "memory_init_mb": parsed.memory_init_mb,
            "memory_overall_mb": parsed.memory_overall_mb,
            "op_tables": [{"title": t.title, "columns": list(t.columns), "rows": list(t.rows)} for t in parsed.op_tables],
            "op_timings": _asdict(parsed.op_timings), "nodes_executed": parsed.nodes_executed,
        }
        runtime, _, version = self.profile.runtime.partition(" ")
        return RunResult(
            runner=self.name, runner_version=f"sha256:{self._sha[:12]}", samples_us=(),
            aggregate=parsed.aggregate(), init_us=parsed.init_us, first_inference_us=parsed.first_inference_us,
            peak_memory_kb=parsed.peak_memory_mb * 1024.0 if parsed.peak_memory_mb is not None else None,
            pinned_cpu=to_list(cpus) if cpus else None, temps_before_c=temps_before, temps_after_c=temps_after,
            runtime=runtime or self.name, runtime_version=version, started_at=started, finished_at=finished, raw=raw,
        )


def _asdict(obj: Any) -> Optional[dict[str, Any]]:
    from dataclasses import asdict

    return asdict(obj) if obj is not None else None
