"""Run edgekit's runner only if its bytes are the ones the controller pushed, and leave a
trace of every runner process on the device.

The work dir is private (:mod:`edgekit.devices.private_dir`), but a file there can still be
damaged or replaced between the push (whose hash the controller checked) and a later run in
the same session. So the command that starts the runner is a tiny Python program (any
Python 3.6+, like the runner) that reads the script ONCE, compares its sha256 with the hash
the controller passes on the command line, and executes exactly the bytes it hashed (no
window between check and use); a mismatch exits with :data:`MISMATCH_RC` before any of
them runs. When the session's opening command found no runner file on the device
(:mod:`edgekit.devices.session_open`), it sets :data:`FETCH_ENV` and the controller sends
the bytes as the first stdin line (``edgekit-runner BASE64``): they are hashed and checked
the same way, then saved (atomically) as the runner file for later starts, and run.
``sys.argv`` and ``sys.path[0]`` are what ``python SCRIPT ARGS`` would give. On
this host it also widens its CPU set back to the controller's original one
(:mod:`edgekit.devices.host_runtime`), so the runner picks its core as usual.

It also registers the process in the work dir's ledger (:mod:`edgekit.devices.runner_ledger`):
``runners/<pid>`` holds ``pid token start`` while it lives (the token names the controller
session that started it), and ``runs.log`` gets ``start``/``end`` lines with the device's
clock, so a controller that takes a device over can find and kill a dead controller's runner.
"""

from __future__ import annotations

from typing import List

__all__ = ["FETCH_ENV", "MISMATCH_RC", "VERIFY_AND_RUN", "verified_command"]

MISMATCH_RC = 97
#: set to ``1`` (by :mod:`edgekit.devices.session_open`) when the runner's bytes come on stdin
FETCH_ENV = "EDGEKIT_FETCH_RUNNER"

VERIFY_AND_RUN = (
    "import atexit, hashlib, os, sys, time\n"
    "want, token, path = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])\n"
    f"fetched = os.environ.pop({FETCH_ENV!r}, '') == '1'\n"
    "if fetched:\n"
    "    import base64\n"
    "    try:\n"
    "        code = base64.b64decode(sys.stdin.buffer.readline().split(b' ', 1)[-1].strip())\n"
    "    except Exception:\n"
    "        code = b''\n"
    "else:\n"
    "    with open(path, 'rb') as f:\n"
    "        code = f.read()\n"
    "got = hashlib.sha256(code).hexdigest()\n"
    "if got != want:\n"
    "    sys.stderr.write('edgekit: refusing to run %s: its sha256 is %s, expected %s\\n' % (path, got, want))\n"
    f"    sys.exit({MISMATCH_RC})\n"
    "if fetched:\n"
    "    tmp = '%s.%d.partial' % (path, os.getpid())\n"
    "    try:\n"
    "        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)\n"
    "        with os.fdopen(fd, 'wb') as out:\n"
    "            out.write(code)\n"
    "        os.rename(tmp, path)\n"
    "    except OSError:\n"
    "        pass\n"
    "sys.argv = sys.argv[3:]\n"
    "cpus = os.environ.pop('EDGEKIT_RESET_AFFINITY', '')\n"
    "if cpus and hasattr(os, 'sched_setaffinity'):\n"
    "    try:\n"
    "        os.sched_setaffinity(0, [int(c) for c in cpus.split(',')])\n"
    "    except (OSError, ValueError):\n"
    "        pass\n"
    "def _ledger(root=os.path.dirname(os.path.dirname(os.path.abspath(path))), token=token, pid=os.getpid()):\n"
    "    entry = os.path.join(root, 'runners', str(pid))\n"
    "    def note(what):\n"
    "        try:\n"
    "            with open(os.path.join(root, 'runs.log'), 'a') as log:\n"
    "                log.write('%s %d %s %.6f\\n' % (what, pid, token, time.time()))\n"
    "        except OSError:\n"
    "            pass\n"
    "    def done():\n"
    "        note('end')\n"
    "        try:\n"
    "            os.remove(entry)\n"
    "        except OSError:\n"
    "            pass\n"
    "    try:\n"
    "        if not os.path.isdir(os.path.dirname(entry)):\n"
    "            os.mkdir(os.path.dirname(entry), 0o700)\n"
    "        with open(entry, 'w') as f:\n"
    "            f.write('%d %s %.6f\\n' % (pid, token, time.time()))\n"
    "    except OSError:\n"
    "        return\n"
    "    note('start')\n"
    "    atexit.register(done)\n"
    "_ledger()\n"
    "sys.path[0] = os.path.dirname(os.path.abspath(path))\n"
    "del want, got, fetched, cpus, token, _ledger\n"
    "exec(compile(code, path, 'exec'), {'__name__': '__main__', '__file__': path, '__builtins__': __builtins__})\n"
)


def verified_command(python: str, script: str, sha256: str, token: str = "-") -> List[str]:
    """``python -c VERIFY_AND_RUN SHA256 TOKEN SCRIPT``: append the runner's own arguments.

    ``token`` (no spaces) names who started the runner, for :mod:`edgekit.devices.runner_ledger`."""
    return [python, "-c", VERIFY_AND_RUN, sha256, token or "-", script]
