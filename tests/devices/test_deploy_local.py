"""``edgekit.deploy`` / ``DeviceSession`` on this host: real measurements of real models, and
every failure path that does not need a network (compat, corrupt result, runner error,
hang, a push cut half-way, names with spaces and quotes, work-dir escapes)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import edgekit
from edgekit.artifact import Manifest, sha256_file
from edgekit.devices.deploy import deploy
from edgekit.devices.profile import DeviceProfile, get_profile
from edgekit.devices.runners.script import runner_script_path
from edgekit.devices.session import DeviceSession
from edgekit.devices.transports.local import LocalTransport
from edgekit.devices.workdir import RemoteWorkdir, check_workdir
from edgekit.errors import (
    ConfigError,
    DeviceTimeout,
    DeviceUnreachable,
    MeasurementError,
    RuntimeIncompatible,
)
from edgekit.store.sqlite import SqliteStore as Store
from edgekit.measurement import RunSettings
from tests.devices.test_compat import TFLITE_214_PYTHON, DenseModels, dense_models, needs_tflite_214  # noqa: F401

pytestmark = pytest.mark.timeout(300)

QUICK = RunSettings(warmup_runs=2, warmup_seconds=0, runs=5, min_seconds=0, max_seconds=20)


def host(tmp_path: Path, **changes: object) -> DeviceProfile:
    return dataclasses.replace(get_profile("host"), workdir=str(tmp_path / "device"), **changes)


class CountingTransport(LocalTransport):
    """LocalTransport that counts pushes, and can cut a push half-way or damage pulls."""

    def __init__(self, device: str = "host", cut_push_of: str = "", corrupt_pull: bool = False) -> None:
        super().__init__(device)
        self.pushes: list[str] = []
        self.cut_push_of = cut_push_of
        self.corrupt_pull = corrupt_pull

    def push(self, local: Path, remote: str, timeout: float) -> None:
        self.pushes.append(remote)
        if self.cut_push_of and self.cut_push_of in remote:
            data = Path(local).read_bytes()
            Path(remote).parent.mkdir(parents=True, exist_ok=True)
            Path(remote).write_bytes(data[: len(data) // 2])
            raise DeviceUnreachable(f"device '{self.device}' dropped the connection during a push",
                                    device=self.device)
        super().push(local, remote, timeout)

    def pull(self, remote: str, local: Path, timeout: float) -> None:
        super().pull(remote, local, timeout)
        if self.corrupt_pull:
            text = Path(local).read_text()
            Path(local).write_text(text[: len(text) // 3])


def test_deploy_on_host_measures_and_stores(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    store = Store(tmp_path / "results.sqlite")
    profile = host(tmp_path)
    ms = edgekit.deploy([tiny_models.fp32_tflite, tiny_models.int8_tflite], device=profile, settings=QUICK,
                        store=store)
    assert [m.status for m in ms] == ["ok", "ok"]
    for m, path in zip(ms, [tiny_models.fp32_tflite, tiny_models.int8_tflite]):
        assert m.artifact_sha256 == sha256_file(path) and m.size_bytes == path.stat().st_size
        assert m.stats is not None and m.stats.count == len(m.samples_us) >= QUICK.runs
        assert m.stats.median == pytest.approx(float(np.median(m.samples_us)))
        assert m.stats.min == min(m.samples_us) and m.stats.max == max(m.samples_us)
        assert len(m.warmup_samples_us) >= QUICK.warmup_runs and m.first_inference_us and m.init_us
        assert m.runner == "edgekit-runner" and m.runner_version == "1.0.0"
        assert m.pinned_cpu == str(max(os.sched_getaffinity(0)))
        assert m.facts["kernel"] == os.uname().release and m.facts["runtime"] == "ai_edge_litert"
        assert m.facts["runtime_version"] and m.facts["cpu_count"] == os.cpu_count()
        assert "temps_before_c" in m.facts and "governor" in m.facts and "freq_khz" in m.facts
        assert m.settings == QUICK and m.device == "host"
    # bare .tflite files (no manifest beside them): the variant is read from their content
    assert [m.artifact_variant for m in ms] == ["fp32", "int8"]
    stored = store.measurements(device="host")
    assert [s.id for s in stored] == [m.id for m in ms]
    assert stored[0].samples_us == ms[0].samples_us                 # every sample kept in the store
    assert {a.sha256 for a in store.artifacts()} == {m.artifact_sha256 for m in ms}


def test_manifest_gives_variants(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    from edgekit.devices.deploy import artifact_from_file
    from edgekit.tflite.model_file import read_model

    folder = tmp_path / "out"
    folder.mkdir()
    arts = []
    for variant, src in (("fp32", tiny_models.fp32_tflite), ("int8", tiny_models.int8_tflite)):
        dst = folder / f"tiny_{variant}.tflite"
        shutil.copy(src, dst)
        arts.append(artifact_from_file(dst, read_model(dst)).with_(variant=variant))
    manifest = Manifest(folder / "manifest.json", "tiny.keras", "", tuple(arts))
    manifest.save()
    ms = deploy(folder / "manifest.json", device=host(tmp_path), settings=QUICK, store=False)
    assert [(m.artifact_variant, m.status) for m in ms] == [("fp32", "ok"), ("int8", "ok")]
    # a bare file next to that manifest gets its variant too
    [m] = deploy(folder / "tiny_int8.tflite", device=host(tmp_path), settings=QUICK, store=False)
    assert m.artifact_variant == "int8"


def test_pushes_are_content_addressed(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = host(tmp_path)
    first = CountingTransport()
    with DeviceSession(profile, transport=first) as s:
        s.measure(tiny_models.fp32_tflite, QUICK)
        s.measure(tiny_models.fp32_tflite, QUICK)
    assert len(first.pushes) == 1            # the model, once; the runner came on its channel (session_open)
    runner = Path(profile.workdir) / "bin" / f"edgekit_runner-{sha256_file(runner_script_path())[:12]}.py"
    assert runner.read_bytes() == runner_script_path().read_bytes()  # checked and saved for later sessions
    partial = re.compile(re.escape(f"models/{sha256_file(tiny_models.fp32_tflite)}.tflite.") + r"[0-9a-f]{12}\.partial$")
    assert any(partial.search(p) for p in first.pushes)  # an unpredictable partial name
    second = CountingTransport()
    renamed = tmp_path / "another name.tflite"
    shutil.copy(tiny_models.fp32_tflite, renamed)
    with DeviceSession(profile, transport=second) as s:
        m = s.measure(renamed, QUICK)
    assert second.pushes == [] and m.status == "ok"                  # same bytes: nothing pushed
    (Path(profile.workdir) / "models" / f"{m.artifact_sha256}.tflite").write_bytes(b"damaged")
    third = CountingTransport()
    with DeviceSession(profile, transport=third) as s:
        s.measure(renamed, QUICK)
    assert len(third.pushes) == 1                                    # damaged copy: pushed again


def test_second_deploy_does_not_push_again(tiny_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    made: list[CountingTransport] = []

    def factory(profile: DeviceProfile) -> CountingTransport:
        made.append(CountingTransport(profile.name))
        return made[-1]

    monkeypatch.setattr("edgekit.devices.transports.factory.make_transport", factory)
    for _ in range(2):
        deploy(tiny_models.int8_tflite, device=host(tmp_path), settings=QUICK, store=False)
    assert [len(t.pushes) for t in made] == [1, 0]                   # the model (the runner: on its channel)


def test_names_with_spaces_and_quotes(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    odd = tmp_path / "my \"best\" model's v2 $(touch pwned).tflite"
    shutil.copy(tiny_models.int8_tflite, odd)
    profile = dataclasses.replace(get_profile("host"), workdir=str(tmp_path / "edge kit 'x' \"y\" ;rm"))
    [m] = deploy(odd, device=profile, settings=QUICK, store=False)
    assert m.status == "ok" and m.artifact_name == odd.stem
    assert (Path(profile.workdir) / "models" / f"{m.artifact_sha256}.tflite").is_file()
    assert not Path("pwned").exists() and not (tmp_path / "pwned").exists()
    assert list((Path(profile.workdir) / "results").iterdir()) == []  # result pulled, then removed


def test_nothing_escapes_the_workdir(tmp_path: Path) -> None:
    wd = RemoteWorkdir(LocalTransport(), str(tmp_path / "w"), "host")
    for bad in ("..", ".", "", "a/b", "../etc", "x\x00y"):
        with pytest.raises(ConfigError, match="leave the device's work dir"):
            wd.path("models", bad)
    with pytest.raises(ConfigError):
        wd.model_path("../../etc/passwd")
    with pytest.raises(ConfigError):
        wd.remove("/etc/passwd")
    for bad in ("/tmp/../etc", "relative/dir", "/", "/tmp", "/data/./x"):
        with pytest.raises(ConfigError):
            check_workdir(bad, "host")
    assert check_workdir("/data/local/tmp/edgekit/", "pixel3") == "/data/local/tmp/edgekit"
    assert wd.path("models", "a b 'c'.tflite").endswith("/w/models/a b 'c'.tflite")


def test_bad_model_is_a_config_error_before_the_device(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ConfigError, match="not a .tflite model"):
        deploy(junk, device=host(tmp_path), store=False)
    with pytest.raises(ConfigError, match="does not exist"):
        deploy(tmp_path / "missing.tflite", device=host(tmp_path), store=False)
    with pytest.raises(ConfigError, match="no device profile named 'pixel33'"):
        deploy(junk, device="pixel33", store=False)


def test_corrupt_pulled_result_is_a_measurement_error(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    # one-shot mode: the result file is pulled (serve mode reads it from the runner's stdout)
    with DeviceSession(host(tmp_path), transport=CountingTransport(corrupt_pull=True), serve=False) as s:
        with pytest.raises(MeasurementError) as info:
            s.measure(tiny_models.fp32_tflite, QUICK)
    assert "device 'host'" in info.value.message and "corrupt" in info.value.message
    assert "/results/" in info.value.message and info.value.message.count(".json") >= 1


def test_runner_error_document_becomes_a_measurement_error(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    settings = dataclasses.replace(QUICK, delegate=str(tmp_path / "libmissing_delegate.so"))
    with DeviceSession(host(tmp_path)) as s:
        with pytest.raises(MeasurementError) as info:
            s.measure(tiny_models.fp32_tflite, settings)
    assert "device 'host'" in info.value.message and "delegate-failed" in info.value.message
    assert "libmissing_delegate.so" in info.value.message


def test_hanging_runner_times_out_and_is_killed(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    marker = f"edgekit-hang-{os.getpid()}"
    fake_python = tmp_path / "python-that-hangs"
    # answers the runtime probe like python3, then hangs instead of running the runner
    fake_python.write_text("#!/bin/sh\nif [ \"$1\" = -c ] && [ $# -eq 2 ]; then exec python3 \"$@\"; fi\n"
                           f"exec python3 -c 'import time; time.sleep(600)' {marker}\n")
    fake_python.chmod(0o755)
    profile = host(tmp_path, python=str(fake_python))
    start = time.monotonic()
    with DeviceSession(profile, timeout_margin_s=2.0) as s:
        with pytest.raises(DeviceTimeout) as info:
            s.measure(tiny_models.fp32_tflite, dataclasses.replace(QUICK, max_seconds=1.0))
    assert time.monotonic() - start < 60
    assert "host" in info.value.message and info.value.device == "host"
    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(marker) == []


def _processes_with(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_push_cut_half_way_leaves_no_model_and_recovers(tiny_models, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    profile = host(tmp_path)
    sha = sha256_file(tiny_models.fp32_tflite)
    cut = CountingTransport(cut_push_of=f"{sha}.tflite")
    monkeypatch.setattr("edgekit.devices.transports.factory.make_transport", lambda p: cut)
    store = Store(tmp_path / "r.sqlite")
    with pytest.raises(DeviceUnreachable, match="dropped the connection"):
        deploy(tiny_models.fp32_tflite, device=profile, settings=QUICK, store=store)
    final = Path(profile.workdir) / "models" / f"{sha}.tflite"
    assert not final.exists()                                        # only a .partial, never the real name
    [failed] = store.measurements()
    assert failed.status == "failed" and "DeviceUnreachable" in failed.error
    monkeypatch.setattr("edgekit.devices.transports.factory.make_transport", lambda p: CountingTransport())
    [m] = deploy(tiny_models.fp32_tflite, device=profile, settings=QUICK, store=store)
    assert m.status == "ok" and final.read_bytes() == tiny_models.fp32_tflite.read_bytes()
    assert [x.status for x in store.measurements()] == ["failed", "ok"]


def test_unreachable_device_marks_the_rest_without_waiting(tiny_models, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    calls: list[str] = []

    class Dead(LocalTransport):
        def run(self, argv, timeout):  # noqa: ANN001, ANN201
            calls.append(argv[0])
            raise DeviceUnreachable("device 'host' is unreachable: connection refused", device="host")

    monkeypatch.setattr("edgekit.devices.transports.factory.make_transport", lambda p: Dead())
    with pytest.raises(DeviceUnreachable, match="device 'host'"):
        deploy([tiny_models.fp32_tflite, tiny_models.int8_tflite], device=host(tmp_path), settings=QUICK,
               store=False)
    assert len(calls) == 1                                            # the second model did not try again


@needs_tflite_214
def test_incompatible_model_refused_others_measured(dense_models: DenseModels, tmp_path: Path) -> None:  # noqa: F811
    """A device whose Python has tflite-runtime 2.14: the v12 model is refused before it is
    pushed (reason + fix), the v9 one is measured by the real 2.14 runtime."""
    store = Store(tmp_path / "r.sqlite")
    profile = host(tmp_path, name="old-board", kind="board", python=str(TFLITE_214_PYTHON))  # a board, not this host
    ms = deploy([dense_models.v12, dense_models.v9], device=profile, settings=QUICK, store=store)
    assert [m.status for m in ms] == ["failed", "ok"]
    assert "FULLY_CONNECTED v12 needs TFLite runtime >= 2.17.0; the device has tflite_runtime 2.14.0" in ms[0].error
    assert "_experimental_disable_per_channel_quantization_for_dense_layers" in ms[0].error
    assert ms[1].facts["runtime_version"] == "2.14.0" and ms[1].stats is not None
    assert not (Path(profile.workdir) / "models" / f"{ms[0].artifact_sha256}.tflite").exists()
    assert [m.status for m in store.measurements(device="old-board")] == ["failed", "ok"]
    with pytest.raises(RuntimeIncompatible) as info:
        deploy(dense_models.v12, device=profile, settings=QUICK, store=False)
    assert info.value.exit_code == 5 and "old-board" in info.value.message


def test_health(tmp_path: Path) -> None:
    with DeviceSession(host(tmp_path)) as s:
        h = s.health()
        assert isinstance(h.ok, bool) and isinstance(h.temps_c, dict)
        assert h.load_avg is not None and h.load_avg == pytest.approx(os.getloadavg()[0], abs=5)
    with DeviceSession(host(tmp_path, max_temp_c=-300.0)) as s:
        h = s.health()
        if h.temps_c:                                                 # machines without thermal zones say nothing
            assert not h.ok and "too hot" in h.reason


def test_json_of_a_measurement_round_trips(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    from edgekit.measurement import Measurement

    [m] = deploy(tiny_models.fp32_tflite, device=host(tmp_path), settings=QUICK, store=False)
    again = Measurement.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again == m


def test_cli_table_flags_noisy_and_heated_runs(tiny_models, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    from edgekit.cli.deploy import show
    from edgekit.measurement import quality_flags

    [m] = deploy(tiny_models.fp32_tflite, device=host(tmp_path), settings=QUICK, store=False)
    heated = quality_flags(m.stats, {"zone0:cpu": 40.0}, {"zone0:cpu": 52.5})
    assert "heated" in heated
    show([m, dataclasses.replace(m, flags=("noisy", "heated"))], "host")
    out = capsys.readouterr().out
    assert "host: warm latency (ms)" in out and "noisy, heated" in out
    assert f"{m.stats.median / 1000:.4g}" in out                        # type: ignore[union-attr]
