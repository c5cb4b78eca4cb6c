"""Connecting the SSH transport: the host-key policy, as OpenSSH applies it, and what a
refused connection means.

* ``known_hosts`` is always loaded (OpenSSH's ``UserKnownHostsFile``).
* A host that is not in it is refused, unless the user asked to trust it on first use
  (``--insecure-accept-host-key``, OpenSSH's ``StrictHostKeyChecking=accept-new``): then its
  key is accepted, logged, and appended to ``known_hosts`` (file 0600, folder 0700).
* A host whose key differs from the one recorded is always refused, whatever was asked
  (OpenSSH: "REMOTE HOST IDENTIFICATION HAS CHANGED"), with both SHA256 fingerprints.

Fingerprints are printed as OpenSSH prints them: ``SHA256:`` + unpadded base64 of the sha256
of the key blob.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko

from edgekit.errors import ConfigError, DeviceError

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.devices.transports.ssh import SshTransport

__all__ = ["ChangedHostKey", "UnknownHostKey", "configure_host_keys", "connect_client", "connect_error",
           "describe_error", "known_hosts_name", "sha256_fingerprint"]

log = logging.getLogger(__name__)


class UnknownHostKey(paramiko.SSHException):
    """The server's host key is not in known_hosts and trust on first use was not asked."""

    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        self.hostname = hostname
        self.key = key
        super().__init__(f"host key {key.get_name()} {sha256_fingerprint(key)} of {hostname} "
                         "is not in known_hosts")


class ChangedHostKey(paramiko.SSHException):
    """The server offered another key than the one known_hosts records for it."""

    def __init__(self, hostname: str, offered: paramiko.PKey, expected: list[paramiko.PKey]) -> None:
        self.hostname = hostname
        self.offered = offered
        self.expected = expected
        known = ", ".join(f"{k.get_name()} {sha256_fingerprint(k)}" for k in expected)
        super().__init__(f"host key of {hostname} has CHANGED: known_hosts has {known}, the server "
                         f"offered {offered.get_name()} {sha256_fingerprint(offered)}")


def sha256_fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:…`` as ``ssh-keygen -lf`` and ``ssh`` print it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH files a host under: ``host`` on port 22, else ``[host]:port``."""
    return host if int(port) == 22 else f"[{host}]:{int(port)}"


class _Policy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko for a host whose name has no key of the offered type."""

    def __init__(self, device: str, known_hosts: Path, accept_new: bool) -> None:
        self.device = device
        self.known_hosts = known_hosts
        self.accept_new = accept_new

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        # paramiko asks here too when the host IS known but with keys of other types only:
        # that is a changed identity as well (OpenSSH refuses it the same way).
        recorded = client.get_host_keys().lookup(hostname)
        if recorded:
            raise ChangedHostKey(hostname, key, list(recorded.values()))
        if not self.accept_new:
            raise UnknownHostKey(hostname, key)
        log.warning("device %s: trusting the unknown host key %s %s of %s on first use and saving it "
                    "to %s (insecure_accept_host_key)", self.device, key.get_name(),
                    sha256_fingerprint(key), hostname, self.known_hosts)
        client.get_host_keys().add(hostname, key.get_name(), key)
        append_host_key(self.known_hosts, hostname, key)


def append_host_key(known_hosts: Path, hostname: str, key: paramiko.PKey) -> None:
    """Append one ``name type base64`` line, creating the file 0600 (and its folder 0700)."""
    known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as fl:
        fl.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


def configure_host_keys(client: paramiko.SSHClient, device: str, known_hosts: Path, accept_new: bool) -> None:
    """Load ``known_hosts`` into ``client`` and install the unknown/changed key policy.

    A key that differs from a recorded one of the same type makes paramiko raise
    :class:`paramiko.BadHostKeyException` (see :func:`changed_from_bad`); keys of other
    types only raise :class:`ChangedHostKey` from the policy.
    """
    if known_hosts.is_file():
        client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(_Policy(device, known_hosts, accept_new))


def changed_from_bad(exc: paramiko.BadHostKeyException, name: str) -> ChangedHostKey:
    """The :class:`ChangedHostKey` for paramiko's same-type mismatch of host ``name``."""
    return ChangedHostKey(name, exc.key, [exc.expected_key])


def connect_client(ssh: "SshTransport") -> paramiko.SSHClient:
    """A connected, authenticated paramiko client for ``ssh``, or the DeviceError saying why not."""
    if ssh.key_path is not None and not ssh.key_path.is_file():
        raise ConfigError(
            f"SSH key for device '{ssh.device}' not found: {ssh.key_path}",
            hint="fix key_path in the device profile, or create a key with ssh-keygen",
        )
    client = paramiko.SSHClient()
    configure_host_keys(client, ssh.device, ssh.known_hosts, accept_new=ssh.insecure_accept_host_key)
    timeout = ssh.connect_timeout
    try:
        client.connect(
            hostname=ssh.host, port=ssh.port, username=ssh.user, password=None,
            key_filename=str(ssh.key_path) if ssh.key_path else None,
            look_for_keys=ssh.key_path is None, allow_agent=ssh.key_path is None,
            timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
            channel_timeout=timeout,
        )
    except Exception as exc:
        client.close()
        raise connect_error(ssh, exc) from exc
    transport = client.get_transport()
    assert transport is not None
    transport.set_keepalive(ssh.keepalive_s)
    log.debug("device %s: connected to %s", ssh.device, ssh.target)
    return client


def connect_error(ssh: "SshTransport", exc: BaseException) -> DeviceError:
    """The edgekit error (with the next step as hint) for a failed SSH connect."""
    keyscan = f"ssh-keyscan -p {ssh.port} {ssh.host} >> {ssh.known_hosts}"
    key = f"key {ssh.key_path}" if ssh.key_path else "your default keys (~/.ssh/id_*, agent)"
    if isinstance(exc, paramiko.BadHostKeyException):
        exc = changed_from_bad(exc, known_hosts_name(ssh.host, ssh.port))
    if isinstance(exc, UnknownHostKey):
        return ssh._unreachable(
            f"unknown host key ({exc})",
            hint=f"verify the board's key and add it: `{keyscan}`, or pass "
            "--insecure-accept-host-key (insecure_accept_host_key = true) on a trusted network",
        )
    if isinstance(exc, ChangedHostKey):
        return ssh._unreachable(
            f"the host key does not match known_hosts (reflashed board, or someone in the middle): {exc}",
            hint=f"never accepted, even with --insecure-accept-host-key; if the board was reflashed: "
            f"`ssh-keygen -f {ssh.known_hosts} -R '{known_hosts_name(ssh.host, ssh.port)}'` then `{keyscan}`",
        )
    if isinstance(exc, paramiko.AuthenticationException) or (
        isinstance(exc, paramiko.SSHException) and "authentication methods" in str(exc)
    ):
        return ssh._unreachable(
            f"authentication as '{ssh.user}' with {key} was refused",
            hint=f"install the public key on the board: `ssh-copy-id -i {ssh.key_path or '~/.ssh/id_ed25519'} "
            f"-p {ssh.port} {ssh.user}@{ssh.host}` (Coral: `mdt pushkey`), and check key_path",
        )
    return ssh._unreachable(
        describe_error(exc),
        hint=f"check that the board is powered and on the network and that "
        f"`ssh -p {ssh.port} {ssh.user}@{ssh.host}` works",
    )


def describe_error(exc: BaseException) -> str:
    """A short reason for a connection or transfer error (no class names where avoidable)."""
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        errors = {e.strerror or str(e) for e in exc.errors.values()}
        return "; ".join(sorted(errors)) or "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host name ({exc.strerror})"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
