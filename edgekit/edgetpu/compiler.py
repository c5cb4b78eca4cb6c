"""Run Coral's ``edgetpu_compiler`` and read what it did.

The compiler is found from ``compiler=`` (a path or a command name), then the environment
variable ``EDGEKIT_EDGETPU_COMPILER``, then ``edgetpu_compiler`` on ``PATH``. Its stdout is
always kept next to the output (``NAME_edgetpu.compiler.txt``), so a failure leaves the log
behind; failures become :class:`ConversionError` naming the model, the compiler's own words
and the kept files.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from ..errors import ConfigError, ConversionError
from ..tflite.model_file import read_model
from .compiler_output import CompilerReport, OpStatus, parse_stdout, unparseable_op
from . import ops as table

log = logging.getLogger(__name__)

ENV_COMPILER = "EDGEKIT_EDGETPU_COMPILER"
INSTALL_HINT = (
    "install Coral's compiler (x86-64 Debian/Ubuntu only; there is no ARM or macOS build): "
    "`curl https://packages.cloud.google.com/apt/doc/apt-key.gpg | sudo apt-key add -`, "
    "`echo \"deb https://packages.cloud.google.com/apt coral-edgetpu-stable main\" | "
    "sudo tee /etc/apt/sources.list.d/coral-edgetpu.list`, `sudo apt-get update`, "
    "`sudo apt-get install edgetpu-compiler`; or pass its path with --edgetpu-compiler"
)


@dataclass(frozen=True)
class CompileResult:
    """A successful compile: the files and what the compiler reported."""

    output_path: Path
    log_path: Path
    compiler_version: str
    ops_on_tpu: int
    ops_on_cpu: int
    subgraphs: int
    op_status: tuple[OpStatus, ...]
    on_chip_bytes: Optional[int]
    off_chip_bytes: Optional[int]
    stdout: str
    on_chip_remaining_bytes: Optional[int] = None
    total_ops: int = 0
    min_runtime_version: Optional[int] = None   # the -m the model was compiled for
    command: tuple[str, ...] = ()
    seconds: float = 0.0
    stdout_path: Optional[Path] = None
    edgetpu_ops: int = 0                        # edgetpu-custom-op nodes in the output file
    report: CompilerReport = field(default_factory=CompilerReport)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; file paths are names (they sit next to the compiled model)."""
        return {
            "output_file": self.output_path.name,
            "log_file": self.log_path.name,
            "stdout_file": self.stdout_path.name if self.stdout_path else None,
            "compiler_version": self.compiler_version,
            "min_runtime_version": self.min_runtime_version,
            "ops_on_tpu": self.ops_on_tpu,
            "ops_on_cpu": self.ops_on_cpu,
            "total_ops": self.total_ops,
            "subgraphs": self.subgraphs,
            "edgetpu_custom_ops": self.edgetpu_ops,
            "on_chip_bytes": self.on_chip_bytes,
            "on_chip_remaining_bytes": self.on_chip_remaining_bytes,
            "off_chip_bytes": self.off_chip_bytes,
            "op_status": [{"operator": o.operator, "count": o.count, "status": o.status} for o in self.op_status],
            "command": list(self.command),
            "seconds": round(self.seconds, 3),
        }


def find_compiler(compiler: Optional[str] = None) -> Optional[str]:
    """The compiler to run: ``compiler`` (path or name), ``$EDGEKIT_EDGETPU_COMPILER``, or PATH.

    Raises:
        ConfigError: ``compiler`` was given but is neither an executable file nor on PATH.
    """
    for candidate, source in ((compiler, "--edgetpu-compiler"), (os.environ.get(ENV_COMPILER), ENV_COMPILER)):
        if not candidate:
            continue
        path = Path(candidate).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path.resolve())
        found = shutil.which(candidate)
        if found:
            return found
        raise ConfigError(f"{source} '{candidate}' is not an executable file nor a command on PATH",
                          hint=f"pass the path of edgetpu_compiler; {INSTALL_HINT}")
    return shutil.which("edgetpu_compiler")


def compiler_missing_error(model: str | Path, preflight_summary: str = "") -> ConversionError:
    """The error for "no edgetpu_compiler here": the install steps, and the preflight result kept."""
    where = "" if platform.machine() in ("x86_64", "AMD64") else (
        f" (this machine is {platform.machine()}; Coral ships the compiler for x86-64 only)")
    message = f"cannot compile '{model}' for the Edge TPU: edgetpu_compiler is not installed{where}"
    if preflight_summary:
        message += f". Preflight without it: {preflight_summary}"
    return ConversionError(message, hint=INSTALL_HINT)


def compiler_version(compiler: str, timeout_s: float = 30.0) -> str:
    """The version the compiler reports for ``--version`` ("" when it says nothing usable)."""
    try:
        out = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s --version failed: %s", compiler, exc)
        return ""
    return parse_stdout(out.stdout + out.stderr).compiler_version


def edgetpu_compile(model: str | Path, out_dir: str | Path, compiler: Optional[str] = None,
                    min_runtime_version: Optional[int] = None, num_segments: Optional[int] = None,
                    enable_multiple_subgraphs: bool = False, search_delegate: bool = False,
                    delegate_search_step: Optional[int] = None, timeout_s: float = 180,
                    show_operations: bool = True) -> CompileResult:
    """Compile ``model`` (a full-integer ``.tflite``) into ``out_dir/NAME_edgetpu.tflite``.

    Args:
        model: the int8/uint8 model.
        out_dir: where the compiled model, the compiler's .log and its stdout are kept.
        compiler: the ``edgetpu_compiler`` to run (else ``$EDGEKIT_EDGETPU_COMPILER``, else PATH).
        min_runtime_version: ``-m``: the oldest Edge TPU runtime the model must run on.
        num_segments: ``-n``: split into this many segments (pipelining over several TPUs).
        enable_multiple_subgraphs: ``-a``: map supported ops after a CPU op into more segments.
        search_delegate: ``-d``: search for the largest subgraph that compiles.
        delegate_search_step: ``-k``: the search step for ``-d``.
        timeout_s: ``-t`` for compilers that have it (16+); edgekit also kills it after this
            plus a grace period.
        show_operations: ``-s``: print the operator table (it is in the .log either way).

    Raises:
        ConfigError: the model is missing or not a ``.tflite``, or an option is out of range.
        ConversionError: no compiler (with the install steps), or the compiler failed, timed
            out, or could not parse the model (the message names the model and the kept log).
    """
    model = Path(model)
    mf = read_model(model)
    if mf.is_edgetpu:
        raise ConfigError(f"'{model}' is already compiled for the Edge TPU", hint="pass the int8 model it came from")
    _check_options(min_runtime_version, num_segments, delegate_search_step, timeout_s)
    exe = find_compiler(compiler)
    if exe is None:
        from .preflight import edgetpu_check

        raise compiler_missing_error(model, edgetpu_check(mf, min_runtime_version=min_runtime_version).summary())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    version = compiler_version(exe)
    argv = _argv(exe, model, out_dir, version, min_runtime_version, num_segments, enable_multiple_subgraphs,
                 search_delegate, delegate_search_step, timeout_s, show_operations)
    stem = model.stem
    output_path = out_dir / f"{stem}_edgetpu.tflite"
    log_path = out_dir / f"{stem}_edgetpu.log"
    stdout_path = out_dir / f"{stem}_edgetpu.compiler.txt"
    log.info("running %s", " ".join(argv))
    started_wall = time.time()
    started = time.monotonic()
    stdout, rc, timed_out = _run(argv, timeout_s + _grace(timeout_s), cwd=out_dir)
    seconds = time.monotonic() - started
    stdout_path.write_text(stdout, encoding="utf-8")
    fresh = _fresh(output_path, started_wall)   # a previous run's output is not this run's
    log_text = log_path.read_text(encoding="utf-8", errors="replace") if _fresh(log_path, started_wall) else ""
    report = parse_stdout(stdout, log_text)
    kept = _kept(stdout_path, log_path if _fresh(log_path, started_wall) else None)
    if timed_out:
        raise ConversionError(
            f"edgetpu_compiler did not finish compiling '{model}' in {timeout_s:g} s (+ grace); it was stopped. {kept}",
            hint="raise the limit with -t (--timeout), or compile a smaller model / fewer segments")
    if report.error_kind or rc != 0 or not fresh:
        raise _failure(model, report, rc, kept, output_path, fresh)
    compiled = read_model(output_path)
    edgetpu_ops = sum(1 for o in compiled.operators if o.name == "edgetpu-custom-op")
    total = report.total_ops if report.total_ops is not None else len(mf.operators)
    on_tpu = report.ops_on_tpu if report.ops_on_tpu is not None else 0
    result = CompileResult(
        output_path=output_path, log_path=log_path, compiler_version=report.compiler_version or version,
        ops_on_tpu=on_tpu, ops_on_cpu=report.ops_on_cpu if report.ops_on_cpu is not None else total - on_tpu,
        subgraphs=report.subgraphs if report.subgraphs is not None else edgetpu_ops,
        op_status=report.op_status, on_chip_bytes=report.on_chip_bytes, off_chip_bytes=report.off_chip_bytes,
        stdout=stdout, on_chip_remaining_bytes=report.on_chip_remaining_bytes, total_ops=total,
        min_runtime_version=(min_runtime_version if min_runtime_version is not None
                             else table.runtime_for_compiler(report.compiler_version or version)),
        command=tuple(argv), seconds=seconds, stdout_path=stdout_path, edgetpu_ops=edgetpu_ops, report=report,
    )
    if on_tpu and not edgetpu_ops:
        log.warning("%s reports %d ops on the Edge TPU but %s has no edgetpu-custom-op", exe, on_tpu, output_path)
    return result


def _check_options(min_runtime_version: Optional[int], num_segments: Optional[int],
                   delegate_search_step: Optional[int], timeout_s: float) -> None:
    if min_runtime_version is not None and min_runtime_version < table.FIRST_RUNTIME_VERSION:
        raise ConfigError(f"-m {min_runtime_version}: Edge TPU runtime versions start at {table.FIRST_RUNTIME_VERSION}",
                          hint="pass the device's runtime version, e.g. -m 13")
    if num_segments is not None and num_segments < 1:
        raise ConfigError(f"-n {num_segments}: the number of segments must be at least 1")
    if delegate_search_step is not None and delegate_search_step < 1:
        raise ConfigError(f"-k {delegate_search_step}: the delegate search step must be at least 1")
    if timeout_s <= 0:
        raise ConfigError(f"-t {timeout_s}: the timeout must be positive (seconds)")


def _argv(exe: str, model: Path, out_dir: Path, version: str, min_runtime_version: Optional[int],
          num_segments: Optional[int], multiple: bool, search: bool, step: Optional[int], timeout_s: float,
          show: bool) -> list[str]:
    argv = [exe]
    if show:
        argv.append("-s")
    argv += ["-o", str(out_dir.resolve())]
    if min_runtime_version is not None:
        argv += ["-m", str(int(min_runtime_version))]
    if num_segments is not None:
        argv += ["-n", str(int(num_segments))]
    if multiple:
        argv.append("-a")
    if search:
        argv.append("-d")
    if step is not None:
        argv += ["-k", str(int(step))]
    major = version.split(".")[0]
    if not major.isdigit() or int(major) >= 16:   # -t/--timeout_sec arrived with compiler 16
        argv += ["-t", str(max(1, int(round(timeout_s))))]
    argv.append(str(model.resolve()))
    return argv


def _grace(timeout_s: float) -> float:
    return min(30.0, max(2.0, 0.25 * timeout_s))


def _run(argv: Sequence[str], wall_s: float, cwd: Path) -> tuple[str, int, bool]:
    """Run with stdout+stderr merged; kill the whole process group past ``wall_s``."""
    try:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd,
                                start_new_session=True)
    except OSError as exc:
        raise ConversionError(f"cannot run edgetpu_compiler '{argv[0]}': {exc}", hint=INSTALL_HINT) from exc
    try:
        out, _ = proc.communicate(timeout=wall_s)
        return out.decode("utf-8", "replace"), proc.returncode, False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
        return out.decode("utf-8", "replace"), proc.returncode, True


def _kept(stdout_path: Path, log_path: Optional[Path]) -> str:
    files = [str(stdout_path)] + ([str(log_path)] if log_path is not None else [])
    return "Compiler output kept in " + " and ".join(files) + "."


def _fresh(path: Path, since: float) -> bool:
    try:
        return path.stat().st_mtime >= since - 1.0  # coarse-mtime filesystems
    except OSError:
        return False


def _failure(model: Path, report: CompilerReport, rc: int, kept: str, output_path: Path,
             fresh: bool) -> ConversionError:
    said = report.error or f"exit code {rc}"
    if report.error_kind == "internal":
        hint = ("the compiler crashed on this model: try -d (--search-delegate) to find the largest part that "
                "compiles, -a, or simplify the model around the ops the preflight flags (`edgekit edgetpu check`)")
    elif report.error_kind == "large_activations":
        hint = ("an intermediate tensor is too large for the Edge TPU: use a smaller input size or fewer channels "
                "early in the model, or split it with -n / -i")
    elif report.error_kind == "unparseable":
        found = unparseable_op(report.error) or unparseable_op(said)
        what = f"{found[0]} v{found[1]}" if found else "an operator version"
        hint = (f"{what} is newer than the compiler's TFLite reads (about TF 2.6): replace that layer "
                "(see `edgekit edgetpu check`) or convert with an older TensorFlow")
    elif report.error_kind == "timeout":
        hint = "raise the limit with -t (--timeout)"
    elif not fresh and not report.error_kind and rc == 0:
        said = f"it exited 0 but wrote no {output_path.name}"
        hint = "check the kept compiler output"
    else:
        hint = "check the kept compiler output; `edgekit edgetpu check MODEL` predicts which ops are the problem"
    return ConversionError(f"edgetpu_compiler failed on '{model}': {said}. {kept}", hint=hint)
