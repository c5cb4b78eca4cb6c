"""The runtime version a compiled model needs, and refusing an older libedgetpu with the fix."""

from __future__ import annotations

import pytest

from edgekit.edgetpu.compiler import edgetpu_compile
from edgekit.edgetpu.runtime import (check_runtime, edgetpu_packages, parse_runtime_version,
                                     required_runtime_version)
from edgekit.errors import ConfigError, RuntimeIncompatible
from edgekit.tflite.model_file import read_model


@pytest.fixture()
def compiled(tmp_path, edgetpu_models, stand_in_compiler, stand_in_mode):  # noqa: ANN001,ANN201
    stand_in_mode("full")
    default = edgetpu_compile(edgetpu_models.full, tmp_path / "m14", compiler=stand_in_compiler).output_path
    for13 = edgetpu_compile(edgetpu_models.full, tmp_path / "m13", compiler=stand_in_compiler,
                            min_runtime_version=13).output_path
    return default, for13


def test_required_runtime_version_is_read_from_the_custom_op(compiled, edgetpu_models) -> None:
    default, for13 = compiled
    assert required_runtime_version(default) == 14
    assert required_runtime_version(read_model(for13)) == 13
    assert required_runtime_version(edgetpu_models.full) is None      # no Edge TPU part: no requirement
    (pkg,) = edgetpu_packages(default)
    assert (pkg.op_index, pkg.compiler_version) == (0, "16.0.384591198")


def test_check_runtime_refuses_an_older_runtime_with_the_fix(compiled) -> None:
    default, for13 = compiled
    with pytest.raises(RuntimeIncompatible) as info:
        check_runtime(default, 13, "coral-devboard")
    err = info.value
    assert "needs Edge TPU runtime 14" in err.message and "'coral-devboard' has runtime 13" in err.message
    assert "Package requires runtime version (14), which is newer than this runtime version (13)" in err.message
    assert "-m 13" in err.hint
    check_runtime(for13, 13, "coral-devboard")       # compiled for 13: fine
    check_runtime(default, 14, "coral-usb")          # same version: fine
    check_runtime(default, 0, "unknown-coral")       # unknown runtime: not checked


def test_plain_models_pass_and_bad_files_are_config_errors(tmp_path, edgetpu_models) -> None:
    check_runtime(edgetpu_models.full, 10, "coral-usb")
    with pytest.raises(ConfigError):
        required_runtime_version(tmp_path / "missing_edgetpu.tflite")


def test_parse_runtime_version() -> None:
    text = "BuildLabel(COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted,CL_NUMBER=291256449), RuntimeVersion(13)"
    assert parse_runtime_version(text) == 13
    assert parse_runtime_version("RuntimeVersion(14)") == 14
    assert parse_runtime_version("no version here") is None
