"""`edgekit deploy` end to end through the fake adbd (the ADB wire protocol over TCP, this
host as the "phone"): edgekit's runner producing real numbers, and the benchmark_model path
with the fake binary that prints the real tool's formats."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from edgekit.cli.main import main
from edgekit.devices.deploy import deploy
from edgekit.devices.profile import DeviceProfile, profile_from_dict
from edgekit.devices.session import DeviceSession
from edgekit.errors import ConfigError, RuntimeIncompatible
from edgekit.store.sqlite import SqliteStore as Store
from edgekit.measurement import RunSettings
from tests.fakes.fake_adbd import FakeAdbd
from tests.fakes.fake_benchmark_model import write_fake

pytestmark = pytest.mark.timeout(180)

QUICK = RunSettings(warmup_runs=2, warmup_seconds=0, runs=5, min_seconds=0, max_seconds=20)


def phone_toml(adbd: FakeAdbd, tmp_path: Path, runner: str = "edgekit-runner", binary: Path | None = None,
               big_cores: str = "auto") -> str:
    lines = [
        'kind = "phone"', 'transport = "adb"', 'os = "linux"', 'abi = "x86_64"', f'runner = "{runner}"',
        f'python = "{sys.executable}"', f'big_cores = "{big_cores}"', 'delegates = ["cpu", "xnnpack"]',
        f'workdir = "{adbd.root}/data/local/tmp/edgekit"',
    ]
    if binary is not None:
        lines.append(f'benchmark_binary = "{binary}"')
    lines += ["[connection]", f'host = "{adbd.host}"', f"port = {adbd.port}", f'key = "{tmp_path}/adbkey"']
    return "\n".join(lines) + "\n"


def phone(adbd: FakeAdbd, tmp_path: Path, **kw: object) -> DeviceProfile:
    import tomllib

    return profile_from_dict(tomllib.loads(phone_toml(adbd, tmp_path, **kw)), source="test", name="fakephone")  # type: ignore[arg-type]


def test_cli_deploy_through_fake_adbd(fake_adbd: FakeAdbd, tiny_models, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "fakephone.toml").write_text(phone_toml(fake_adbd, tmp_path))
    store = tmp_path / "results.sqlite"
    code = main(["deploy", "--device", "fakephone", "--profiles", str(profiles), "--store", str(store),
                 "--runs", "5", "--warmup", "2", "--min-seconds", "0", "--warmup-seconds", "0", "--json",
                 str(tiny_models.fp32_tflite), str(tiny_models.int8_tflite)])
    out = capsys.readouterr().out
    assert code == 0, out
    docs = json.loads(out)
    assert [d["status"] for d in docs] == ["ok", "ok"]
    for d in docs:
        assert d["device"] == "fakephone" and d["runner"] == "edgekit-runner"
        assert len(d["samples_us"]) >= 5 and d["stats"]["median"] > 0 and d["stats"]["count"] == len(d["samples_us"])
        assert d["facts"]["runtime"] == "ai_edge_litert"
    stored = Store(store).measurements(device="fakephone")
    assert sorted(m.id for m in stored) == sorted(d["id"] for d in docs)
    workdir = fake_adbd.root / "data/local/tmp/edgekit"
    assert {p.name for p in (workdir / "models").iterdir()} == {f"{d['artifact_sha256']}.tflite" for d in docs}


def test_cli_table_output(fake_adbd: FakeAdbd, tiny_models, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "fakephone.toml").write_text(phone_toml(fake_adbd, tmp_path))
    code = main(["deploy", "-d", "fakephone", "--profiles", str(profiles), "--no-store", "--runs", "5",
                 "--warmup", "1", "--min-seconds", "0", "--warmup-seconds", "0", str(tiny_models.int8_tflite)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "fakephone: warm latency (ms)" in out and "median" in out and "tiny_int8" in out
    assert "ai_edge_litert" in out


def test_benchmark_model_path_through_adb(fake_adbd: FakeAdbd, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    binary = write_fake(tmp_path / "bin", "new")
    profile = phone(fake_adbd, tmp_path, runner="benchmark_model", binary=binary, big_cores="1")
    store = Store(tmp_path / "r.sqlite")
    [m] = deploy(tiny_models.fp32_tflite, device=profile, settings=QUICK, store=store)
    assert m.status == "ok" and m.runner == "benchmark_model" and m.samples_us == ()
    assert m.raw["samples_source"] == "aggregate" and "aggregate-only" in m.flags
    assert m.stats is not None and (m.stats.count, m.stats.median, m.stats.min) == (50, 42405, 42142)
    assert m.init_us == 143669 and m.first_inference_us == 72635
    assert m.pinned_cpu == "0"                                           # mask "1" = cpu0
    argv = m.raw["argv"]
    assert argv[:2] == ["taskset", "1"] and argv[2].endswith(f"bin/benchmark_model-{m.runner_version[7:]}")
    assert f"--graph={fake_adbd.root}/data/local/tmp/edgekit/models/{m.artifact_sha256}.tflite" in argv
    assert {"--num_threads=1", "--warmup_runs=2", "--num_runs=5", "--min_secs=0", "--max_secs=20"} <= set(argv)
    remote_bin = Path(argv[2])
    assert remote_bin.stat().st_mode & 0o111                             # chmod +x on the device
    assert store.measurements()[0].stats == m.stats


@pytest.mark.parametrize("fmt, median", [("old-stats", None), ("oldest", None), ("litert", None)])
def test_older_formats_through_the_runner(fake_adbd: FakeAdbd, tiny_models, tmp_path: Path, fmt: str,
                                          median: object) -> None:  # noqa: ANN001
    profile = phone(fake_adbd, tmp_path, runner="benchmark_model", binary=write_fake(tmp_path / fmt, fmt))
    with DeviceSession(profile) as s:
        m = s.measure(tiny_models.fp32_tflite, QUICK)
    assert m.status == "ok" and m.stats is median                        # no median printed: none invented
    assert m.raw["format"] == fmt and m.raw["inference"]["count"] > 0 and m.init_us


def test_op_version_failure_on_the_phone(fake_adbd: FakeAdbd, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = phone(fake_adbd, tmp_path, runner="benchmark_model", binary=write_fake(tmp_path / "ov", "op-version"))
    with pytest.raises(RuntimeIncompatible) as info:
        deploy(tiny_models.fp32_tflite, device=profile, settings=QUICK, store=False)
    assert "fakephone" in info.value.message and "FULLY_CONNECTED v12" in info.value.message


def test_missing_benchmark_binary_says_where_to_get_it(tmp_path: Path, tiny_models,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    from edgekit.devices.profile import get_profile

    with pytest.raises(ConfigError) as info:
        deploy(tiny_models.fp32_tflite, device=get_profile("pixel3").with_connection(host="127.0.0.1", port=1),
               settings=QUICK, store=False)
    assert "no benchmark_model binary for device 'pixel3' (ABI arm64-v8a)" in info.value.message
    assert "android_aarch64_benchmark_model" in info.value.hint
    assert str(tmp_path / "cache" / "bin" / "arm64-v8a" / "benchmark_model") in info.value.hint
