"""``edgekit deploy`` on the emulated aarch64 board: wall time of the command and the medians.

Starts the board of the tests (``tests/arm64_board.py``: the host's sshd chrooted into the
Debian arm64 root that ``scripts/arm64-root.sh`` builds), then runs the real CLI

    edgekit deploy --device rpi4-emulated --profiles DIR --host 127.0.0.1 --port P --user root --key K MODEL

once per model (default settings: warm-up ≥ 10 runs and ≥ 0.5 s, ≥ 50 runs and ≥ 1 s) and
prints how long each command took and the median it measured. The models are the paper's
CNN shape at width 0.5 (fp32 and int8, converted here), or the files given. Latencies are
qemu's, not a Raspberry Pi's: the measurements are flagged "emulated". Prints numbers; it is
not a pass/fail test.

    python benchmarks/arm64_board.py [MODEL.tflite ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: the installed ``edgekit`` command, run by this Python
CLI = "import sys; from edgekit.cli.main import main; sys.exit(main())"

from tests.arm64_board import ARM64_DIR, Arm64Board, board_problem, start_board  # noqa: E402


def paper_cnn(folder: Path) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from runner_vs_litert_benchmark import build_models

    return [p for p in build_models(folder) if "w0.5" in p.name]


def main() -> None:
    problem = board_problem()
    if problem:
        raise SystemExit(problem)
    with tempfile.TemporaryDirectory(prefix="edgekit-arm64-bench-") as tmp:
        folder = Path(tmp)
        models = [Path(m) for m in sys.argv[1:]] or paper_cnn(folder)
        server = start_board(folder / "sshd")
        try:
            board = Arm64Board(server, ARM64_DIR / "root", folder / "profiles")
            board.profiles_dir.mkdir()
            board.write_profile("rpi4-emulated")
            print(f"{'model':28s} {'deploy s':>9s} {'median ms':>10s} {'p90 ms':>8s} {'runs':>5s}  flags")
            for model in models:
                started = time.monotonic()
                done = subprocess.run(
                    [sys.executable, "-c", CLI, "deploy", "--device", "rpi4-emulated",
                     "--profiles", str(board.profiles_dir), "--host", server.host, "--port", str(server.port),
                     "--user", server.user, "--key", str(server.key_path), "--no-store", "--json", str(model)],
                    capture_output=True, text=True, timeout=600)
                seconds = time.monotonic() - started
                if done.returncode != 0:
                    print(f"{model.name:28s} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
                    continue
                [m] = json.loads(done.stdout)
                s = m["stats"]
                print(f"{model.name:28s} {seconds:9.1f} {s['median'] / 1000:10.2f} {s['p90'] / 1000:8.2f} "
                      f"{s['count']:5d}  {','.join(m['flags'])}")
            print(f"runtime {m['facts'].get('runtime')} {m['facts'].get('runtime_version')} on "
                  f"{m['facts'].get('machine')} (emulated: {m['facts'].get('emulated', False)})")
        finally:
            server.kill()


if __name__ == "__main__":
    main()
