"""scripts/test on a machine without root or sudo: it says what is missing and how to install
it, then runs what can run (instead of stopping at apt-get under ``set -e``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: what scripts/test calls besides python3, sudo and id (which the test stands in for)
TOOLS = ("bash", "dirname", "ls", "head", "mkdir", "cat", "rm", "true", "env")


def _shim(path: Path, body: str) -> None:
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(0o755)


def test_without_root_it_names_the_missing_packages_and_runs_the_tests(tmp_path: Path) -> None:
    repo, bin_dir, log = tmp_path / "repo", tmp_path / "bin", tmp_path / "calls.log"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "test", repo / "scripts" / "test")
    for helper in ("postgres.sh", "arm64-root.sh"):          # their own non-root paths are theirs to test
        _shim(repo / "scripts" / helper, 'echo "$0 $*" >> "$EDGEKIT_CALLS"')
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    _shim(bin_dir / "id", '[ "$1" = "-u" ] && { echo 1000; exit 0; }; exec /usr/bin/id "$@"')   # not root
    _shim(bin_dir / "sudo", "exit 1")                                                          # no sudo
    _shim(bin_dir / "apt-get", 'echo "apt-get $*" >> "$EDGEKIT_CALLS"; exit 100')
    _shim(bin_dir / "python3", 'echo "python3 $*" >> "$EDGEKIT_CALLS"; exit 0')
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "EDGEKIT_CALLS": str(log),
           "EDGEKIT_RUNTIMES_DIR": str(tmp_path / "runtimes"), "EDGEKIT_ARM64_DIR": str(tmp_path / "arm64")}
    r = subprocess.run([str(bin_dir / "bash"), str(repo / "scripts" / "test"), "-k", "quick"], cwd=repo, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "missing Debian packages: adb chromium" in r.stdout
    assert "sudo apt-get install --no-install-recommends adb chromium" in r.stdout
    calls = log.read_text().splitlines()
    assert not any(c.startswith("apt-get") for c in calls)                    # nothing it cannot do
    assert calls[-1] == "python3 -m pytest -k quick"                          # and the tests still run
    assert any("-m pip install" in c for c in calls)
