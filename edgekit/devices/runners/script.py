"""Run edgekit's own runner (``android_bench/edgekit_runner.py``) with the device's Python.

The script is pushed once per version of its bytes (``bin/edgekit_runner-<sha12>.py``),
run as ``PYTHON RUNNER --model … --out results/<uuid>.json``, and its JSON result is pulled
back, validated and turned into a :class:`RunResult`. A result that is missing, truncated,
not JSON or not the runner's becomes a :class:`MeasurementError` naming the device and file.
"""

from __future__ import annotations

import json
import logging
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from ...errors import DeviceError, DeviceTimeout, DeviceUnreachable, MeasurementError
from ...measurement import RunSettings
from ..compat import incompatibility_from_error
from ..cpuset import parse_cpu_set, to_list
from ..profile import DeviceProfile
from ..transports.base import Completed, Transport
from ..workdir import RemoteWorkdir
from .result import RunResult

log = logging.getLogger(__name__)

__all__ = ["ScriptRunner", "runner_script_path", "runner_argv", "runner_options", "parse_runner_json",
           "check_runner_doc", "cpu_spec",
           "to_result"]

NAME = "edgekit-runner"


def runner_script_path() -> Path:
    """The runner file shipped with edgekit (package data of ``edgekit.android_bench``)."""
    return Path(str(resources.files("edgekit.android_bench").joinpath("edgekit_runner.py")))


def cpu_spec(profile: DeviceProfile, settings: RunSettings) -> str:
    """The runner's ``--cpu``: ``none`` unpinned, ``auto``, or the profile's big cores as a list.

    The runner pins itself to the fastest of these (``threads`` of them when > 1).
    """
    if not settings.pin:
        return "none"
    cpus = parse_cpu_set(profile.big_cores, where=f"device '{profile.name}': big_cores")
    return "auto" if cpus is None else to_list(cpus)


def runner_options(settings: RunSettings, profile: DeviceProfile) -> dict[str, str]:
    """The runner's measurement options (``threads``, ``warmup_runs`` …) as strings, in CLI order.

    The one-shot command line (``--warmup-runs 10``) and a serve-mode job line
    (``"warmup_runs": "10"``) are both built from this, so the two modes cannot drift apart.
    """
    delegate = settings.delegate if settings.delegate not in ("", "xnnpack") else "cpu"
    return {
        "threads": str(settings.threads),
        "warmup_runs": str(settings.warmup_runs), "warmup_seconds": repr(float(settings.warmup_seconds)),
        "runs": str(settings.runs), "min_seconds": repr(float(settings.min_seconds)),
        "max_seconds": repr(float(settings.max_seconds)),
        "cpu": cpu_spec(profile, settings), "delegate": delegate,
        "thermal_zones": ",".join(profile.thermal_zones) or "auto",
    }


def runner_argv(python: str, script: str, model: str, out: str, settings: RunSettings,
                profile: DeviceProfile) -> list[str]:
    """The command line of one run (an argv list; the transport quotes it once)."""
    argv = [python, script, "--model", model, "--out", out]
    for key, value in runner_options(settings, profile).items():
        argv += ["--" + key.replace("_", "-"), value]
    return argv


def parse_runner_json(text: str, device: str, where: str) -> dict[str, Any]:
    """Parse and validate the runner's document; MeasurementError if it is not one."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise MeasurementError(
            f"device '{device}': the runner's result {where} is corrupt: {exc} "
            f"({len(text)} bytes, starts {text[:60]!r})",
            hint="the device's storage or the transfer failed; run again") from None
    return check_runner_doc(doc, device, where)


def check_runner_doc(doc: Any, device: str, where: str) -> dict[str, Any]:
    """``doc`` if it is a runner document with valid samples; MeasurementError if it is not."""
    if not isinstance(doc, dict) or doc.get("kind") != "edgekit.run" or "status" not in doc:
        raise MeasurementError(f"device '{device}': {where} is not an edgekit runner result",
                               hint="run again; if it persists, check the runner script on the device")
    if doc["status"] == "ok":
        samples = doc.get("samples_us")
        # set(map(type, …)): one C-level pass (a result holds up to ~10^5 samples)
        if not isinstance(samples, list) or not samples or not set(map(type, samples)) <= {int, float}:
            raise MeasurementError(f"device '{device}': {where} has no valid samples_us",
                                   hint="run again; the runner's output was damaged")
    return doc


class ScriptRunner:
    """edgekit's runner script, for Linux boards and this host."""

    name = NAME

    def __init__(self, transport: Transport, profile: DeviceProfile, workdir: RemoteWorkdir,
                 script: Optional[Path] = None) -> None:
        self.transport = transport
        self.profile = profile
        self.workdir = workdir
        self.script = Path(script) if script else runner_script_path()
        self._remote_script: Optional[str] = None
        self._script_sha = ""

    @property
    def device(self) -> str:
        return self.profile.name

    def prepare(self) -> str:
        """Push the runner script (only if its bytes are not on the device yet)."""
        if self._remote_script is None:
            from ...artifact import sha256_file

            sha = sha256_file(self.script)
            pushed = self.workdir.push_content(self.script, "bin", f"edgekit_runner-{sha[:12]}.py", sha)
            self._remote_script, self._script_sha = pushed.remote, sha
        return self._remote_script

    def command(self) -> list[str]:
        """``python`` running the pushed runner only if its sha256 is still the pushed one
        (:mod:`.verified`); the runner's own arguments follow."""
        from .verified import verified_command

        script = self.prepare()
        return verified_command(self.profile.python, script, self._script_sha, getattr(self, "token", "-"))

    def run(self, remote_model: str, settings: RunSettings, timeout: float,
            baseline: Optional[str] = None) -> RunResult:
        """Run one measurement (with ``baseline``: an A/B run, see :class:`.base.Runner`);
        raises DeviceTimeout, MeasurementError, RuntimeIncompatible."""
        script = self.prepare()
        out = self.workdir.new_result_path()
        argv = runner_argv(self.profile.python, script, remote_model, out, settings, self.profile)
        if baseline:
            argv += ["--baseline-model", baseline]
        argv = self.command() + argv[2:]  # [python, script] → the hash-checked start
        done = self.transport.run(argv, timeout=timeout)
        try:
            doc = self._result(done, out)
        finally:
            self.workdir.remove(out)
        return self.checked(doc, remote_model)

    def checked(self, doc: dict[str, Any], remote_model: str) -> RunResult:
        """A validated runner document as a RunResult; its error as RuntimeIncompatible or MeasurementError."""
        if doc["status"] != "ok":
            message = str(doc.get("error") or "unknown error")
            incompatible = incompatibility_from_error(message, self.device, remote_model.rsplit("/", 1)[-1])
            if incompatible is not None:
                raise incompatible
            raise MeasurementError(
                f"device '{self.device}': the runner failed ({doc.get('error_kind', 'error')}): {message}",
                hint=_hint(doc))
        return to_result(doc)

    def close(self) -> None:
        """Nothing to release: every one-shot run is its own process."""

    def _result(self, done: Completed, out: str) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="edgekit-result-") as tmp:
            local = Path(tmp) / "result.json"
            try:
                self.transport.pull(out, local, timeout=60.0)
            except (DeviceTimeout, DeviceUnreachable):
                raise
            except DeviceError as exc:
                stdout_doc = _last_json(done.stdout)
                if stdout_doc is not None and stdout_doc.get("status") == "error":
                    return stdout_doc
                raise MeasurementError(
                    f"device '{self.device}': the runner left no result file {out} (exit {done.rc}): "
                    f"{(done.stderr or done.stdout).strip()[-600:]}",
                    hint=f"check that `{self.profile.python}` runs on the device and has numpy and a TFLite runtime",
                ) from exc
            text = local.read_text(encoding="utf-8", errors="replace")
        return parse_runner_json(text, self.device, out)


def to_result(doc: dict[str, Any]) -> RunResult:
    """A validated runner document as a :class:`RunResult`."""
    before, after = doc.get("before") or {}, doc.get("after") or {}
    throttled = False
    for b, a in zip(before.get("cpus") or [], after.get("cpus") or []):
        mb, ma = b.get("scaling_max_freq_khz"), a.get("scaling_max_freq_khz")
        if mb and ma and ma < mb:
            throttled = True
    raw = {k: doc.get(k) for k in ("stopped_by", "inputs", "before", "after", "hostname", "python_version",
                                   "python", "numpy_version", "delegate", "delegate_library", "pinned_cpus",
                                   "settings", "model_size_bytes", "baseline", "interleaved")
           if k in doc or k not in ("baseline", "interleaved")}
    raw["samples_source"] = "per-run"
    return RunResult(
        runner=doc.get("runner", NAME), runner_version=str(doc.get("runner_version", "")),
        samples_us=tuple(float(x) for x in doc["samples_us"]),
        warmup_samples_us=tuple(float(x) for x in doc.get("warmup_samples_us") or ()),
        init_us=_num(doc.get("init_us")), first_inference_us=_num(doc.get("first_inference_us")),
        peak_memory_kb=_num(doc.get("peak_rss_kb")), pinned_cpu=doc.get("pinned_cpu"),
        temps_before_c=dict(doc.get("temps_before_c") or {}), temps_after_c=dict(doc.get("temps_after_c") or {}),
        governor=doc.get("governor"), throttled=throttled, runtime=str(doc.get("runtime", "")),
        runtime_version=str(doc.get("runtime_version", "")), started_at=float(doc.get("started_at") or 0.0),
        finished_at=float(doc.get("finished_at") or 0.0), raw=raw,
    )


def _hint(doc: dict[str, Any]) -> str:
    kind = doc.get("error_kind")
    if kind == "runtime-missing":
        return "install a TFLite runtime for the device's Python: pip install ai-edge-litert (or tflite-runtime)"
    if kind == "delegate-failed":
        return "check the delegate library on the device, or measure with --delegate cpu"
    if kind == "model-missing":
        return "the pushed model vanished from the work dir; run again"
    return "run with --verbose for details; the runner's message is above"


def _last_json(text: str) -> Optional[dict[str, Any]]:
    for line in reversed((text or "").strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("kind") == "edgekit.run":
            return doc
    return None


def _num(v: Any) -> Optional[float]:
    return float(v) if isinstance(v, (int, float)) else None
