"""quiet_tensorflow: fd-level output is captured into the debug log, re-entrant, thread-safe."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from edgekit.tflite.quiet import quiet_tensorflow


def test_fd_and_python_output_go_to_debug_log_not_terminal(tmp_path: Path) -> None:
    # a real process: pytest's own capturing would hide what reaches fds 1 and 2
    script = textwrap.dedent(f"""
        import logging, os, sys
        logging.basicConfig(filename={str(tmp_path / "log.txt")!r}, level=logging.DEBUG)
        from edgekit.tflite.quiet import quiet_tensorflow
        with quiet_tensorflow():
            os.write(1, b"native stdout line\\n")
            os.write(2, b"native stderr line\\n")
            print("python print")
            sys.stderr.write("python stderr\\n")
            import warnings; warnings.warn("a python warning")
        print("after the block")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "after the block\n"
    assert done.stderr == ""
    log = (tmp_path / "log.txt").read_text()
    assert "DEBUG:edgekit.tensorflow:tensorflow output:" in log
    for text in ("native stdout line", "native stderr line", "python print", "python stderr", "a python warning"):
        assert text in log


def test_nested_blocks_restore_once_and_exceptions_propagate(capfd: pytest.CaptureFixture[str],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="edgekit.tensorflow")
    with pytest.raises(ValueError, match="boom"):
        with quiet_tensorflow():
            with quiet_tensorflow():
                os.write(1, b"inner\n")
            os.write(1, b"outer still quiet\n")  # the inner exit must not restore the fds
            raise ValueError("boom")
    os.write(1, b"visible\n")
    out, _ = capfd.readouterr()
    assert out == "visible\n"
    logged = [r.getMessage() for r in caplog.records if r.name == "edgekit.tensorflow"]
    assert len(logged) == 1 and "inner" in logged[0] and "outer still quiet" in logged[0]


def test_concurrent_threads_share_one_redirection(capfd: pytest.CaptureFixture[str],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="edgekit.tensorflow")
    inside = threading.Barrier(3)

    def work(i: int) -> None:
        with quiet_tensorflow():
            inside.wait(timeout=10)  # all three blocks are open at once
            os.write(1, f"thread {i}\n".encode())
            inside.wait(timeout=10)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    os.write(1, b"restored\n")
    out, _ = capfd.readouterr()
    assert out == "restored\n"
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "edgekit.tensorflow")
    assert all(f"thread {i}" in logged for i in range(3))
