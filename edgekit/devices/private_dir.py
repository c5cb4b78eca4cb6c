"""A work dir private to the login user on the device: created 0700, owner and mode checked.

A profile's ``workdir`` is one of

* an absolute path (``/home/mendel/edgekit``);
* ``~/…``: under the login user's home on the device (boards: ``~/.cache/edgekit/work``);
* a path with ``{uid}``: the device user's numeric id, for devices whose only writable place
  is shared (phones: ``/data/local/tmp/edgekit-{uid}``).

One device command (:data:`SCRIPT`, POSIX ``sh``: works on boards, busybox and Android's
toybox) resolves it, creates it with ``umask 077`` (so missing parents are 0700 too), and
checks it the way OpenSSH's ``StrictModes`` and tmux's socket folder are checked: not a
symlink, and owned by the user running the commands; a folder of another owner is refused
(someone may have planted it in a shared parent to read or swap our files). A folder the user
owns with wider permissions is narrowed to 0700 and logged (only its owner could widen it).
"""

from __future__ import annotations

import logging
import re

from ..errors import ConfigError, DeviceError
from .transports.base import Transport

log = logging.getLogger(__name__)

__all__ = ["SCRIPT", "check_workdir_spec", "ensure_private_dir", "private_dir_from_output"]

#: $1 = the work dir as the profile writes it, $2… = sub-folders to create
SCRIPT = r"""set -u
umask 077
d=$1; shift
case $d in "~/"*) d=$HOME/${d#"~/"} ;; esac
uid=$(id -u)
case $d in *"{uid}"*) d=${d%%"{uid}"*}$uid${d#*"{uid}"} ;; esac
mkdir -p -m 700 "$d" || exit 3
if [ -L "$d" ] || [ ! -d "$d" ]; then echo "__EDGEKIT_WORKDIR_BAD=$d is a symlink or not a folder" >&2; exit 4; fi
st=$(stat -c '%u %a' "$d") || exit 3
owner=${st% *}; mode=${st#* }
if [ "$owner" != "$uid" ]; then echo "__EDGEKIT_WORKDIR_BAD=$d is owned by uid $owner, not $uid" >&2; exit 5; fi
if [ "$mode" != 700 ]; then chmod 700 "$d" || exit 6; echo "__EDGEKIT_WORKDIR_NARROWED=$mode"; fi
cd "$d" || exit 3
for sub in "$@"; do mkdir -p -m 700 "$sub" || exit 3; done
printf '__EDGEKIT_WORKDIR=%s\n' "$d"
"""

_RESOLVED = re.compile(r"^__EDGEKIT_WORKDIR=(/.*)$", re.M)
_BAD = re.compile(r"__EDGEKIT_WORKDIR_BAD=(.*)")
_NARROWED = re.compile(r"__EDGEKIT_WORKDIR_NARROWED=(\d+)")


def check_workdir_spec(spec: str, device: str) -> str:
    """The profile's ``workdir`` if it is absolute or ``~/…`` (with an optional ``{uid}``)."""
    if not isinstance(spec, str) or "\x00" in spec or not (spec.startswith("/") or spec.startswith("~/")):
        raise ConfigError(f"device '{device}': workdir {spec!r} must be an absolute path or start with '~/'",
                          hint="e.g. ~/.cache/edgekit/work on boards, /data/local/tmp/edgekit-{uid} on phones")
    return spec


def ensure_private_dir(transport: Transport, spec: str, subdirs: tuple[str, ...], device: str,
                       timeout: float) -> str:
    """Create (or check) the work dir ``spec`` and its ``subdirs`` on the device; return its
    absolute path there. Raises DeviceError naming the folder when it is not private."""
    done = transport.run(["sh", "-c", SCRIPT, "edgekit-workdir", spec, *subdirs], timeout=timeout)
    return private_dir_from_output(done.stdout, done.stderr, done.rc, spec, device)


def private_dir_from_output(stdout: str, stderr: str, rc: int, spec: str, device: str) -> str:
    """The work dir's absolute path from :data:`SCRIPT`'s output (also run inside a session's
    opening command, :mod:`.session_open`); DeviceError when it was refused or failed."""
    bad = _BAD.search(stderr)
    if bad:
        raise DeviceError(
            f"device '{device}': refusing the work dir: {bad.group(1)}",
            hint="another user (or a link) holds that path in a shared folder: remove it, or set the "
                 "profile's workdir to a folder of your own (e.g. ~/.cache/edgekit/work)", device=device)
    match = _RESOLVED.search(stdout)
    if rc != 0 or match is None:
        raise DeviceError(
            f"device '{device}': cannot create the work dir {spec!r} (exit {rc}): "
            f"{(stderr or stdout).strip()[-400:]}",
            hint=f"check that {spec} is writable by the login user on the device", device=device)
    root = match.group(1).rstrip("/") or "/"
    narrowed = _NARROWED.search(stdout)
    if narrowed:
        log.warning("device %s: work dir %s had mode %s; narrowed to 700", device, root, narrowed.group(1))
    return root
