"""Opening a device session in ONE device command, which then becomes the serving runner.

Opening a session on a Linux board used to cost about 15 round trips before the first
measurement: the health check (thermal listing, temperatures, load, CPU count, the 0.5 s
per-core window), the private work dir, the runner's hash check and push, the facts
(``uname``, files, listings, sysfs) and the runner's start. Each is a new exec channel
(a fork of sshd, a shell and the command), ~40–60 ms on a loaded 2-core host.

:func:`open_session` runs all of it in one channel (:data:`OPEN_SCRIPT`, POSIX ``sh``):

1. the work dir: :data:`edgekit.devices.private_dir.SCRIPT`, the same argv as
   :func:`~edgekit.devices.private_dir.ensure_private_dir` (0700, owner and symlink checks);
2. whether the runner file is there with the right sha256 (if not, its bytes come on the
   channel's stdin and the hash-checked start saves them: :mod:`.runners.verified`);
3. the facts' commands, exactly the argv lists :func:`edgekit.devices.facts.collect_facts`
   runs (each quoted once by :meth:`Transport.quote`, as every transport does), except
   that the sysfs files are named by constant globs instead of a listing first (a superset;
   the parser keeps the files it asks for);
4. for a farm session taking the device over (``reap``): :data:`.runner_ledger.REAP` of
   other sessions' runners, the same argv as :func:`.runner_ledger.kill_runners`;
5. with ``health``: ``/proc/loadavg``, ``nproc`` and :func:`.core_load.window_script` (the
   same 0.5 s window) — before the runner starts, so its imports are not counted as load;
   with a runner parked on the device (``parked``, :data:`PARKED_CHECK`), no window: the
   parked runner's ready line carries the last 0.5 s;
6. ``exec`` of the runner's hash-checked ``--serve`` start on the same channel (which, for a
   parked runner, only relays to it: :mod:`.runners.verified`).

The outputs are parsed by the very functions the separate commands feed
(:func:`collect_facts` over a :class:`RecordedTransport`, :func:`private_dir_from_output`,
:func:`busy_from_output`), so the facts and health readings are the same in content. The
runner imports its runtime while the controller parses, checks identity, cleans up and
pushes the model.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from ..errors import DeviceError
from .profile import DeviceProfile
from .transports.base import Completed, Transport
from .transports.line_stream import LineStream, StreamClosed

log = logging.getLogger(__name__)

__all__ = ["OPEN_SCRIPT", "Opening", "PARKED_CHECK", "RecordedTransport", "can_open", "open_session",
           "parked_socket"]

#: $1 = the work dir command, $2 = the runner file (relative to the work dir), $3 = its sha256,
#: $4 = how many sections follow as NAME COMMAND pairs; the rest is the runner's argv (exec'd
#: in the work dir). A runner file that is missing or not those bytes is sent on stdin.
OPEN_SCRIPT = r"""set -u
wd=$1 runner=$2 sha=$3 n=$4; shift 4
out=$(eval "$wd" 2>&1); rc=$?
printf '%s\n__EDGEKIT_WORKDIR_RC=%s\n' "$out" "$rc"
[ "$rc" = 0 ] || exit "$rc"
cd "${out##*__EDGEKIT_WORKDIR=}" || exit 3
sum=$(sha256sum "$runner" 2>/dev/null) || sum=""
if [ "${sum%% *}" = "$sha" ]; then fetch=0; else fetch=1; fi
printf '__EDGEKIT_RUNNER_FETCH=%s\n' "$fetch"
while [ "$n" -gt 0 ]; do
  printf '__EDGEKIT_SECTION=%s\n' "$1"
  eval "$2"
  printf '__EDGEKIT_RC=%s\n' "$?"
  shift 2; n=$((n - 1))
done
printf '__EDGEKIT_OPENED\n'
[ "$#" -gt 0 ] || exit 0
EDGEKIT_FETCH_RUNNER=$fetch; export EDGEKIT_FETCH_RUNNER
exec "$@"
"""

_SECTION = re.compile(r"^__EDGEKIT_SECTION=(\w+)$")
_RC = re.compile(r"__EDGEKIT_RC=(-?\d+)$")
_WORKDIR_RC = re.compile(r"^__EDGEKIT_WORKDIR_RC=(\d+)$")
_OPENED = "__EDGEKIT_OPENED"
_FETCH = "__EDGEKIT_RUNNER_FETCH="

_PARKED = "__EDGEKIT_PARKED"
#: shell code (run by the opening's own shell, no fork): prints the marker iff a runner is
#: alive (not a zombie) at the parked runner's socket {sock} (a pid reused since a SIGKILL only costs the
#: window: the start then finds no one listening, starts a runner, and health reads anew)
PARKED_CHECK = ('if [ -S {sock} ] && read -r parked_pid < {sock}.pid 2>/dev/null '
                '&& read -r parked_st < "/proc/$parked_pid/stat" 2>/dev/null && parked_st=${{parked_st##*) }} '
                '&& [ "${{parked_st%% *}}" != Z ]; then echo ' + _PARKED + '; else {window}; fi')


def parked_socket(runner_file: str) -> str:
    """Where a lingering runner file ``bin/NAME.py`` parks, relative to the work dir (the
    runner's own rule: ``park/NAME.sock``)."""
    name = runner_file.rsplit("/", 1)[-1]
    return "park/" + (name[:-3] if name.endswith(".py") else name) + ".sock"


_CPU_DIR = "/sys/devices/system/cpu"
_THERMAL_DIR = "/sys/class/thermal"
#: the sysfs files of every CPU and (``auto`` zones) every thermal zone, as constant globs
_CPU_GLOBS = tuple(f"{_CPU_DIR}/cpu[0-9]*/cpufreq/{leaf}"
                   for leaf in ("scaling_governor", "scaling_cur_freq", "cpuinfo_max_freq"))
_ZONE_GLOBS = (f"{_THERMAL_DIR}/thermal_zone[0-9]*/type", f"{_THERMAL_DIR}/thermal_zone[0-9]*/temp")


def can_open(profile: DeviceProfile, transport: Transport) -> bool:
    """Whether a session on this device opens with :func:`open_session`: edgekit's runner
    served over a stream, on Linux (boards and this host)."""
    return profile.runner == "edgekit-runner" and profile.os == "linux" and transport.supports_streams


@dataclass
class Opening:
    """What one opening command read: the work dir, the facts (without the runtime, which the
    runner's ready line adds) and, when asked for, the health readings."""

    root: str
    facts: dict[str, Any]
    fetch_runner: bool
    load1: Optional[float] = None
    cpus: Optional[float] = None
    busy: Optional[dict[int, float]] = None
    busy_error: str = ""
    parked: bool = False     # a parked runner was alive: its ready line carries the window
    reaped: Optional[list[int]] = None  # other sessions' runners it killed (asked to take the device over)
    health: bool = False
    seconds: float = 0.0
    sections: dict[str, Completed] = field(default_factory=dict, repr=False)


class RecordedTransport(Transport):
    """Answers the argv lists the opening command already ran from their recorded output;
    anything else (a Jetson's ``nvpmodel``, a Coral's package query) goes to ``fallback``."""

    def __init__(self, fallback: Transport, recorded: dict[tuple[str, ...], Completed],
                 sysfs: Optional[Completed]) -> None:
        self.device = fallback.device
        self.fallback = fallback
        self.recorded = recorded
        self.sysfs = sysfs

    def run(self, argv: Sequence[str], timeout: float) -> Completed:
        key = tuple(str(a) for a in argv)
        if key in self.recorded:
            return self.recorded[key]
        if self.sysfs is not None and key[:4] == ("grep", "-H", "-s", "."):
            return self.sysfs  # read with globs: a superset of the files asked for
        return self.fallback.run(argv, timeout)

    def push(self, local: Any, remote: str, timeout: float) -> None:
        self.fallback.push(local, remote, timeout)

    def pull(self, remote: str, local: Any, timeout: float) -> None:
        self.fallback.pull(remote, local, timeout)


def _fact_commands(profile: DeviceProfile) -> dict[str, list[str]]:
    """The argv lists :func:`collect_facts` runs on a Linux device, by section name."""
    from .facts import _LINUX_FILES

    return {"uname": ["uname", "-s", "-n", "-r", "-m"],
            "files": ["grep", "-a", "-H", "-s", "", *_LINUX_FILES],
            "listing": ["ls", _CPU_DIR, _THERMAL_DIR]}


def _sysfs_command(profile: DeviceProfile) -> str:
    """``grep -H -s .`` of every CPU's cpufreq files and the profile's zones' type/temp."""
    zones = profile.thermal_zones
    if list(zones) == ["auto"] or not zones:
        zone_files: list[str] = list(_ZONE_GLOBS)
    else:
        dirs = [z.rstrip("/") for z in zones if z != "auto"]
        zone_files = [shlex.quote(f"{d}/{leaf}") for d in dirs for leaf in ("type", "temp")]
    return " ".join(["grep -H -s .", *_CPU_GLOBS, *zone_files])


def opening_argv(transport: Transport, profile: DeviceProfile, workdir_spec: str, subdirs: Sequence[str],
                 runner_file: str, runner_sha256: str, runner_argv: Sequence[str], health: bool,
                 window_s: float = 0.5, parked: bool = False, reap: Optional[Sequence[str]] = None) -> list[str]:
    """The opening command's argv (see the module docstring); ``parked``: the runner lingers
    (``--linger``), so a live parked runner of this file may answer the idle check; ``reap``:
    :func:`.runner_ledger.reap_argv` for the work dir ``.``, run before the health readings
    (a farm session takes the device over: other sessions' runners are killed first)."""
    from .core_load import window_script
    from .private_dir import SCRIPT

    quote = transport.quote
    sections: list[str] = []
    for name, argv in _fact_commands(profile).items():
        sections += [name, quote(argv)]
    sections += ["sysfs", _sysfs_command(profile)]
    if reap is not None:
        sections += ["reap", quote(list(reap))]
    if health:
        window = quote(["sh", "-c", window_script(window_s)])
        if parked:  # a parked runner's ready line carries the last 0.5 s: no window to wait for here
            window = PARKED_CHECK.format(sock=quote([parked_socket(runner_file)]), window=window)
        sections += ["loadavg", quote(["cat", "/proc/loadavg"]), "nproc", quote(["nproc"]), "window", window]
    wd = quote(["sh", "-c", SCRIPT, "edgekit-workdir", workdir_spec, *subdirs])
    return ["sh", "-c", OPEN_SCRIPT, "edgekit-open", wd, runner_file, runner_sha256, str(len(sections) // 2),
            *sections, *runner_argv]


def open_session(transport: Transport, profile: DeviceProfile, workdir_spec: str, subdirs: Sequence[str],
                 runner_file: str, runner_sha256: str, runner_argv: Sequence[str], health: bool, timeout: float,
                 window_s: float = 0.5, parked: bool = False,
                 reap: Optional[Sequence[str]] = None) -> tuple[Opening, LineStream]:
    """Run the opening command; returns its readings and the open stream, on which the
    runner is starting (its ready line comes next). The stream is killed on any error.

    Raises DeviceError (the work dir refused or not creatable, the command failing),
    DeviceTimeout, DeviceUnreachable.
    """
    from .facts import collect_facts
    from .private_dir import private_dir_from_output

    start = time.monotonic()
    argv = opening_argv(transport, profile, workdir_spec, subdirs, runner_file, runner_sha256, runner_argv, health,
                        window_s, parked, reap)
    stream = transport.open_stream(argv)
    try:
        lines = _read_until_opened(stream, profile.name, workdir_spec, timeout + (window_s if health else 0.0))
        workdir_lines: list[str] = []
        index = 0
        for index, line in enumerate(lines):
            m = _WORKDIR_RC.match(line)
            if m:
                break
            workdir_lines.append(line)
        text = "\n".join(workdir_lines) + "\n"
        root = private_dir_from_output(text, text, 0, workdir_spec, profile.name)
        rest = lines[index + 1:]
        fetch = any(line == _FETCH + "1" for line in rest[:1])
        sections = _sections(rest[1:])
        recorded = {tuple(a): sections[name] for name, a in _fact_commands(profile).items() if name in sections}
        facts = collect_facts(RecordedTransport(transport, recorded, sections.get("sysfs")), profile,
                              runtime_probe=False)
        opening = Opening(root=root, facts=facts, fetch_runner=fetch, health=health, sections=sections)
        if reap is not None and "reap" in sections:
            from .runner_ledger import killed_from_output

            opening.reaped = killed_from_output(sections["reap"], profile.name, mine=False)
        if health:
            _health_readings(opening, sections, profile.name)
    except BaseException:
        stream.kill()
        raise
    opening.seconds = time.monotonic() - start
    log.debug("device %s: session opened in %.3f s (work dir %s, runner %s)", profile.name, opening.seconds,
              root, "sent" if fetch else "on the device")
    return opening, stream


def _read_until_opened(stream: LineStream, device: str, spec: str, timeout: float) -> list[str]:
    """The opening's output lines up to its end marker; an ended stream raises the work dir's
    refusal (or the command's failure) with its reason."""
    from .private_dir import private_dir_from_output

    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while True:
        try:
            line = stream.read_line(max(deadline - time.monotonic(), 0.0))
        except StreamClosed as exc:
            code = stream.close(2.0)
            text = "\n".join(lines) + "\n"
            rcs = [int(m.group(1)) for m in map(_WORKDIR_RC.match, lines) if m]
            if not rcs or rcs[0] != 0:  # the work dir step failed: its own message
                private_dir_from_output(text, text + stream.stderr_tail, rcs[0] if rcs else (code or 1),
                                        spec, device)
            raise DeviceError(f"device '{device}': the session's opening command failed (exit {code}): "
                              f"{(stream.stderr_tail or text).strip()[-400:]}",
                              hint="check that the device has a POSIX sh with grep, ls and sleep",
                              device=device) from exc
        if line == _OPENED:
            return lines
        lines.append(line)


def _sections(lines: list[str]) -> dict[str, Completed]:
    """``{name: Completed}`` from ``__EDGEKIT_SECTION=name`` … ``__EDGEKIT_RC=n`` blocks."""
    out: dict[str, Completed] = {}
    name: Optional[str] = None
    body: list[str] = []
    for line in lines:
        m = _SECTION.match(line)
        if m and name is None:
            name, body = m.group(1), []
            continue
        rc = _RC.search(line)
        if rc and name is not None:
            before = line[:rc.start()]
            text = "".join(b + "\n" for b in body) + before
            out[name] = Completed(argv=(name,), rc=int(rc.group(1)), stdout=text, stderr="", seconds=0.0)
            name = None
            continue
        if name is not None:
            body.append(line)
    return out


def _health_readings(opening: Opening, sections: dict[str, Completed], device: str) -> None:
    """Load, CPU count and per-core busy fractions, as :meth:`DeviceSession.health` reads them."""
    from .core_load import busy_from_output

    load, ncpu, window = sections.get("loadavg"), sections.get("nproc"), sections.get("window")
    opening.load1 = _first_float(load.stdout) if load is not None and load.ok else None
    opening.cpus = _first_float(ncpu.stdout) if ncpu is not None and ncpu.ok else None
    if window is not None and window.rc == 0 and window.stdout.strip() == _PARKED:
        opening.parked = True  # the window comes with the parked runner's ready line
        return
    try:
        if window is None:
            raise DeviceError(f"device '{device}': the opening command did not read /proc/stat", device=device)
        opening.busy = busy_from_output(window.stdout, window.rc, "", device)
    except DeviceError as exc:
        opening.busy_error = str(exc)


def _first_float(text: str) -> Optional[float]:
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None
