"""The CLI on a real terminal (a pty): progress bars are drawn, TensorFlow's prints are not."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path


def run_on_terminal(argv: list[str], cwd: Path, timeout: float = 240) -> tuple[int, str]:
    """Run ``argv`` with stdin/stdout/stderr on a pseudo-terminal; return (rc, everything shown)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen(argv, cwd=cwd, stdin=follower, stdout=follower, stderr=follower, env=env,
                            close_fds=True)
    os.close(follower)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=max(deadline - time.monotonic(), 1))
    os.close(leader)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))  # colours, cursor moves
    return proc.returncode, text


def test_convert_on_a_terminal_shows_bars_and_no_tensorflow_chatter(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    rc, shown = run_on_terminal(
        [sys.executable, "-m", "edgekit.cli.main", "convert", str(tiny_models.keras_path), "-o", "out",
         "--variants", "fp32,int8", "--calibration", str(tiny_models.calibration_npz), "--no-cache"],
        cwd=tmp_path)
    assert rc == 0, shown
    assert "━" in shown and "convert" in shown          # the progress bar was drawn
    assert "manifest: out/manifest.json" in shown
    for chatter in ("Saved artifact", "TensorSpec", "fully_quantize", "Endpoint", "cuInit", "oneDNN"):
        assert chatter not in shown, f"TensorFlow's output reached the terminal: {chatter!r}"
