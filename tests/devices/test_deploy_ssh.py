"""Deploy through a real OpenSSH server on loopback (the ``sshd`` fixture): the runner is
executed by the "board's" Python over SSH, results come back over SFTP."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from edgekit.cli.main import main
from edgekit.devices.check import check_device
from edgekit.devices.deploy import deploy
from edgekit.devices.profile import DeviceProfile, profile_from_dict
from edgekit.errors import DeviceUnreachable, MeasurementError
from edgekit.measurement import RunSettings
from tests.devices.conftest import SshServer, free_port

pytestmark = pytest.mark.timeout(180)

QUICK = RunSettings(warmup_runs=2, warmup_seconds=0, runs=5, min_seconds=0, max_seconds=20)


def board(server: SshServer, tmp_path: Path, python: str = sys.executable, key: Path | None = None,
          port: int | None = None, name: str = "board") -> DeviceProfile:
    return profile_from_dict({
        "name": name, "kind": "board", "transport": "ssh", "python": python,
        "workdir": str(tmp_path / "board home" / "edge'kit"), "delegates": ["cpu"],
        "connection": {"host": server.host, "port": port or server.port, "user": server.user,
                       "key": str(key or server.key_path), "known_hosts": str(server.known_hosts)},
    }, source="test")


def test_deploy_over_ssh(sshd: SshServer, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    model = tmp_path / "tiny int8 'q'.tflite"
    shutil.copy(tiny_models.int8_tflite, model)
    profile = board(sshd, tmp_path)
    [m] = deploy(model, device=profile, settings=QUICK, store=False)
    assert m.status == "ok" and m.device == "board" and m.runner == "edgekit-runner"
    assert m.stats is not None and m.stats.count == len(m.samples_us) >= 5
    assert m.facts["runtime"] == "ai_edge_litert" and m.facts["kernel"]
    assert m.raw["python"] == sys.executable                          # run by the profile's Python, over SSH
    assert (Path(profile.workdir) / "models" / f"{m.artifact_sha256}.tflite").is_file()
    assert list((Path(profile.workdir) / "results").iterdir()) == []
    [again] = deploy(model, device=profile, settings=QUICK, store=False)
    assert again.status == "ok" and again.id != m.id


def test_board_python_without_runtime_is_refused_clearly(sshd: SshServer, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    # /usr/bin/python3 over SSH has neither numpy nor a TFLite runtime on this machine
    profile = board(sshd, tmp_path, python="/usr/bin/python3")
    probe = __import__("subprocess").run(["/usr/bin/python3", "-c", "import ai_edge_litert"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("/usr/bin/python3 has ai_edge_litert here")
    with pytest.raises(MeasurementError) as info:
        deploy(tiny_models.fp32_tflite, device=profile, settings=QUICK, store=False)
    assert "device 'board'" in info.value.message and "imports no TFLite runtime" in info.value.message
    assert "pip install ai-edge-litert" in (info.value.hint or "")
    check = check_device(profile)
    assert check.reachable and "no TFLite runtime" in check.reason


def test_unreachable_board_fails_fast_with_its_name(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = profile_from_dict({"name": "far-board", "transport": "ssh", "workdir": "/tmp/edgekit-x",
                                 "connection": {"host": "127.0.0.1", "port": free_port(), "user": "nobody"}},
                                source="test")
    start = time.monotonic()
    with pytest.raises(DeviceUnreachable) as info:
        deploy(tiny_models.fp32_tflite, device=profile, settings=QUICK, store=False)
    assert "far-board" in info.value.message and info.value.device == "far-board"
    assert time.monotonic() - start < 30
    check = check_device(profile)
    assert not check.reachable and "far-board" in check.reason and check.facts == {}


def test_refused_key_is_reported(sshd: SshServer, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = board(sshd, tmp_path, key=sshd.other_key())
    check = check_device(profile)
    assert not check.reachable and "board" in check.reason
    with pytest.raises(DeviceUnreachable):
        deploy(tiny_models.fp32_tflite, device=profile, settings=QUICK, store=False)


def test_cli_devices_check_over_ssh(sshd: SshServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "lab-board.toml").write_text(
        f'kind = "board"\ntransport = "ssh"\npython = "{sys.executable}"\nworkdir = "{tmp_path}/wd"\n'
        f'[connection]\nhost = "{sshd.host}"\nport = {sshd.port}\nuser = "{sshd.user}"\n'
        f'key = "{sshd.key_path}"\nknown_hosts = "{sshd.known_hosts}"\n')
    assert main(["devices", "--profiles", str(folder), "--check", "lab-board", "--json"]) == 0
    out = capsys.readouterr().out
    import json

    doc = json.loads(out)
    assert doc["reachable"] is True and doc["name"] == "lab-board"
    assert doc["facts"]["runtime"] == "ai_edge_litert" and doc["facts"]["cpu_count"] >= 1


def test_cli_unknown_host_key_is_refused_unless_explicitly_accepted(
        sshd: SshServer, tiny_models, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    (profiles / "new-board.toml").write_text(
        f'name = "new-board"\nkind = "board"\ntransport = "ssh"\npython = "{sys.executable}"\n'
        f'workdir = "{tmp_path / "wd"}"\n[connection]\nhost = "{sshd.host}"\nport = {sshd.port}\n'
        f'user = "{sshd.user}"\nkey = "{sshd.key_path}"\nknown_hosts = "{empty_known_hosts}"\n')
    argv = ["deploy", "--device", "new-board", "--profiles", str(profiles), "--no-store",
            "--runs", "3", "--warmup", "1", "--min-seconds", "0", "--warmup-seconds", "0",
            str(tiny_models.int8_tflite)]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "new-board" in err and "insecure-accept-host-key" in err and "Traceback" not in err
    assert main(argv + ["--insecure-accept-host-key", "--json"]) == 0
    assert '"status": "ok"' in capsys.readouterr().out
