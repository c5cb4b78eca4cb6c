"""The services of the fake adbd (:mod:`tests.fakes.fake_adbd`): shell and sync streams.

A :class:`Stream` is adbd's device-side socket: it sends WRTE one at a time, each after the
host's OKAY for the previous one, and closes with CLSE. :class:`ShellStream` runs
``/bin/sh -c CMD`` (shell v1 raw, or shell v2 packets with stdin/stdout/stderr/exit);
:class:`SyncStream` implements SYNC.TXT's STAT/STA2/LST2/LIST/SEND/RECV/QUIT like adbd's
``file_sync_service.cpp``.
"""

from __future__ import annotations

import os
import queue
import signal
import stat
import struct
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.fake_adbd import _Connection


def _id(name: bytes) -> int:
    return int(struct.unpack("<I", name)[0])


A_WRTE, A_CLSE = _id(b"WRTE"), _id(b"CLSE")
SYNC_DATA_MAX = 64 * 1024


class Closed(Exception):
    """The stream or the connection went away."""


class Stream:
    """A device-side socket: WRTEs go out one at a time, each waiting for OKAY."""

    def __init__(self, conn: _Connection, local_id: int, remote_id: int) -> None:
        self.conn, self.local_id, self.remote_id = conn, local_id, remote_id
        self.closed = False
        self._ready = True
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()

    def begin(self) -> None:
        """Start serving (after the OKAY for the OPEN went out)."""

    def write(self, data: bytes) -> None:
        with self._write_lock:
            for i in range(0, len(data), self.conn.max_payload):
                with self._cond:
                    while not self._ready and not self.closed:
                        self._cond.wait()
                    if self.closed:
                        raise Closed
                    self._ready = False
                self.conn.send(A_WRTE, self.local_id, self.remote_id, data[i:i + self.conn.max_payload])

    def okay(self) -> None:
        with self._cond:
            self._ready = True
            self._cond.notify_all()

    def received(self, data: bytes) -> None:
        """Bytes the host wrote to this stream."""

    def finish(self) -> None:
        """Close from the device side: CLSE(local, remote)."""
        if self._mark_closed():
            try:
                self.conn.send(A_CLSE, self.local_id, self.remote_id)
            except Closed:
                pass

    def remote_closed(self, reply: bool) -> None:
        """The host closed the stream (reply with CLSE, as adbd does) or the link died."""
        if self._mark_closed() and reply:
            try:
                self.conn.send(A_CLSE, self.local_id, self.remote_id)
            except Closed:
                pass
        self.cleanup()

    def cleanup(self) -> None:
        """Release what the service holds (processes, files)."""

    def _mark_closed(self) -> bool:
        with self._cond:
            if self.closed:
                return False
            self.closed = True
            self._cond.notify_all()
        self.conn.streams.pop(self.local_id, None)
        return True


class ShellStream(Stream):
    def __init__(self, conn: _Connection, local_id: int, remote_id: int, command: str, v2: bool, pty: bool) -> None:
        super().__init__(conn, local_id, remote_id)
        self.v2 = v2
        argv = ["/bin/sh", "-c", command] if command else ["/bin/sh"]
        separate_stderr = v2 and not pty
        self.proc = subprocess.Popen(
            argv, cwd=conn.server.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if separate_stderr else subprocess.STDOUT, start_new_session=True)
        self._stdin: queue.Queue[bytes | None] = queue.Queue()
        self._inbuf = bytearray()
        self._pumps = [threading.Thread(target=self._pump, args=(self.proc.stdout, 1), daemon=True)]
        if separate_stderr:
            self._pumps.append(threading.Thread(target=self._pump, args=(self.proc.stderr, 2), daemon=True))

    def begin(self) -> None:
        for pump in self._pumps:
            pump.start()
        threading.Thread(target=self._feed_stdin, daemon=True).start()
        threading.Thread(target=self._wait, daemon=True).start()

    def _packet(self, kind: int, payload: bytes) -> bytes:
        return bytes([kind]) + struct.pack("<I", len(payload)) + payload if self.v2 else payload

    def _pump(self, pipe: Any, kind: int) -> None:
        fd = pipe.fileno()
        try:
            while chunk := os.read(fd, 65536):
                self.write(self._packet(kind, chunk))
        except (Closed, OSError):
            pass

    def _feed_stdin(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        while (data := self._stdin.get()) is not None:
            try:
                stdin.write(data)
                stdin.flush()
            except OSError:
                break
        try:
            stdin.close()
        except OSError:
            pass

    def _wait(self) -> None:
        for pump in self._pumps:
            pump.join()
        rc = self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        code = 128 + -rc if rc < 0 else rc
        try:
            if self.v2:
                self.write(self._packet(3, bytes([code & 0xFF])))
        except Closed:
            pass
        self._stdin.put(None)
        self.finish()

    def received(self, data: bytes) -> None:
        if not self.v2:
            self._stdin.put(data)
            return
        self._inbuf += data
        while len(self._inbuf) >= 5:
            length = struct.unpack_from("<I", self._inbuf, 1)[0]
            if len(self._inbuf) < 5 + length:
                return
            kind, payload = self._inbuf[0], bytes(self._inbuf[5:5 + length])
            del self._inbuf[:5 + length]
            if kind == 0:
                self._stdin.put(payload)
            elif kind == 4:
                self._stdin.put(None)

    def cleanup(self) -> None:
        self._stdin.put(None)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class SyncStream(Stream):
    def __init__(self, conn: _Connection, local_id: int, remote_id: int) -> None:
        super().__init__(conn, local_id, remote_id)
        self._inbuf = bytearray()

    def begin(self) -> None:
        threading.Thread(target=self._serve, daemon=True).start()

    def received(self, data: bytes) -> None:
        with self._cond:
            self._inbuf += data
            self._cond.notify_all()

    def _read(self, n: int) -> bytes:
        with self._cond:
            while len(self._inbuf) < n and not self.closed:
                self._cond.wait()
            if len(self._inbuf) < n:
                raise Closed
            data = bytes(self._inbuf[:n])
            del self._inbuf[:n]
            return data

    def _path(self, raw: bytes) -> str:
        return os.path.join(self.conn.server.root, raw.decode("utf-8", "surrogateescape"))

    def _fail(self, reason: str) -> bool:
        message = reason.encode()
        self.write(b"FAIL" + struct.pack("<I", len(message)) + message)
        return False

    def _serve(self) -> None:
        try:
            while self._request():
                pass
        except Closed:
            pass
        self.finish()

    def _request(self) -> bool:
        ident, length = struct.unpack("<4sI", self._read(8))
        if length > 1024:
            return self._fail("path too long")
        path = self._path(self._read(length))
        if ident == b"STAT":
            try:
                st = os.lstat(path)
                self.write(struct.pack("<4sIII", b"STAT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime)))
            except OSError:
                self.write(struct.pack("<4sIII", b"STAT", 0, 0, 0))
        elif ident in (b"STA2", b"LST2"):
            self.write(self._stat_v2(ident, path))
        elif ident == b"LIST":
            self._list(path)
        elif ident == b"SEND":
            return self._send(path)
        elif ident == b"RECV":
            return self._recv(path)
        elif ident == b"QUIT":
            return False
        else:
            return self._fail(f"unknown command {_id(ident):08x}")
        return True

    @staticmethod
    def _stat_v2(ident: bytes, path: str) -> bytes:
        try:
            st = os.stat(path) if ident == b"STA2" else os.lstat(path)
        except OSError as exc:
            return struct.pack("<4sIQQIIIIQqqq", ident, exc.errno or 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return struct.pack("<4sIQQIIIIQqqq", ident, 0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid,
                           st.st_gid, st.st_size, int(st.st_atime), int(st.st_mtime), int(st.st_ctime))

    def _list(self, path: str) -> None:
        try:
            names = [".", ".."] + os.listdir(path)
        except OSError:
            names = []
        for name in names:
            try:
                st = os.lstat(os.path.join(path, name))
            except OSError:
                continue
            encoded = name.encode("utf-8", "surrogateescape")
            self.write(struct.pack("<4sIIII", b"DENT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime),
                                   len(encoded)) + encoded)
        self.write(struct.pack("<4sIIII", b"DONE", 0, 0, 0, 0))

    def _send(self, spec: str) -> bool:
        path, comma, mode_text = spec.rpartition(",")
        if not comma:
            return self._fail("missing , in ID_SEND")
        try:
            mode = int(mode_text, 8) if mode_text.startswith("0") and len(mode_text) > 1 else int(mode_text, 0)
        except ValueError:
            return self._fail("bad mode")
        try:
            do_unlink = stat.S_ISREG(os.lstat(path).st_mode)
        except OSError:
            do_unlink = True
        if do_unlink:
            try:
                os.unlink(path)
            except OSError:
                pass
        mode &= 0o777
        mode |= (mode >> 3) & 0o070
        mode |= (mode >> 3) & 0o007
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        fd = -1
        try:
            try:
                fd = os.open(path, flags, mode)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(path), mode=0o775, exist_ok=True)
                fd = os.open(path, flags, mode)
            except FileExistsError:
                fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            os.fchmod(fd, mode)
        except OSError as exc:
            if fd >= 0:
                os.close(fd)
            self._fail(f"couldn't create file: {exc.strerror}")
            return self._discard(path, do_unlink)
        try:
            while True:
                ident, size = struct.unpack("<4sI", self._read(8))
                if ident == b"DONE":
                    mtime = size
                    break
                if ident != b"DATA" or size > SYNC_DATA_MAX:
                    os.close(fd)
                    fd = -1
                    self._fail("invalid data message" if ident != b"DATA" else "oversize data message")
                    return self._discard(path, do_unlink)
                data = memoryview(self._read(size))
                while data:
                    data = data[os.write(fd, data):]
        except BaseException:
            if fd >= 0:
                os.close(fd)
            if do_unlink:
                Path(path).unlink(missing_ok=True)
            raise
        os.close(fd)
        os.utime(path, (mtime, mtime))
        self.write(b"OKAY" + struct.pack("<I", 0))
        return True

    def _discard(self, path: str, do_unlink: bool) -> bool:
        """adbd's failure path: swallow DATA until DONE, then remove the file."""
        try:
            while True:
                ident, size = struct.unpack("<4sI", self._read(8))
                if ident != b"DATA" or size > SYNC_DATA_MAX:
                    break
                self._read(size)
        finally:
            if do_unlink:
                Path(path).unlink(missing_ok=True)
        return False

    def _recv(self, path: str) -> bool:
        try:
            fh = open(path, "rb")
        except OSError as exc:
            return self._fail(f"open failed: {exc.strerror}")
        with fh:
            while chunk := fh.read(SYNC_DATA_MAX):
                self.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
        self.write(b"DONE" + struct.pack("<I", 0))
        return True
