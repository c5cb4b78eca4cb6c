#!/usr/bin/env python3
"""A protocol-faithful fake adbd: the ADB wire protocol over TCP, with this host as device.

It speaks what a phone's adbd speaks on ``adb tcpip`` port 5555 (OVERVIEW.TXT,
protocol.txt, SYNC.TXT, shell_protocol.h): 24-byte little-endian message headers
(command, arg0, arg1, data length, data checksum, magic = command ^ 0xffffffff; the
checksum is the byte sum, required below protocol version 0x01000001), the CNXN / AUTH
handshake with real RSA signature checks, OPEN / OKAY / WRTE / CLSE streams with one
unacknowledged WRTE per stream, and the services

* ``shell:CMD`` and ``shell[,v2][,raw|,pty][,TERM=..]:CMD`` -- ``/bin/sh -c CMD`` run with
  cwd = the sandbox root in its own process group (killed when the stream or the
  connection closes); v2 streams carry stdin/stdout/stderr/exit packets,
* ``sync:`` -- STAT, STA2, LST2, LIST, SEND, RECV, QUIT with adbd's semantics (SEND
  unlinks a previous file, creates parent dirs, deletes the file if the transfer fails).

The "device" filesystem is this host's: tests pass absolute host paths inside the
sandbox root (e.g. ``<root>/data/local/tmp/x``); relative paths are resolved against it.
Unknown services are refused with CLSE, like adbd does. The services live in
:mod:`tests.fakes.fake_adbd_services`.

Fault injection: ``reject_auth`` (new keys are never accepted, as when nobody taps
"Allow" on the phone), ``known_keys`` (keys authorised in advance), ``drop_after_bytes``
(the connection is cut after that many bytes of sync data arrive: a cable pulled
mid-push). Use it as a context manager, or run it as a process (so it can be killed)::

    python tests/fakes/fake_adbd.py --port 5555 --root /tmp/sandbox
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import secrets
import signal
import socket
import struct
import sys
import threading
from pathlib import Path
from typing import Iterable

if not __package__:  # run as a script: make ``tests.fakes`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.fake_adbd_services import Closed, ShellStream, Stream, SyncStream  # noqa: E402

log = logging.getLogger("fake_adbd")


def _id(name: bytes) -> int:
    return int(struct.unpack("<I", name)[0])


A_CNXN, A_AUTH, A_OPEN, A_OKAY, A_CLSE, A_WRTE, A_SYNC = map(_id, (b"CNXN", b"AUTH", b"OPEN", b"OKAY", b"CLSE", b"WRTE", b"SYNC"))
VERSION_SKIP_CHECKSUM = 0x01000001
MAX_PAYLOAD = 1024 * 1024
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3
DEFAULT_FEATURES = ("shell_v2", "cmd", "stat_v2", "fixed_push_mkdir")
_SHA1_DIGEST_INFO = bytes.fromhex("3021300906052b0e03021a05000414")
_HEADER = struct.Struct("<6I")


def parse_public_key(text: str) -> tuple[int, int]:
    """(modulus, exponent) of an ADB public key (``base64(RSAPublicKey) user@host``)."""
    raw = base64.b64decode(text.split()[0])
    words = struct.unpack_from("<I", raw, 0)[0]
    size = words * 4
    modulus = int.from_bytes(raw[8:8 + size], "little")
    exponent = struct.unpack_from("<I", raw, 8 + 2 * size)[0]
    return modulus, exponent


def verify_signature(public_key: str, token: bytes, signature: bytes) -> bool:
    """RSA PKCS#1 v1.5 check of ``signature`` over ``token`` used as a SHA-1 digest."""
    try:
        n, e = parse_public_key(public_key)
    except (ValueError, struct.error, IndexError):
        return False
    k = (n.bit_length() + 7) // 8
    s = int.from_bytes(signature, "big")
    if s >= n or len(token) != 20:
        return False
    digest_info = _SHA1_DIGEST_INFO + token
    expected = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info
    return pow(s, e, n).to_bytes(k, "big") == expected


class FakeAdbd:
    """A fake adbd listening on ``host:port`` (0 picks a free port) serving ``root``.

    Attributes:
        authorized_keys: public keys accepted (``known_keys`` plus any accepted later).
        reject_auth: when true, new keys are ignored (the "Allow?" prompt is never answered).
        drop_after_bytes: cut a connection after that many bytes of sync data (or None).
        drops: how many connections were cut by ``drop_after_bytes``.
    """

    def __init__(self, root: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0, *,
                 require_auth: bool = True, known_keys: Iterable[str] = (), reject_auth: bool = False,
                 drop_after_bytes: int | None = None, features: Iterable[str] = DEFAULT_FEATURES) -> None:
        self.root = Path(root).resolve()
        self.host, self.port = host, port
        self.require_auth = require_auth
        self.authorized_keys = [k.strip() for k in known_keys]
        self.reject_auth = reject_auth
        self.drop_after_bytes = drop_after_bytes
        self.features = tuple(features)
        self.drops = 0
        self._listener: socket.socket | None = None
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def serial(self) -> str:
        """The serial an adb server lists this device under after ``adb connect``."""
        return f"{self.host}:{self.port}"

    @property
    def banner(self) -> bytes:
        props = "ro.product.name=edgekit-fake;ro.product.model=EdgekitFake;ro.product.device=fake;"
        return f"device::{props}features={','.join(self.features)}".encode()

    def start(self) -> "FakeAdbd":
        """Listen and serve in a background thread; returns self."""
        self.root.mkdir(parents=True, exist_ok=True)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name="fake-adbd-accept", daemon=True)
        self._thread.start()
        log.info("fake adbd on %s:%d serving %s", self.host, self.port, self.root)
        return self

    def stop(self) -> None:
        """Stop listening, cut every connection and kill every process it started."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            conn.abort()
            conn.thread.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FakeAdbd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            conn = _Connection(self, sock)
            with self._lock:
                self._connections.add(conn)
            conn.thread.start()

    def _forget(self, conn: "_Connection") -> None:
        with self._lock:
            self._connections.discard(conn)


class _Connection:
    """One host connection: the handshake, then a table of streams."""

    def __init__(self, server: FakeAdbd, sock: socket.socket) -> None:
        self.server, self.sock = server, sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.version = VERSION_SKIP_CHECKSUM
        self.max_payload = MAX_PAYLOAD
        self.online = False
        self.token = b""
        self.sync_bytes = 0
        self.streams: dict[int, Stream] = {}
        self._next_id = 1
        self._send_lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="fake-adbd-conn", daemon=True)

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        checksum = sum(data) & 0xFFFFFFFF if self.version < VERSION_SKIP_CHECKSUM else 0
        header = _HEADER.pack(command, arg0, arg1, len(data), checksum, command ^ 0xFFFFFFFF)
        try:
            with self._send_lock:
                self.sock.sendall(header + data)
        except OSError as exc:
            raise Closed from exc

    def abort(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _recv_exact(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise Closed
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _run(self) -> None:
        try:
            while True:
                command, arg0, arg1, length, checksum, magic = _HEADER.unpack(self._recv_exact(_HEADER.size))
                if magic != command ^ 0xFFFFFFFF:
                    log.warning("bad magic; dropping the connection")
                    return
                data = self._recv_exact(length) if length else b""
                if self.version < VERSION_SKIP_CHECKSUM and checksum != sum(data) & 0xFFFFFFFF:
                    log.warning("bad checksum; dropping the connection")
                    return
                self._handle(command, arg0, arg1, data)
        except (Closed, OSError):
            pass
        finally:
            for stream in list(self.streams.values()):
                stream.remote_closed(reply=False)
            self.sock.close()
            self.server._forget(self)

    def _handle(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        if command == A_CNXN:
            self.version = min(arg0, VERSION_SKIP_CHECKSUM)
            self.max_payload = min(arg1, MAX_PAYLOAD)
            log.debug("CNXN from %r (version %#x, max payload %d)", data, arg0, arg1)
            if self.server.require_auth:
                self._send_token()
            else:
                self._go_online()
        elif command == A_AUTH and not self.online:
            if arg0 == AUTH_SIGNATURE:
                if any(verify_signature(k, self.token, data) for k in self.server.authorized_keys):
                    self._go_online()
                else:
                    self._send_token()
            elif arg0 == AUTH_RSAPUBLICKEY:
                key = data.rstrip(b"\0").decode("utf-8", "replace").strip()
                if self.server.reject_auth:
                    log.info("key %s... not accepted (reject_auth): staying unauthorized", key[:16])
                else:
                    self.server.authorized_keys.append(key)
                    self._go_online()
        elif not self.online:
            return
        elif command == A_OPEN and arg0 and not arg1:
            self._open(arg0, data.rstrip(b"\0").decode("utf-8", "surrogateescape"))
        elif command == A_OKAY and arg0 and (stream := self.streams.get(arg1)) is not None:
            stream.okay()
        elif command == A_WRTE and (stream := self.streams.get(arg1)) is not None:
            if isinstance(stream, SyncStream):
                self.sync_bytes += len(data)
                limit = self.server.drop_after_bytes
                if limit is not None and self.sync_bytes >= limit:
                    self.server.drops += 1
                    log.info("drop_after_bytes: cutting the connection after %d bytes", self.sync_bytes)
                    raise Closed
            stream.received(data)
            self.send(A_OKAY, stream.local_id, stream.remote_id)
        elif command == A_CLSE and (stream := self.streams.get(arg1)) is not None:
            stream.remote_closed(reply=True)

    def _send_token(self) -> None:
        self.token = secrets.token_bytes(20)
        self.send(A_AUTH, AUTH_TOKEN, 0, self.token)

    def _go_online(self) -> None:
        self.online = True
        self.send(A_CNXN, self.version, self.max_payload, self.server.banner)

    def _open(self, remote_id: int, destination: str) -> None:
        service, _, argument = destination.partition(":")
        name, *options = service.split(",")
        local_id, self._next_id = self._next_id, self._next_id + 1
        stream: Stream
        if name == "shell":
            stream = ShellStream(self, local_id, remote_id, argument, "v2" in options, "pty" in options)
        elif destination == "sync:":
            stream = SyncStream(self, local_id, remote_id)
        else:
            log.info("refusing unknown service %r", destination)
            self.send(A_CLSE, 0, remote_id)
            return
        self.streams[local_id] = stream
        self.send(A_OKAY, local_id, remote_id)
        stream.begin()


def main(argv: list[str] | None = None) -> int:
    """Run a fake adbd until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="the sandbox directory (the device's filesystem)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-auth", action="store_true", help="skip the RSA handshake")
    parser.add_argument("--reject-auth", action="store_true", help="never accept new keys")
    parser.add_argument("--known-key", action="append", default=[], help="an authorised public key file")
    parser.add_argument("--drop-after-bytes", type=int, default=None)
    parser.add_argument("--features", default=",".join(DEFAULT_FEATURES))
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr)
    keys = [Path(p).read_text() for p in args.known_key]
    adbd = FakeAdbd(args.root, args.host, args.port, require_auth=not args.no_auth, known_keys=keys,
                    reject_auth=args.reject_auth, drop_after_bytes=args.drop_after_bytes,
                    features=[f for f in args.features.split(",") if f])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with adbd:
        print(f"fake adbd listening on {adbd.host}:{adbd.port}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
