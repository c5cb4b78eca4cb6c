"""Work dirs are private to the device user (0700, owner checked, no links), partial files
have unpredictable names opened O_EXCL|O_NOFOLLOW, and the runner's hash is checked where it runs."""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
from pathlib import Path

import pytest

from edgekit.devices.profile import get_profile
from edgekit.devices.session import DeviceSession
from edgekit.devices.transports.local import LocalTransport
from edgekit.devices.workdir import RemoteWorkdir
from edgekit.errors import DeviceError, MeasurementError
from edgekit.measurement import RunSettings

QUICK = RunSettings(warmup_runs=1, warmup_seconds=0, runs=3, min_seconds=0, max_seconds=20)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_uid_workdir_in_a_shared_folder_is_created_0700_with_private_parents(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)                                         # like /tmp or /data/local/tmp
    wd = RemoteWorkdir(LocalTransport(), f"{shared}/deep/edgekit-{{uid}}", "phone")
    root = Path(wd.root)
    assert root == shared / "deep" / f"edgekit-{os.getuid()}"
    assert _mode(root) == 0o700 and _mode(root.parent) == 0o700 and root.stat().st_uid == os.getuid()
    assert all(_mode(root / sub) == 0o700 for sub in ("models", "bin", "results"))


def test_home_workdir_is_resolved_on_the_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))                        # the "device" (this host) user's home
    wd = RemoteWorkdir(LocalTransport(), "~/.cache/edgekit/work", "board")
    assert wd.root == str(home / ".cache/edgekit/work") and _mode(Path(wd.root)) == 0o700
    assert wd.model_path("a" * 64) == str(home / ".cache/edgekit/work/models" / ("a" * 64 + ".tflite"))


@pytest.mark.skipif(os.geteuid() != 0, reason="planting a folder of another owner needs root")
def test_a_folder_planted_by_another_user_is_refused(tmp_path: Path) -> None:
    planted = tmp_path / "edgekit-0"
    planted.mkdir(mode=0o777)
    os.chown(planted, 65534, 65534)                              # "nobody" got there first
    with pytest.raises(DeviceError) as info:
        RemoteWorkdir(LocalTransport(), str(tmp_path / "edgekit-{uid}"), "phone").ensure()
    assert str(planted) in str(info.value) and "owned by uid 65534" in str(info.value)
    assert "phone" in str(info.value) and info.value.hint
    assert not (planted / "models").exists()


def test_a_planted_symlink_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    (tmp_path / "edgekit").symlink_to(elsewhere)
    with pytest.raises(DeviceError) as info:
        RemoteWorkdir(LocalTransport(), str(tmp_path / "edgekit"), "board").ensure()
    assert "symlink" in str(info.value)
    assert list(elsewhere.iterdir()) == []


def test_an_own_folder_with_wide_permissions_is_narrowed(tmp_path: Path) -> None:
    mine = tmp_path / "wd"
    mine.mkdir(mode=0o755)
    mine.chmod(0o755)
    RemoteWorkdir(LocalTransport(), str(mine), "board").ensure()
    assert _mode(mine) == 0o700


def test_a_planted_partial_file_or_link_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    source = tmp_path / "x.bin"
    source.write_bytes(b"payload")
    for push in ("transport", "workdir"):
        wd = RemoteWorkdir(LocalTransport(), str(tmp_path / f"wd-{push}"), "board")
        target = wd.path("models", "x.bin")
        Path(target + ".partial").symlink_to(victim)             # the old, predictable partial name
        if push == "transport":
            LocalTransport().push(source, target, timeout=30)
        else:
            wd.push_content(source, "models", "x.bin")
        assert Path(target).read_bytes() == b"payload" and victim.read_text() == "keep me"
        leftovers = [p.name for p in Path(target).parent.iterdir() if p.name.endswith(".partial")]
        assert leftovers == ["x.bin.partial"]                    # only the planted link; ours were renamed


def test_a_runner_changed_on_the_device_after_its_push_is_not_run(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    marker = tmp_path / "tampered-code-ran"
    profile = dataclasses.replace(get_profile("host"), python=sys.executable, workdir=str(tmp_path / "device"))
    for serve in (False, True):
        with DeviceSession(profile, serve=serve) as s:
            s.measure(tiny_models.fp32_tflite, QUICK)            # pushed and hash-checked: runs
            script = Path(s.runner().prepare())
            script.write_text(f"open({str(marker)!r}, 'w').write('x')\n" + script.read_text())
            s.close()                                            # a serving runner starts again
            with pytest.raises((MeasurementError, DeviceError)) as info:
                s.measure(tiny_models.fp32_tflite, QUICK)
        assert "sha256" in str(info.value) and str(script) in str(info.value), str(info.value)
        assert not marker.exists()
        script.unlink()
