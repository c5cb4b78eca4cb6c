"""edgekit's runner in serve mode: one runner process per device session, one line per job.

:class:`ServedScriptRunner` is a :class:`ScriptRunner` whose runner stays open: it is
started once (``PYTHON RUNNER --serve`` on a :meth:`Transport.open_stream` channel), says
it is ready, then gets one JSON job line per measurement and answers with the same
document a one-shot run writes, plus the job's id. Nothing is pulled or removed per job:
the result comes back on the open channel, so a job costs about one round trip beyond
the runner's own time. The measurement itself (interpreter, warm-up, timed runs) happens
inside the runner exactly as in one-shot mode.

A stream that dies or stops answering mid-job fails that job with a :class:`DeviceError`
(the farm retries it) after the runner is killed; the next job starts a new runner.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from typing import Any, Callable, Optional

from ..errors import DeviceError, DeviceTimeout
from ..measurement import RunSettings
from .runners.result import RunResult
from .runners.script import ScriptRunner, check_runner_doc, runner_options
from .transports.line_stream import LineStream, StreamClosed

log = logging.getLogger(__name__)

__all__ = ["ServedScriptRunner", "job_line"]

#: the ready line's keys that are device facts (as :func:`edgekit.devices.facts.probe_runtime` names them)
_RUNTIME_KEYS = ("python_version", "runtime", "runtime_version", "numpy_version", "runtime_error", "numpy_error")
#: seconds a new runner may take to import numpy and its TFLite runtime and say it is ready
START_TIMEOUT_S = 60.0


def job_line(job_id: str, remote_model: str, options: dict[str, str]) -> str:
    """One job as the runner's ``--serve`` mode reads it (a single JSON line)."""
    return json.dumps({"id": job_id, "model": remote_model, "settings": options}, sort_keys=True)


class ServedScriptRunner(ScriptRunner):
    """edgekit's runner kept open for the session (transports with ``supports_streams``).

    Attributes:
        hello: the runner's ready line (Python and runtime versions, pid), once started.
        started: how many runner processes this session started (1 unless one died).
    """

    def __init__(self, *args: Any, start_timeout: float = START_TIMEOUT_S, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start_timeout = start_timeout
        self.hello: dict[str, Any] = {}
        self.started = 0
        self._stream: Optional[LineStream] = None
        self._ready = False
        self.one_shot = False     # the transport could not keep a stream open: ScriptRunner's way
        self.start_exit_code: Optional[int] = None
        self._start_error: Optional[StreamClosed] = None
        self._ids = itertools.count(1)

    # -- the runner process ----------------------------------------------------------------
    def opening_command(self) -> tuple[str, str, list[str]]:
        """For a session's opening command (:mod:`..session_open`): the runner file relative to
        the work dir, its sha256, and the hash-checked ``--serve`` start run there (no push
        first: when the file is missing or differs, :meth:`adopt` sends its bytes on the channel)."""
        from ..artifact import sha256_file

        if not self._script_sha:
            self._script_sha = sha256_file(self.script)
        relative = f"bin/edgekit_runner-{self._script_sha[:12]}.py"
        return relative, self._script_sha, self.serve_command(relative)

    def serve_command(self, script: str) -> list[str]:
        """The hash-checked ``--serve`` start of the runner file ``script``, with ``--linger S``
        when the profile keeps runners (``keep_runner_s``): the started process then relays to
        a runner parked on the device, started first if none is (the runner's "parked serve
        mode"), which outlives this session by up to S seconds."""
        from .runners.verified import verified_command

        keep = self.profile.keep_runner_s
        command = verified_command(self.profile.python, script, self._script_sha, getattr(self, "token", "-"),
                                   linger=keep > 0)
        return command + (["--serve", "--linger", f"{keep:g}"] if keep > 0 else ["--serve"])

    def adopt(self, stream: LineStream, root: str, relative: str, fetch: bool) -> None:
        """Take the opening command's stream, on which this runner is starting (see
        :meth:`opening_command`); ``fetch``: send the runner's bytes first (its start checks
        their sha256 and saves them as ``root/relative``)."""
        self._stream, self._ready, self._start_error = stream, False, None
        self._remote_script = f"{root}/{relative}"
        if fetch:
            import base64

            from hashlib import sha256

            code = self.script.read_bytes()
            if sha256(code).hexdigest() != self._script_sha:
                stream.kill()
                raise DeviceError(f"device '{self.device}': the runner file {self.script} changed during the session",
                                  hint="run again", device=self.device)
            try:
                stream.write_line("edgekit-runner " + base64.b64encode(code).decode("ascii"))
            except StreamClosed:  # already ended: server() reads why, or start() starts anew
                log.debug("device %s: the runner's channel ended before its bytes were sent", self.device)
        # checked on the device (and again by the start): later starts of this session need no push
        self.workdir._known[self._remote_script] = self._script_sha

    def start(self) -> None:
        """Start the runner (push its script, open the stream) without waiting for it to be ready."""
        if self._stream is not None and self._stream.alive:
            return
        self._stream, self._ready = None, False
        if self.one_shot:
            return
        try:
            self._stream = self.transport.open_stream(self.serve_command(self.prepare()))  # hash-checked start
        except NotImplementedError as exc:  # e.g. an ADB device without shell v2
            log.info("device %s: %s; one runner process per measurement", self.device, exc)
            self.one_shot = True
        except StreamClosed as exc:  # the program could not even be started (reported by server())
            self._start_error, self.start_exit_code = exc, exc.exit_code

    def server(self, timeout: Optional[float] = None) -> LineStream:
        """The open runner, started (and waited for, at most ``timeout`` s) when there is none or it died."""
        self.start()
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            raise error
        stream = self._stream
        assert stream is not None
        if self._ready:
            return stream
        wait = self.start_timeout if timeout is None else min(timeout, self.start_timeout)
        try:
            hello = self._read_doc(stream, wait, lambda d: d.get("kind") == "edgekit.serve", "its start")
        except DeviceError as exc:
            # ended by itself (a Python that cannot run the runner) or killed (e.g. another
            # session reclaiming the device): its exit code tells, see runtime_facts()
            self._stream = None
            self.start_exit_code = stream.close(2.0) if isinstance(exc, StreamClosed) else None
            if not isinstance(exc, StreamClosed):
                stream.kill()
            raise type(exc)(f"{exc} (starting `{self.profile.python} {self._remote_script} --serve`)",
                            hint=f"check that `{self.profile.python}` runs on the device and has numpy and a "
                                 "TFLite runtime", device=self.device) from exc
        self.hello, self._ready = hello, True
        self.started += 1
        log.info("device %s: runner serving (pid %s, Python %s, %s%s)", self.device, hello.get("pid"),
                 hello.get("python_version"), hello.get("runtime") or hello.get("runtime_error"),
                 f"; parked {hello['parked_s']:g} s, session {hello.get('attached')}" if "parked_s" in hello else "")
        return stream

    def parked_window(self, timeout: Optional[float] = None) -> Optional[str]:
        """The idle check's window (two ``/proc/stat`` readings, :mod:`..core_load`'s format)
        from a parked runner's ready line; None when the runner started anew instead."""
        self.server(timeout)
        window = self.hello.get("window")
        return window if isinstance(window, str) else None

    def runtime_facts(self, timeout: Optional[float] = None) -> dict[str, Any]:
        """What the runner's Python imports (the keys of the runtime probe), from its ready line.

        A runner that cannot start at all (no such Python) is a ``runtime_error``, as the
        probe reports it; an unreachable or silent device raises.
        """
        self.start()
        if self.one_shot:
            from .facts import probe_runtime

            return probe_runtime(self.transport, self.profile.python, timeout=max(timeout or 60.0, 60.0))
        try:
            self.server(timeout)
            hello = dict(self.hello)
        except StreamClosed as exc:
            rc = self.start_exit_code
            if rc is None or not 0 <= rc <= 128:  # killed by a signal (or unknown): the device's fault
                raise
            return {"runtime_error": f"{self.profile.python} could not start the runner: {exc}"}
        return {k: hello[k] for k in _RUNTIME_KEYS if k in hello}

    def replace_if_dead(self) -> None:
        """Before a measurement: forget a runner that died while idle (e.g. killed by a session
        reclaiming the device), so this measurement starts a new one instead of failing.
        A runner that dies during a measurement (its session stopping it) fails that one."""
        stream = self._stream
        if stream is not None and self._ready and not stream.poll():
            log.info("device %s: the runner (pid %s) ended between jobs; a new one will start",
                     self.device, self.hello.get("pid"))
            self.kill()

    def close(self) -> None:
        """End the runner (EOF on its stdin; killed if it does not exit within seconds)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def kill(self) -> None:
        """Kill the runner now (a job in flight is lost)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.kill()

    # -- one job -----------------------------------------------------------------------------
    def run(self, remote_model: str, settings: RunSettings, timeout: float,
            baseline: Optional[str] = None) -> RunResult:
        """Measure one model through the open runner; see :meth:`ScriptRunner.run`.

        ``timeout`` bounds the job, and the runner's start when this job has to start it
        (as one one-shot run's timeout covers both).
        """
        deadline = time.monotonic() + timeout
        self.start()
        if self.one_shot:
            return super().run(remote_model, settings, timeout, baseline)
        stream = self.server(timeout)
        timeout = max(deadline - time.monotonic(), 1.0)
        job_id = str(next(self._ids))
        options = runner_options(settings, self.profile)
        if baseline:
            options["baseline_model"] = baseline
        try:
            stream.write_line(job_line(job_id, remote_model, options))
            doc = self._read_doc(stream, timeout,
                                 lambda d: d.get("kind") == "edgekit.run" and str(d.get("id")) == job_id,
                                 f"job {job_id} ({remote_model.rsplit('/', 1)[-1]})")
        except DeviceError:
            self.kill()  # hung or dead: the next job starts a fresh runner
            raise
        return self.checked(doc, remote_model)

    def _read_doc(self, stream: LineStream, timeout: float, wanted: Callable[[dict[str, Any]], bool],
                  what: str) -> dict[str, Any]:
        """The next line that is the document ``wanted`` picks; stray output is logged and skipped."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceTimeout(f"device '{self.device}': the runner did not answer {what} within {timeout:g} s",
                                    hint="raise max_seconds or the timeout margin; the runner was killed",
                                    device=self.device)
            try:
                line = stream.read_line(remaining)
            except DeviceTimeout:
                raise DeviceTimeout(f"device '{self.device}': the runner did not answer {what} within {timeout:g} s",
                                    hint="raise max_seconds or the timeout margin; the runner was killed",
                                    device=self.device) from None
            try:
                doc = json.loads(line)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and wanted(doc):
                if doc.get("kind") == "edgekit.run":
                    return check_runner_doc(doc, self.device, f"the result line of {what}")
                return doc
            log.debug("device %s: skipping runner output %r", self.device, line[:200])
