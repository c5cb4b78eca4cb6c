"""edgekit on the emulated aarch64 board (a Raspberry Pi 4 stand-in, see ``tests/arm64_board.py``).

Everything goes through edgekit's own CLI and API over a real sshd: ``devices --check``,
``deploy`` of fp32 and int8 models (stored, facts from the board), the compatibility check
refusing a model the board's old tflite-runtime cannot load, and top-1 predictions on the
board's aarch64 LiteRT matching the host's. Those tests (marker ``arm64``) skip, with the
reason, where the arm64 root is not built (``bash scripts/arm64-root.sh`` as root builds it
once). The last tests check the emulation marking (profile field, "emulated" flag) without it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit.cli.main import main
from edgekit.devices.deploy import deploy
from edgekit.devices.profile import get_profile, profile_from_dict
from edgekit.devices.workdir import check_workdir
from edgekit.errors import ConfigError, RuntimeIncompatible
from edgekit.measurement import LatencyStats, RunSettings, quality_flags
from edgekit.store import open_store
from tests.arm64_board import TFLITE_214, Arm64Board, arm64_board_fixture  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(600)

QUICK = RunSettings(warmup_runs=2, warmup_seconds=0, runs=10, min_seconds=0, max_seconds=60)
QUICK_FLAGS = ["--runs", "10", "--warmup", "2", "--min-seconds", "0", "--warmup-seconds", "0"]

#: run by the board's python3 and by the host's: top-1 class of every test sample per model
PREDICT = """
import json, sys
import numpy as np
try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:
    from tflite_runtime.interpreter import Interpreter
x = np.load(sys.argv[1])["x"]
out = {}
for path in sys.argv[2:]:
    it = Interpreter(model_path=path, num_threads=1)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    top1 = []
    for sample in x:
        sample = sample[None]
        if i["dtype"] != np.float32:
            scale, zero = i["quantization"]
            info = np.iinfo(i["dtype"])
            sample = np.clip(np.round(sample / scale + zero), info.min, info.max).astype(i["dtype"])
        it.set_tensor(i["index"], sample)
        it.invoke()
        top1.append(int(np.argmax(it.get_tensor(o["index"])[0])))
    out[path.rsplit("/", 1)[-1]] = top1
out["machine"] = __import__("platform").machine()
print(json.dumps(out))
"""


@pytest.mark.arm64
def test_the_board_is_aarch64(arm64_board: Arm64Board) -> None:
    with arm64_board.transport() as t:
        done = t.run(["uname", "-m"], timeout=60)
        assert done.ok and done.stdout.strip() == "aarch64"
        probe = t.run(["python3", "-c", "import platform, sys, ai_edge_litert; "
                                        "print(platform.machine(), sys.executable, ai_edge_litert.__version__)"],
                      timeout=120)
    assert probe.ok, probe.stderr
    assert probe.stdout.split() == ["aarch64", "/usr/bin/python3", "1.4.0"]
    # the python that ran is the root's arm64 ELF (e_machine 183 = EM_AARCH64), not the host's
    elf = (arm64_board.root / "usr/bin/python3").resolve().read_bytes()[:20]
    assert elf[:4] == b"\x7fELF" and int.from_bytes(elf[18:20], "little") == 183


@pytest.mark.arm64
def test_cli_devices_check_says_aarch64_and_names_the_runtime(
        arm64_board: Arm64Board, capsys: pytest.CaptureFixture[str]) -> None:
    arm64_board.write_profile("rpi4")
    assert main(["devices", "--profiles", str(arm64_board.profiles_dir), "--check", "rpi4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reachable"] is True and doc["name"] == "rpi4", doc
    facts = doc["facts"]
    assert facts["machine"] == "aarch64" and facts["abi"] == "aarch64"
    assert facts["runtime"] == "ai_edge_litert" and facts["runtime_version"] == "1.4.0"
    assert facts["os_build"].startswith("Debian GNU/Linux 12") and facts["numpy_version"].startswith("1.")
    assert "emulated" not in facts                  # the plain rpi4 profile does not know it is emulated
    # the table a person reads names the runtime too
    assert main(["devices", "--profiles", str(arm64_board.profiles_dir), "--check", "rpi4"]) == 0
    out = capsys.readouterr().out
    assert "reachable" in out and "ai_edge_litert" in out and "aarch64" in out


@pytest.mark.arm64
def test_cli_deploy_fp32_and_int8_on_the_board(
        arm64_board: Arm64Board, tiny_models, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    server = arm64_board.server
    arm64_board.write_profile("rpi4")
    store = tmp_path / "results.sqlite"
    rc = main(["deploy", "--device", "rpi4", "--profiles", str(arm64_board.profiles_dir),
               "--host", server.host, "--port", str(server.port), "--user", server.user,
               "--key", str(server.key_path), "--store", str(store), "--json", *QUICK_FLAGS,
               str(tiny_models.fp32_tflite), str(tiny_models.int8_tflite)])
    out = capsys.readouterr().out
    assert rc == 0, out
    results = json.loads(out)
    assert [m["artifact_variant"] for m in results] == ["fp32", "int8"]
    for m in results:
        assert m["status"] == "ok" and m["device"] == "rpi4" and m["runner"] == "edgekit-runner"
        assert m["facts"]["machine"] == "aarch64" and m["facts"]["runtime"] == "ai_edge_litert"
        assert m["facts"]["runtime_version"] == "1.4.0"
        assert m["stats"]["count"] == len(m["samples_us"]) >= 10 and m["stats"]["median"] > 0
        assert "emulated" not in m["flags"]
    with open_store(store) as db:
        stored = {m.id: m for m in db.measurements(device="rpi4")}
    assert set(stored) == {m["id"] for m in results}
    assert all(m.facts["machine"] == "aarch64" and m.stats is not None for m in stored.values())
    # pushed into the work dir of the shipped rpi4 profile, inside the board's root
    workdir = arm64_board.host_path(arm64_board.profile("rpi4").workdir)
    assert all((workdir / "models" / f"{m['artifact_sha256']}.tflite").is_file() for m in results)


@pytest.mark.arm64
def test_the_emulated_profile_flags_its_measurements(arm64_board: Arm64Board, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = arm64_board.profile("rpi4-emulated")
    assert profile.emulated and profile.name == "rpi4-emulated" and not profile.workdir.startswith("/tmp/")
    store = tmp_path / "results.sqlite"
    [m] = deploy(tiny_models.int8_tflite, device=profile, settings=QUICK, store=store)
    assert m.status == "ok" and "emulated" in m.flags
    assert m.facts["emulated"] is True and m.facts["machine"] == "aarch64"
    with open_store(store) as db:
        [stored] = db.measurements(device="rpi4-emulated")
    assert stored.id == m.id and "emulated" in stored.flags
    assert (arm64_board.host_path(profile.workdir) / "models" / f"{m.artifact_sha256}.tflite").is_file()


@pytest.fixture(scope="module")
def dense_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A dense model converted by this TF with dynamic-range quantization: FULLY_CONNECTED v12
    (per-channel weights, needs TFLite 2.17), and the same with per-channel dense disabled (v9)."""
    from edgekit.tflite.quiet import quiet_tensorflow

    folder = tmp_path_factory.mktemp("arm64-dense")
    with quiet_tensorflow():
        import tensorflow as tf

        tf.keras.utils.set_random_seed(0)
        model = tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(32, activation="relu"),
                                     tf.keras.layers.Dense(4)])
        for name, disable in (("dense_v12.tflite", False), ("dense_v9.tflite", True)):
            conv = tf.lite.TFLiteConverter.from_keras_model(model)
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv._experimental_disable_per_channel_quantization_for_dense_layers = disable
            (folder / name).write_bytes(conv.convert())
    return folder / "dense_v12.tflite", folder / "dense_v9.tflite"


@pytest.mark.arm64
def test_old_runtime_on_the_board_refuses_new_ops_clearly(
        arm64_board: Arm64Board, dense_models: tuple[Path, Path]) -> None:
    if not (arm64_board.root / TFLITE_214.lstrip("/")).exists():
        pytest.skip(f"the arm64 root has no tflite-runtime 2.14 venv ({TFLITE_214})")
    v12, v9 = dense_models
    old = arm64_board.profile("rpi4", python=TFLITE_214)
    with pytest.raises(RuntimeIncompatible) as info:
        deploy(v12, device=old, settings=QUICK, store=False)
    assert "FULLY_CONNECTED v12" in info.value.message and "2.17.0" in info.value.message
    assert "tflite_runtime 2.14.0" in info.value.message and info.value.hint
    [m] = deploy(v9, device=old, settings=QUICK, store=False)       # what the hint leads to loads there
    assert m.status == "ok" and m.facts["runtime"] == "tflite_runtime" and m.facts["runtime_version"] == "2.14.0"
    assert m.facts["machine"] == "aarch64"
    [new] = deploy(v12, device=arm64_board.profile("rpi4"), settings=QUICK, store=False)  # ai-edge-litert 1.4.0
    assert new.status == "ok" and new.facts["runtime"] == "ai_edge_litert"


@pytest.mark.arm64
def test_top1_on_the_board_matches_the_host(arm64_board: Arm64Board, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    import subprocess

    files = [tiny_models.test_npz, tiny_models.fp32_tflite, tiny_models.int8_tflite]
    remote_dir = "/var/tmp/edgekit-arm64-predict"
    with arm64_board.transport() as t:
        for f in files:
            t.push(f, f"{remote_dir}/{f.name}", timeout=60)
        done = t.run(["python3", "-c", PREDICT, *(f"{remote_dir}/{f.name}" for f in files)], timeout=300)
    assert done.ok, done.stderr
    board = json.loads(done.stdout.strip().splitlines()[-1])
    host_run = subprocess.run([sys.executable, "-c", PREDICT, *map(str, files)], capture_output=True, text=True,
                              timeout=300)
    assert host_run.returncode == 0, host_run.stderr
    host = json.loads(host_run.stdout.strip().splitlines()[-1])
    assert board.pop("machine") == "aarch64" and host.pop("machine") == "x86_64"
    labels = np.load(tiny_models.test_npz)["y"]
    for name in (tiny_models.fp32_tflite.name, tiny_models.int8_tflite.name):
        assert len(board[name]) == len(labels) == 48
        assert board[name] == host[name], name
        assert np.mean(np.array(board[name]) == labels) > 0.8, name   # a model that works, not a constant


# -- the emulation marking itself, without the board (these run everywhere) --

def test_the_shipped_emulated_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("EDGEKIT_PROFILES", raising=False)
    emulated, real = get_profile("rpi4-emulated"), get_profile("rpi4")
    assert emulated.emulated is True and real.emulated is False
    assert emulated.abi == real.abi == "aarch64" and emulated.transport == real.transport == "ssh"
    assert check_workdir(emulated.workdir, emulated.name) == emulated.workdir and not emulated.workdir.startswith("/tmp/")
    with pytest.raises(ConfigError) as info:
        profile_from_dict({"name": "x", "emulated": "yes"}, source="test")
    assert "'emulated' must be true or false" in info.value.message


def test_quality_flags_say_emulated() -> None:
    steady = LatencyStats.from_samples([1000.0 + i % 3 for i in range(30)])
    assert quality_flags(steady, {}, {}) == ()
    assert quality_flags(steady, {}, {}, emulated=True) == ("emulated",)


def test_every_measurement_on_an_emulated_device_is_flagged(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    """The flag comes from the profile, through the real session: here the host as a local device."""
    host = profile_from_dict({"name": "host-under-qemu", "transport": "local", "kind": "host", "python": sys.executable,
                              "workdir": str(tmp_path / "wd"), "emulated": True}, source="test")
    store = tmp_path / "results.sqlite"
    ms = deploy([tiny_models.fp32_tflite, tiny_models.int8_tflite], device=host, settings=QUICK, store=store)
    assert [("emulated" in m.flags, m.facts.get("emulated")) for m in ms] == [(True, True), (True, True)]
    with open_store(store) as db:
        assert all("emulated" in m.flags for m in db.measurements(device="host-under-qemu"))
    [plain] = deploy(tiny_models.int8_tflite, device=profile_from_dict(
        {"name": "host-plain", "transport": "local", "kind": "host", "python": sys.executable,
         "workdir": str(tmp_path / "wd")}, source="test"), settings=QUICK, store=False)
    assert "emulated" not in plain.flags and "emulated" not in plain.facts
