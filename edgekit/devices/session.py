"""One device, held open: its transport, work dir, facts, health, and :meth:`measure`.

The farm runs one :class:`DeviceSession` per device in a worker thread; ``deploy`` opens
one per call. ``measure`` is the whole protocol for one model: read it, check that the
device's runtime can load it, push it (content-addressed, once per content per session), cool
down, run the runner with a timeout derived from the settings, and build the
:class:`Measurement` with the device's facts and quality flags. Errors name the device.

On transports that keep a process open (local, SSH), edgekit's runner runs in serve mode:
one runner process per session (:mod:`.serve_session`), a job line in and a result line out,
no result file to pull or remove. ``serve=False``, or a transport without streams (ADB),
runs one runner process per measurement and pulls its result file.

On Linux devices with a serving runner, the session opens in ONE device command
(:mod:`.session_open`): private work dir, facts, the first health check's readings, then
the runner's start on the same channel. The model of the first job is pushed while the
runner imports its runtime (before the runtime check; pushing is harmless, running is not).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Optional, Union

from ..artifact import Artifact
from ..errors import ConfigError, DeviceError, DeviceTimeout, DeviceUnreachable
from ..measurement import Measurement, RunSettings, quality_flags
from ..tflite.model_file import ModelFile, read_model
from .custom_ops import raise_if_custom_ops
from .variant_guess import guess_variant
from .facts import collect_facts
from .health import Health
from .profile import DeviceProfile
from .runners.base import Runner, ServedRunner
from .runners.result import RunResult
from .transports.base import Transport
from .workdir import RemoteWorkdir

log = logging.getLogger(__name__)

__all__ = ["DeviceSession", "Health"]  # Health lives in .health

#: runner tokens of this process's open sessions (their runners are not orphans)
_LIVE_TOKENS: set[str] = set()


class DeviceSession:
    """A context manager over one device profile.

    Args:
        profile: the device.
        benchmark_binary: host path of ``benchmark_model`` (phones), overriding the profile.
        transport: an existing transport (default: built from the profile, closed on exit).
        timeout_margin_s: seconds allowed beyond the run's own ``max_seconds`` before the
            run is declared hung (interpreter start-up, model load, result write).
        serve: keep one edgekit runner process open for the session where the transport
            can (see the module docstring).
    """

    def __init__(self, profile: DeviceProfile, benchmark_binary: Optional[Union[str, Path]] = None,
                 transport: Optional[Transport] = None, timeout_margin_s: float = 60.0,
                 serve: bool = True) -> None:
        from .host_runtime import host_profile

        self.profile = host_profile(profile)  # this host: the runner runs in sys.executable
        self.serve = serve
        self.benchmark_binary = benchmark_binary
        self.timeout_margin_s = timeout_margin_s
        self._own_transport = transport is None
        self._transport = transport
        self._workdir: Optional[RemoteWorkdir] = None
        self._runner: Optional[Runner] = None
        self._facts: Optional[dict[str, Any]] = None
        self._opening: Optional[Any] = None        # session_open.Opening, once opened that way
        self._open_failed = False
        self._models: dict[tuple[str, int, int], ModelFile] = {}
        self._expected: list[Path] = []           # models to push while the session opens
        self._take_over = False                   # the opening kills other sessions' runners
        self._reaped: Optional[list[int]] = None  # what it killed, for the first kill_runners(mine=False)
        self._lock = threading.RLock()
        self.runner_token = uuid.uuid4().hex[:16]  # marks this session's runners on the device
        _LIVE_TOKENS.add(self.runner_token)

    @property
    def name(self) -> str:
        return self.profile.name

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "DeviceSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        _LIVE_TOKENS.discard(self.runner_token)
        runner, self._runner = self._runner, None
        if runner is not None and hasattr(runner, "close"):
            try:
                runner.close()  # a serving runner ends with its session
            except Exception:  # noqa: BLE001 - the link may already be gone
                log.debug("device %s: closing the runner failed", self.name, exc_info=True)
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

    def runner(self) -> Runner:
        """The profile's runner (built once; a missing benchmark binary raises ConfigError)."""
        with self._lock:
            if self._runner is None:
                if self.profile.runner == "edgekit-runner" and self.serve and self.transport.supports_streams:
                    from .serve_session import ServedScriptRunner

                    self._runner = ServedScriptRunner(self.transport, self.profile, self.workdir)
                elif self.profile.runner == "edgekit-runner":
                    from .runners.script import ScriptRunner

                    self._runner = ScriptRunner(self.transport, self.profile, self.workdir)
                else:
                    from .runners.benchmark_model import BenchmarkModelRunner

                    self._runner = BenchmarkModelRunner(self.transport, self.profile, self.workdir,
                                                        self.benchmark_binary)
                self._runner.token = self.runner_token
            return self._runner

    def kill_runners(self, mine: bool, timeout: float = 30.0) -> list[int]:
        """Kill edgekit runners on the device: this session's own (``mine``: stopping mid-job)
        or every other session's (taking the device over); see :mod:`.runner_ledger`."""
        if self.profile.runner != "edgekit-runner":
            return []
        if not mine and self._reaped is not None:  # the opening command just did (prepare_open)
            reaped, self._reaped = self._reaped, None
            return reaped
        from .runner_ledger import kill_runners

        return kill_runners(self.transport, self.workdir.root, self.runner_token, mine, timeout,
                            spare=tuple(_LIVE_TOKENS))  # this process's other sessions are alive, not orphans

    # -- facts and health --------------------------------------------------------------------
    def facts(self, start_timeout: Optional[float] = None) -> dict[str, Any]:
        """What the device is (cached for the session).

        With a serving runner, its runtime facts come from its ready line (it is started
        first, so it imports while the rest is read); ``start_timeout`` bounds that wait.
        """
        with self._lock:
            if self._facts is None:
                runner = self.runner() if self.profile.runner == "edgekit-runner" else None
                served = isinstance(runner, ServedRunner)
                opening = self._opening or (self._open(health=False) if served else None)
                if opening is not None:
                    facts = dict(opening.facts)  # read by the command that is now the runner
                else:
                    if served:
                        runner.start()  # not waited for: its Python imports the runtime while the facts are read
                    facts = collect_facts(self.transport, self.profile, runtime_probe=not served)
                if served:
                    facts.update(runner.runtime_facts(start_timeout))
                if self.profile.runner != "edgekit-runner" and not self.profile.runtime:
                    try:  # the pushed benchmark binary's own version
                        facts.update(self.runner().runtime_facts())
                    except ConfigError as exc:  # no binary: facts without it (deploy refuses it on its own)
                        facts.setdefault("errors", []).append(str(exc))
                if self.profile.emulated:
                    facts["emulated"] = True  # the profile says so: a CPU under qemu, not the real board
                self._facts = facts
            return dict(self._facts)

    def _open(self, health: bool, timeout: float = 15.0) -> Optional[Any]:
        """Open the session in one device command that becomes the serving runner
        (:mod:`.session_open`), once, where it can; None where it cannot (or it already ran)."""
        from .session_open import can_open, open_session

        with self._lock:
            if self._opening is not None or self._facts is not None or self._open_failed or not self.serve \
                    or not can_open(self.profile, self.transport):
                return None
            runner = self.runner()
            if not hasattr(runner, "adopt") or getattr(runner, "one_shot", True) or runner.started \
                    or getattr(runner, "_stream", None) is not None:
                return None
            from .workdir import SUBDIRS

            relative, sha, argv = runner.opening_command()
            reap = None
            if self._take_over:
                from .runner_ledger import reap_argv

                reap = reap_argv(".", self.runner_token, False, tuple(_LIVE_TOKENS))
            try:
                opening, stream = open_session(self.transport, self.profile, self.workdir.spec, SUBDIRS, relative,
                                               sha, argv, health, timeout, parked=self.profile.keep_runner_s > 0,
                                               reap=reap)
            except (DeviceUnreachable, DeviceTimeout):
                raise
            except DeviceError as exc:  # e.g. a refused work dir: the step-by-step way says it where it did
                log.info("device %s: opening the session in one command failed (%s); step by step instead",
                         self.name, exc)
                self._open_failed = True
                return None
            self.workdir.opened(opening.root)
            runner.adopt(stream, opening.root, relative, opening.fetch_runner)
            self._opening = opening
            self._reaped = opening.reaped
            self._push_expected()  # while the runner starts (or a parked one answers)
            return opening

    def prepare_open(self, models: list[Path], take_over: bool = False) -> None:
        """What a session that has yet to open does in its opening: push ``models`` (the next
        measurement's) while its runner starts (pushing is harmless; running is not: every check
        still comes before a run), and with ``take_over`` kill other sessions' runners first,
        which the next ``kill_runners(mine=False)`` then reports instead of doing again. A
        session that has opened already ignores it."""
        if self._opening is not None or self._facts is not None:
            return
        self._expected = [Path(m) for m in models]
        self._take_over = take_over

    def _push_expected(self) -> None:
        expected, self._expected = self._expected, []
        for path in expected:
            try:
                self.workdir.push_model(path, self._read_model(path).sha256)
            except Exception as exc:  # noqa: BLE001 - the measurement pushes again and says what is wrong
                log.info("device %s: pushing %s ahead failed: %s", self.name, path.name, exc)

    def _base_facts(self) -> dict[str, Any]:
        """The facts without waiting for a starting runner's runtime (core choice, identity)."""
        if self._facts is None and self._opening is not None:
            return dict(self._opening.facts)
        return self.facts()

    def _pinned_core_busy(self, timeout: float, opening: Optional[Any] = None) -> Optional[str]:
        """Why the core a run pins to is not idle now (:func:`.health.pinned_core_busy`)."""
        from .health import pinned_core_busy

        return pinned_core_busy(self, timeout, opening)

    def device_identity(self) -> str:
        """The physical device's id from its facts (``device_id``), without waiting for the runner."""
        return str(self._base_facts().get("device_id") or "")

    def health(self, timeout: float = 10.0) -> Health:
        """Reachable quickly, not overloaded, and cooler than ``profile.max_temp_c`` (:mod:`.health`).

        The first check of a session that opens in one command (:mod:`.session_open`) takes
        its readings from that command (the same files, commands and 0.5 s window)."""
        from .health import check_health

        return check_health(self, timeout)

    # -- measuring -----------------------------------------------------------------------------
    def check_model(self, model_file: ModelFile, settings: RunSettings,
                    artifact: Optional[Artifact] = None) -> RunSettings:
        """Refuse models the device cannot run; returns the settings to use (EdgeTPU delegate),
        see :func:`.model_check.check_model`."""
        from .model_check import check_model

        return check_model(self, model_file, settings, artifact)

    def measure(self, model: Union[str, Path], settings: Optional[RunSettings] = None,
                artifact: Optional[Artifact] = None) -> Measurement:
        """Measure one ``.tflite`` model on this device (see the module docstring)."""
        return self._measure(Path(model), settings or RunSettings(), artifact)[0]

    def measure_pair(self, model: Union[str, Path], baseline: Union[str, Path],
                     settings: Optional[RunSettings] = None, artifact: Optional[Artifact] = None,
                     baseline_artifact: Optional[Artifact] = None) -> tuple[Measurement, Measurement]:
        """Measure ``model`` and ``baseline`` in one runner process, alternating inference by
        inference (A B, B A, …: pair i of the two sample lists ran microseconds apart, so a
        device slowed for a while slows both alike); returns (candidate, baseline). Warm-up
        and timed phases are the usual protocol, shared by the two models.

        Raises:
            ConfigError: the device's runner is not edgekit's (``benchmark_model`` runs one
                model per process); and whatever :meth:`measure` raises.
        """
        if self.profile.runner != "edgekit-runner":
            raise ConfigError(f"device '{self.name}' runs {self.profile.runner}, which measures one model per "
                              "process: it cannot interleave two models inference by inference",
                              hint="A/B jobs on it alternate whole sessions instead")
        cand, base = self._measure(Path(model), settings or RunSettings(), artifact, Path(baseline),
                                   baseline_artifact)
        assert base is not None
        return cand, base

    def _measure(self, path: Path, settings: RunSettings, artifact: Optional[Artifact],
                 baseline: Optional[Path] = None, baseline_artifact: Optional[Artifact] = None,
                 ) -> tuple[Measurement, Optional[Measurement]]:
        model_file = self._read_model(path)
        raise_if_custom_ops(model_file, self.name)  # refused before the device is touched at all
        base_file = self._read_model(baseline) if baseline is not None else None
        if base_file is not None:
            raise_if_custom_ops(base_file, self.name)
        started = time.time()
        runner = self.runner()  # a missing benchmark binary is a ConfigError before the device is touched
        if isinstance(runner, ServedRunner):
            runner.replace_if_dead()
        factor = 1.0 if self.profile.runner == "edgekit-runner" else 2.0  # benchmark_model: warm-up + runs
        timeout = factor * settings.max_seconds + self.timeout_margin_s
        early = None
        if self._facts is None and self._opening is not None:  # the runner is still importing: push meanwhile
            early = self.workdir.push_model(path, model_file.sha256).remote
        self.facts(start_timeout=timeout)  # a runner that has to start does so within the run's timeout
        settings = self.check_model(model_file, settings, artifact)
        remote = early or self.workdir.push_model(path, model_file.sha256).remote
        remote_base = None
        if baseline is not None and base_file is not None:
            if self.check_model(base_file, settings, baseline_artifact) != settings:
                raise ConfigError(f"'{baseline.name}' and '{path.name}' need different delegates on '{self.name}'",
                                  hint="pair models of the same kind (both Edge TPU, or neither)")
            remote_base = self.workdir.push_model(baseline, base_file.sha256).remote
        if settings.cooldown_seconds > 0:
            log.info("device %s: cooling down %.1f s", self.name, settings.cooldown_seconds)
            time.sleep(settings.cooldown_seconds)
        from .cooldown import cool_down_device

        cooled = cool_down_device(self.transport, self.profile)  # back near idle temperature (bounded)
        from .host_runtime import controller_off_core

        with controller_off_core(self.profile, self.facts, settings):
            result: RunResult = runner.run(remote, settings, timeout=timeout, baseline=remote_base) \
                if remote_base else runner.run(remote, settings, timeout=timeout)
        if cooled is not None:
            result = dataclasses.replace(result, raw={**result.raw, "cooldown": dataclasses.asdict(cooled)})
        cand = self._measurement(path, model_file, settings, artifact, result, started)
        if baseline is None or base_file is None:
            return cand, None
        from .runners.result import baseline_result

        base_result = baseline_result(result, self.name, baseline.name, model_file.sha256)
        cand = dataclasses.replace(cand, raw={k: v for k, v in cand.raw.items() if k != "baseline"})
        return cand, self._measurement(baseline, base_file, settings, baseline_artifact, base_result, started)

    def _read_model(self, path: Path) -> ModelFile:
        """``read_model`` once per file version in this session (a lab measures one model many times)."""
        try:
            st = path.stat()
            key: Optional[tuple[str, int, int]] = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        except OSError:
            key = None  # read_model says what is wrong with the path
        if key is not None and key in self._models:
            return self._models[key]
        model_file = read_model(path)
        if key is not None:
            if len(self._models) >= 32:
                self._models.clear()
            self._models[key] = model_file
        return model_file

    def _measurement(self, path: Path, model_file: ModelFile, settings: RunSettings,
                     artifact: Optional[Artifact], result: RunResult, started: float) -> Measurement:
        stats = result.stats()
        facts = self.facts()
        facts.update(runtime=result.runtime or facts.get("runtime", ""),
                     runtime_version=result.runtime_version or facts.get("runtime_version", ""),
                     temps_before_c=result.temps_before_c, temps_after_c=result.temps_after_c,
                     governor_during=result.governor)
        flags = quality_flags(stats, result.temps_before_c, result.temps_after_c, result.throttled,
                              min_samples=min(10, settings.runs), emulated=self.profile.emulated)
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

