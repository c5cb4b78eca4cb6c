"""Lab files: what a valid one resolves to, and one clear error for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.errors import ConfigError
from edgekit.farm.labfile import device_key, load_lab


def write_lab(tmp_path: Path, body: str, name: str = "lab.toml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def good_lab(models, profiles_dir: Path) -> str:  # noqa: ANN001
    return f"""
[lab]
name = "nightly"
store = "results.sqlite"
profiles = ["{profiles_dir}"]
cooldown_seconds = 0.5
retries = 3
lease_seconds = 30
[defaults]
runs = 7
warmup_runs = 1
[[device]]
name = "host"
profile = "host"
[[device]]
name = "board-a"
profile = "testboard"
host = "127.0.0.2"
port = 2201
[[device]]
name = "board-b"
profile = "testboard"
host = "127.0.0.3"
port = 2202
[[job]]
models = ["{models.manifest}"]
devices = ["testboard"]
runs = 11
[[job]]
models = ["{models.folder}/*.tflite"]
devices = ["host", "board-b"]
"""


def test_valid_lab_resolves_devices_jobs_and_settings(tmp_path, farm_models, profiles_dir):
    lab = load_lab(write_lab(tmp_path, good_lab(farm_models, profiles_dir)))
    assert lab.name == "nightly"
    assert lab.store == tmp_path / "results.sqlite"
    assert (lab.cooldown_seconds, lab.retries, lab.lease_seconds) == (0.5, 3, 30.0)
    assert [d.name for d in lab.devices] == ["host", "board-a", "board-b"]
    a = lab.devices[1]
    assert (a.profile.name, a.profile.connection.host, a.profile.connection.port) == ("testboard", "127.0.0.2", 2201)
    assert a.key == "ssh:" + a.profile.connection.user + "@127.0.0.2:2201"
    # manifest (fp32 + int8) × profile, then 2 globbed files × 2 targets
    assert len(lab.jobs) == 2 + 4
    first = lab.jobs[0]
    assert (first.target, first.target_kind, first.artifact.variant) == ("testboard", "profile", "fp32")
    assert (first.settings.runs, first.settings.warmup_runs) == (11, 1)  # job override over [defaults]
    globbed = lab.jobs[2:]
    assert {(j.artifact.name, j.target, j.target_kind) for j in globbed} == {
        ("tiny_fp32", "host", "device"), ("tiny_fp32", "board-b", "device"),
        ("tiny_int8", "host", "device"), ("tiny_int8", "board-b", "device")}
    assert all(j.settings.runs == 7 for j in globbed)
    assert [len(lab.devices_for(j)) for j in lab.jobs] == [2, 2, 1, 1, 1, 1]
    # stable keys: loading again gives the same jobs
    again = load_lab(write_lab(tmp_path, good_lab(farm_models, profiles_dir)))
    assert [j.key for j in again.jobs] == [j.key for j in lab.jobs]
    assert len({j.key for j in lab.jobs}) == 6


def test_variants_select_from_a_manifest(tmp_path, farm_models, profiles_dir):
    body = good_lab(farm_models, profiles_dir).replace('runs = 11', 'runs = 11\nvariants = ["int8"]')
    lab = load_lab(write_lab(tmp_path, body))
    assert [j.artifact.variant for j in lab.jobs[:1]] == ["int8"]
    bad = good_lab(farm_models, profiles_dir).replace('runs = 11', 'variants = ["fp16"]')
    with pytest.raises(ConfigError, match=r"has no variant\(s\) \['fp16'\].*it has: fp32, int8"):
        load_lab(write_lab(tmp_path, bad))


@pytest.mark.parametrize("change, message", [
    (('profile = "testboard"\nhost = "127.0.0.2"', 'profile = "testbord"\nhost = "127.0.0.2"'),
     r"device 'board-a' has unknown profile 'testbord' \(known: .*host.*testboard"),
    (('name = "board-b"', 'name = "board-a"'), r"duplicate device name 'board-a'"),
    (('host = "127.0.0.3"\nport = 2202', 'host = "127.0.0.2"\nport = 2201'), r"devices 'board-a' and 'board-b' are the same device \(ssh:.*@127.0.0.2:2201"),
    (('devices = ["host", "board-b"]', 'devices = []'), r"\[\[job\]\] #2: names no device"),
    (('devices = ["host", "board-b"]', 'devices = ["board-z"]'),
     r"'board-z' is neither a device nor the profile of a device in this lab"),
    (('runs = 11', 'runs = 11\nrnus = 3'), r"\[\[job\]\] #1: unknown key\(s\) \['rnus'\]"),
    (('runs = 7', 'runs = "many"'), r"\[defaults\]: runs = 'many' is not valid"),
    (('lease_seconds = 30', 'lease_seconds = 0'), r"lease_seconds must be > 0"),
    (('port = 2201', 'port = 2201\ncolour = "red"'), r"\[\[device\]\] #2: unknown key\(s\) \['colour'\]"),
])
def test_bad_lab_files_give_one_clear_error(tmp_path, farm_models, profiles_dir, change, message):
    old, new = change
    body = good_lab(farm_models, profiles_dir)
    assert old in body
    with pytest.raises(ConfigError, match=message) as info:
        load_lab(write_lab(tmp_path, body.replace(old, new, 1)))
    assert str(tmp_path / "lab.toml") in str(info.value)


def test_missing_model_names_the_file(tmp_path, farm_models, profiles_dir):
    body = good_lab(farm_models, profiles_dir).replace(str(farm_models.manifest), "out/missing.tflite")
    with pytest.raises(ConfigError, match=r"\[\[job\]\] #1: model 'out/missing.tflite' does not exist") as info:
        load_lab(write_lab(tmp_path, body))
    assert "edgekit convert" in info.value.hint
    glob_body = good_lab(farm_models, profiles_dir).replace(f"{farm_models.folder}/*.tflite", "nothing/*.tflite")
    with pytest.raises(ConfigError, match=r"model pattern 'nothing/\*.tflite' matches no file"):
        load_lab(write_lab(tmp_path, glob_body))


def test_malformed_toml_reports_line_and_column(tmp_path):
    path = write_lab(tmp_path, '[lab]\nname = "x"\n[[device]]\nname = "a\nprofile = "host"\n')
    with pytest.raises(ConfigError, match=r"is not valid TOML: .*line 4, column"):
        load_lab(path)


def test_not_a_lab_file_and_no_devices(tmp_path, farm_models):
    with pytest.raises(ConfigError, match=r"lab file '.*nope.toml' does not exist"):
        load_lab(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"unknown table\(s\) \['jobs'\]"):
        load_lab(write_lab(tmp_path, '[[jobs]]\nmodels = ["a"]\n'))
    with pytest.raises(ConfigError, match=r"no \[\[device\]\] entries"):
        load_lab(write_lab(tmp_path, f'[[job]]\nmodels = ["{farm_models.fp32}"]\ndevices = ["host"]\n'))


def test_ssh_device_without_host_and_unknown_delegate(tmp_path, farm_models, profiles_dir):
    body = good_lab(farm_models, profiles_dir)
    with pytest.raises(ConfigError, match=r"delegate 'edgetpu' is not offered by profile 'testboard'"):
        load_lab(write_lab(tmp_path, body.replace("runs = 11", 'runs = 11\ndelegate = "edgetpu"')))


def test_device_key_tells_physical_devices_apart():
    from edgekit.devices.profile import DeviceProfile

    base = DeviceProfile(name="p", transport="adb-server")
    a = base.with_connection(server="10.0.0.5:5037", serial="AAA")
    b = base.with_connection(server="10.0.0.6:5037", serial="AAA")
    assert device_key(a) != device_key(b)
    assert device_key(a) == device_key(a.renamed("other"))


def test_truncated_model_is_refused_before_anything_runs(tmp_path, farm_models, profiles_dir):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(farm_models.fp32.read_bytes()[:100])
    body = good_lab(farm_models, profiles_dir).replace(str(farm_models.manifest), str(broken))
    with pytest.raises(ConfigError, match=r"\[\[job\]\] #1: .*broken.tflite"):
        load_lab(write_lab(tmp_path, body))
