"""Keep TensorFlow's console noise out of the user's terminal.

TensorFlow, its C++ runtime (MLIR converter, XLA, oneDNN) and absl write straight to the
process's file descriptors 1 and 2, below Python's ``sys.stdout``/``sys.stderr``. The only
reliable way to silence them is to point those descriptors somewhere else for the duration
of the work. :func:`quiet_tensorflow` does that and forwards the captured text to the
``edgekit.tensorflow`` logger at DEBUG level, so ``--verbose`` still shows it.

Usage::

    from edgekit.tflite.quiet import quiet_tensorflow

    with quiet_tensorflow():
        import tensorflow as tf
        tflite_bytes = tf.lite.TFLiteConverter.from_keras_model(model).convert()

The context manager is re-entrant and thread-safe without blocking: file descriptors are
process-wide, so the first block to start redirects them, nested or concurrent blocks (in
any thread) share that redirection, and the last block to end restores them (a counter
under a lock). Output of other threads while any block is active is captured too.
Exceptions raised inside a block propagate unchanged after the descriptors are restored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from typing import IO, Iterator, Optional

LOG = logging.getLogger("edgekit.tensorflow")

_LOCK = threading.Lock()
#: text captured longer than this is truncated in the log (the tail is kept)
MAX_LOGGED_CHARS = 200_000


def configure_tensorflow_logging() -> None:
    """Set the environment and absl verbosity so TensorFlow logs only errors.

    Safe to call before or after TensorFlow is imported; it never imports TensorFlow.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    try:
        from absl import logging as absl_logging  # absl is a TensorFlow dependency

        absl_logging.set_verbosity(absl_logging.ERROR)
    except Exception:  # pragma: no cover - absl missing: nothing to configure
        pass
    if "tensorflow" in sys.modules:
        try:
            sys.modules["tensorflow"].get_logger().setLevel(logging.ERROR)
        except Exception:  # pragma: no cover
            pass


@contextlib.contextmanager
def quiet_tensorflow() -> Iterator[None]:
    """Redirect OS-level stdout/stderr into the ``edgekit.tensorflow`` debug log.

    Yields:
        None. While any block runs, anything written to file descriptors 1 and 2 (by
        Python or native code, from any thread) goes to a temporary file; when the last
        active block ends, the descriptors are restored and the text is logged at DEBUG
        level on ``logging.getLogger("edgekit.tensorflow")``.
    """
    _enter()
    try:
        yield
    finally:
        _exit()


class _State:
    users: int = 0
    saved: Optional[list[int]] = None
    sink: Optional[IO[bytes]] = None


_STATE = _State()


def _enter() -> None:
    with _LOCK:
        _STATE.users += 1
        if _STATE.users > 1:  # nested or concurrent use: already redirected
            return
        configure_tensorflow_logging()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            saved = [os.dup(1), os.dup(2)]
        except OSError:  # no fds 1/2 (e.g. some daemons): nothing to redirect
            return
        try:
            sink = tempfile.TemporaryFile(mode="w+b")
        except OSError:  # no temporary space: leave the output alone
            for fd in saved:
                os.close(fd)
            return
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        _STATE.saved, _STATE.sink = saved, sink


def _exit() -> None:
    with _LOCK:
        _STATE.users -= 1
        if _STATE.users > 0 or _STATE.saved is None:
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        saved, sink = _STATE.saved, _STATE.sink
        _STATE.saved, _STATE.sink = None, None
        assert sink is not None
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            with contextlib.suppress(OSError):
                os.close(fd)
        sink.seek(0)
        text = sink.read().decode("utf-8", errors="replace")
        sink.close()
    _log_capture(text)


def _log_capture(text: str) -> None:
    text = text.strip()
    if not text:
        return
    if len(text) > MAX_LOGGED_CHARS:
        text = "[... truncated ...]\n" + text[-MAX_LOGGED_CHARS:]
    LOG.debug("tensorflow output:\n%s", text)


__all__ = ["quiet_tensorflow", "configure_tensorflow_logging"]
