"""The host's ADB RSA key: where it lives, creating it once, loading it for adb-shell.

The key is a PKCS#8 PEM private key with the public key in Android's ``RSAPublicKey``
format next to it (``<key>.pub``), the same files ``adb`` keeps in ``~/.android/adbkey``
(so pointing ``key_path`` there reuses a key phones already trust).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from edgekit.errors import ConfigError

__all__ = ["default_key_path", "ensure_adb_key", "load_signer"]

log = logging.getLogger(__name__)


def default_key_path() -> Path:
    """``$EDGEKIT_ADB_KEY`` or ``~/.config/edgekit/adbkey``."""
    return Path(os.environ.get("EDGEKIT_ADB_KEY") or "~/.config/edgekit/adbkey").expanduser()


def ensure_adb_key(path: Path) -> Path:
    """Create the key pair at ``path`` (mode 0600) unless it exists; return ``path``.

    Safe against concurrent creators: the key is generated under a temporary name
    (created 0600) and hard-linked into place, so exactly one key wins and no reader ever
    sees it half-written.
    """
    if path.is_file():
        return path
    from adb_shell.auth.keygen import keygen

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".adbkey-", dir=path.parent)
    os.close(fd)
    try:
        keygen(tmp)
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)
            os.replace(tmp + ".pub", f"{path}.pub")
            log.info("created the ADB key %s", path)
        except FileExistsError:
            pass
    finally:
        for leftover in (tmp, tmp + ".pub"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    return path


def load_signer(path: Path) -> Any:
    """An adb-shell ``PythonRSASigner``; the public key is derived from the private one."""
    from adb_shell.auth.keygen import encode_pubkey, get_user_info
    from adb_shell.auth.sign_pythonrsa import PythonRSASigner

    try:
        public = base64.b64encode(encode_pubkey(str(path))).decode() + get_user_info()
        return PythonRSASigner(public, path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the ADB key {path}: {exc}",
                          hint="delete it to have a new one created, or fix key_path") from exc
