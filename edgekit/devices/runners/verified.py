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

__all__ = ["FETCH_ENV", "MISMATCH_RC", "PARK_RELAY", "VERIFY_AND_RUN", "verified_command"]

MISMATCH_RC = 97
#: set to ``1`` (by :mod:`edgekit.devices.session_open`) when the runner's bytes come on stdin
FETCH_ENV = "EDGEKIT_FETCH_RUNNER"

#: the parked runner's relay (``--linger``), defined ahead of the check: a session whose runner
#: is parked only copies its stdin/stdout to the parked runner's socket (see the runner's
#: "parked serve mode"), with no runner bytes to read or hash and no site-packages to import.
#: The parked runner answers only a relay of its own interpreter (another ``python`` in the
#: profile starts a runner anew, which takes the socket over).
PARK_RELAY = """
def _park_path(path):
    name = os.path.splitext(os.path.basename(path))[0]
    return os.path.join(os.path.dirname(os.path.dirname(path)), 'park', name + '.sock')
def _park_connect(sock):
    import _socket  # not socket: its enum and selectors imports cost a relay ~15 ms
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    here = os.getcwd()
    try:
        os.chdir(os.path.dirname(sock))  # a socket address is at most ~107 bytes: connect by name
        conn.connect(os.path.basename(sock))
        return conn
    except OSError:
        conn.close()
        return None
    finally:
        os.chdir(here)
def _park_relay(conn, token):
    import _socket, select
    conn.sendall(('attach %s %s\\n' % (token, sys.executable)).encode())
    data = conn.recv(65536)  # its ready line; nothing when it runs another interpreter
    if not data:
        conn.close()
        return
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]
    sock = conn.fileno()
    poller = select.poll()
    poller.register(0, select.POLLIN)
    poller.register(sock, select.POLLIN)
    poller.register(1, 0)
    while True:
        for fd, ev in poller.poll():
            if fd == 1 and ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                os._exit(141)  # the session is gone: so is the parked runner, even mid-job
            if fd == 0:
                data = os.read(0, 65536)
                if data:
                    conn.sendall(data)
                else:
                    poller.unregister(0)
                    conn.shutdown(_socket.SHUT_WR)  # the session ends: the parked runner parks
            elif fd == sock:
                data = conn.recv(65536)
                if not data:
                    os._exit(0)
                view = memoryview(data)
                while view:
                    view = view[os.write(1, view):]
"""

VERIFY_AND_RUN = (
    "import atexit, os, sys, time\n"
    "want, token, path = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])\n"
    f"fetched = os.environ.pop({FETCH_ENV!r}, '') == '1'\n"
    "linger = '--linger' in sys.argv[4:]\n"
    "if linger:\n"
    "    exec(" + repr(PARK_RELAY) + ")\n"
    "    if not fetched:\n"
    "        _conn = _park_connect(_park_path(path))\n"
    "        if _conn is not None:\n"
    "            _park_relay(_conn, token)  # returns only if that runner runs another Python\n"
    "import hashlib\n"
    "if sys.flags.no_site:  # started with -S for the relay: the runner needs site-packages\n"
    "    import site\n"
    "    site.main()\n"
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
    "if linger:  # the runner parks in a session of its own; this process relays to it\n"
    "    _sock = _park_path(path)\n"
    "    try:\n"
    "        os.mkdir(os.path.dirname(_sock), 0o700)\n"
    "    except OSError:\n"
    "        pass\n"
    "    _child = os.fork()\n"
    "    if _child:\n"
    "        _until = time.time() + 60\n"
    "        while time.time() < _until:\n"
    "            try:  # its own runner, not one it replaces: the pid file is written once it listens\n"
    "                with open(_sock + '.pid') as f:\n"
    "                    _ours = f.read().strip() == str(_child)\n"
    "            except OSError:\n"
    "                _ours = False\n"
    "            _conn = _park_connect(_sock) if _ours else None\n"
    "            if _conn is not None:\n"
    "                _park_relay(_conn, token)\n"
    "                sys.stderr.write('edgekit: the parked runner refused its own starter\\n')\n"
    "                sys.exit(3)\n"
    "            _done, _status = os.waitpid(_child, os.WNOHANG)\n"
    "            if _done:\n"
    "                try:\n"
    "                    with open(_sock[:-5] + '.log') as f:\n"
    "                        sys.stderr.write(f.read()[-2000:])\n"
    "                except OSError:\n"
    "                    pass\n"
    "                sys.stderr.write('edgekit: the parked runner ended before it listened (status %d)\\n' % _status)\n"
    "                sys.exit(3)\n"
    "            time.sleep(0.005)\n"
    "        sys.stderr.write('edgekit: the parked runner did not listen within 60 s\\n')\n"
    "        sys.exit(3)\n"
    "    os.setsid()\n"
    "    _null = os.open(os.devnull, os.O_RDWR)\n"
    "    _log = os.open(_sock[:-5] + '.log', os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)\n"
    "    os.dup2(_null, 0)\n"
    "    os.dup2(_log, 1)\n"
    "    os.dup2(_log, 2)\n"
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


def verified_command(python: str, script: str, sha256: str, token: str = "-", linger: bool = False) -> List[str]:
    """``python -c VERIFY_AND_RUN SHA256 TOKEN SCRIPT``: append the runner's own arguments.

    ``token`` (no spaces) names who started the runner, for :mod:`edgekit.devices.runner_ledger`.
    ``linger``: the runner's arguments include ``--linger`` (its parked serve mode); Python then
    starts with ``-S`` (a session that only relays to the parked runner imports nothing from
    site-packages; one that starts the runner imports :mod:`site` itself first)."""
    return [python, *(["-S"] if linger else []), "-c", VERIFY_AND_RUN, sha256, token or "-", script]
