"""Runner processes left on a device, found and killed: the device half of "runs never overlap".

sshd and adbd do not kill a command when its channel closes, and a controller killed with
SIGKILL cannot kill anything. Every runner therefore registers itself in its work dir
(:mod:`.runners.verified`): ``runners/<pid>`` = ``pid token start`` while it runs, and
``runs.log`` lines ``start|end|killed PID TOKEN TIME``. As device farms reclaim a device
(STF kills the previous owner's processes before handing a phone to the next user), a
session that takes a device kills every runner of other tokens first (:func:`kill_runners`
with ``mine=False``), and a session that stops mid-job (Ctrl-C, lost lease) kills its own
(``mine=True``), in one device command, before the lease is given up. A pid is killed only
while ``/proc/<pid>/cmdline`` still names edgekit's runner (no pid reuse accident), with its
whole process group, and is waited for (a zombie counts as gone).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from .transports.base import Completed, Transport

log = logging.getLogger(__name__)

__all__ = ["PARKED_TOKEN", "REAP", "kill_runners", "killed_from_output", "reap_argv", "read_runs_log"]

#: the ledger token of a runner parked between sessions (the runner's own PARKED_TOKEN)
PARKED_TOKEN = "parked"

#: $1 = work dir, $2 = "mine" | "others", $3 = token ("mine") or the live tokens to spare ("others")
REAP = r"""cd "$1/runners" 2>/dev/null || exit 0
for f in *; do
  [ -f "$f" ] || continue
  read -r pid tok started < "$f" || { rm -f "$f"; continue; }
  if [ "$2" = mine ]; then [ "$tok" = "$3" ] || continue; else case " $3 " in *" $tok "*) continue ;; esac; fi
  if kill -0 "$pid" 2>/dev/null && grep -q edgekit_runner "/proc/$pid/cmdline" 2>/dev/null; then
    read -r st < "/proc/$pid/stat"; st=${st##*) }; set -- $st; pg=$3
    if [ "$pg" -gt 1 ] 2>/dev/null && [ "$pg" != "$$" ]; then kill -KILL -"$pg" 2>/dev/null; fi
    kill -KILL "$pid" 2>/dev/null
    n=0
    while [ $n -lt 100 ] && [ -r "/proc/$pid/stat" ]; do
      read -r st < "/proc/$pid/stat" 2>/dev/null || break; st=${st##*) }; set -- $st
      [ "$1" = Z ] && break
      sleep 0.05; n=$((n + 1))
    done
    echo "killed $pid $tok $(date +%s.%N)" >> ../runs.log
    echo "__EDGEKIT_KILLED=$pid"
  fi
  rm -f "$f"
done
"""

_KILLED = re.compile(r"__EDGEKIT_KILLED=(\d+)")


def reap_argv(root: str, token: str, mine: bool, spare: tuple[str, ...] = ()) -> list[str]:
    """The device command of :func:`kill_runners` (``root`` may be ``.`` in the work dir)."""
    # a parked runner (token "parked", see the runner's parked serve mode) sleeps until a
    # session attaches; it then carries that session's token, and is killed as that session's
    tokens = (token or "-") if mine else " ".join(sorted({token or "-", PARKED_TOKEN, *spare}))
    return ["sh", "-c", REAP, "edgekit-reap", root, "mine" if mine else "others", tokens]


def kill_runners(transport: Transport, root: str, token: str, mine: bool, timeout: float = 30.0,
                 spare: tuple[str, ...] = ()) -> list[int]:
    """Kill the runners in ``root``'s ledger started by ``token`` (``mine``), or by anyone but
    ``token`` and the live sessions ``spare`` (runners of this process's other sessions)."""
    done = transport.run(reap_argv(root, token, mine, spare), timeout=timeout)
    return killed_from_output(done, transport.device, mine)


def killed_from_output(done: Completed, device: str, mine: bool) -> list[int]:
    """The pids :data:`REAP` killed, from its output (also run in a session's opening command)."""
    killed = [int(p) for p in _KILLED.findall(done.stdout)]
    if killed:
        log.warning("device %s: killed %s runner(s) %s", device, "own" if mine else "orphaned", killed)
    if not done.ok:
        log.warning("device %s: cleaning up runners failed (exit %s): %s", device, done.rc,
                    done.stderr.strip()[-300:])
    return killed


def read_runs_log(text: str) -> dict[int, dict[str, Any]]:
    """``{pid: {"token", "start", "end"}}`` from a ``runs.log`` (``end`` None while it runs)."""
    runs: dict[int, dict[str, Any]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[0] not in ("start", "end", "killed"):
            continue
        what, pid, token, at = parts[0], int(parts[1]), parts[2], float(parts[3])
        run = runs.setdefault(pid, {"token": token, "start": None, "end": None})
        if what == "start":
            run["start"] = at
        else:
            run["end"] = at if run["end"] is None else min(run["end"], at)
    return runs
