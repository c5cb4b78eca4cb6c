"""The compiler wrapper, run against the STAND-IN edgetpu_compiler in tests/fakes.

The stand-in prints the real compiler's formats and writes a NAME_edgetpu.tflite that is NOT
compiled for the Edge TPU (its package says so); these tests check edgekit's side: the flags it
passes, what it parses, the files it keeps and the errors it raises.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from edgekit.edgetpu import compiler as compiler_mod
from edgekit.edgetpu.compiler import ENV_COMPILER, edgetpu_compile, find_compiler
from edgekit.edgetpu.compiler_output import OpStatus
from edgekit.edgetpu.runtime import edgetpu_packages
from edgekit.errors import ConfigError, ConversionError
from edgekit.tflite.model_file import read_model


def test_full_mapping(tmp_path, edgetpu_models, stand_in_compiler, stand_in_mode) -> None:
    stand_in_mode("full")
    r = edgetpu_compile(edgetpu_models.full, tmp_path / "out", compiler=stand_in_compiler)
    assert r.output_path == tmp_path / "out" / "full_edgetpu.tflite" and r.output_path.is_file()
    assert r.log_path == tmp_path / "out" / "full_edgetpu.log" and r.log_path.is_file()
    assert r.stdout_path.read_text() == r.stdout and "Compilation succeeded!" in r.stdout
    assert r.compiler_version == "16.0.384591198"
    assert (r.ops_on_tpu, r.ops_on_cpu, r.total_ops, r.subgraphs) == (9, 0, 9, 1)
    assert OpStatus("CONV_2D", 2, "Mapped to Edge TPU") in r.op_status
    assert sum(o.count for o in r.op_status) == 9
    # the stand-in reports the constant bytes of the mapped ops as on-chip parameters
    assert r.on_chip_bytes is not None and r.on_chip_bytes > 0 and r.off_chip_bytes == 0
    assert r.min_runtime_version == 14            # compiler 16's default target, no -m given
    assert r.edgetpu_ops == 1
    compiled = read_model(r.output_path)
    assert compiled.is_edgetpu and [o.name for o in compiled.operators] == ["edgetpu-custom-op"]
    assert "STAND-IN" in edgetpu_packages(compiled)[0].model_identifier   # not a real compile, and it says so
    d = r.to_dict()
    assert d["output_file"] == "full_edgetpu.tflite" and d["ops_on_tpu"] == 9 and d["op_status"][0]["count"] >= 1


def test_flags_reach_the_compiler(tmp_path, edgetpu_models, stand_in_compiler, stand_in_mode, monkeypatch) -> None:
    stand_in_mode("full")
    argv_file = tmp_path / "argv.json"
    monkeypatch.setenv("EDGEKIT_FAKE_EDGETPU_ARGV", str(argv_file))
    r = edgetpu_compile(edgetpu_models.full, tmp_path / "o", compiler=stand_in_compiler, min_runtime_version=13,
                        num_segments=2, enable_multiple_subgraphs=True, search_delegate=True,
                        delegate_search_step=4, timeout_s=60)
    argv = json.loads(argv_file.read_text())
    assert argv == ["-s", "-o", str((tmp_path / "o").resolve()), "-m", "13", "-n", "2", "-a", "-d", "-k", "4",
                    "-t", "60", str(edgetpu_models.full.resolve())]
    assert list(r.command[1:]) == argv
    assert r.min_runtime_version == 13
    assert edgetpu_packages(r.output_path)[0].min_runtime_version == 13


def test_timeout_flag_only_for_compiler_16(tmp_path, edgetpu_models, stand_in_compiler, stand_in_mode,
                                           monkeypatch) -> None:
    stand_in_mode("full")
    argv_file = tmp_path / "argv.json"
    monkeypatch.setenv("EDGEKIT_FAKE_EDGETPU_ARGV", str(argv_file))
    monkeypatch.setenv("EDGEKIT_FAKE_EDGETPU_VERSION", "15.0.340273435")
    r = edgetpu_compile(edgetpu_models.full, tmp_path, compiler=stand_in_compiler, show_operations=False)
    argv = json.loads(argv_file.read_text())
    assert "-t" not in argv and "-s" not in argv
    assert r.compiler_version == "15.0.340273435" and r.min_runtime_version == 13
    assert len(r.op_status) == 7     # without -s the table comes from the .log


def test_partial_mapping(tmp_path, edgetpu_models, stand_in_compiler, stand_in_mode) -> None:
    stand_in_mode("partial", cut=1)
    r = edgetpu_compile(edgetpu_models.mid_leaky, tmp_path, compiler=stand_in_compiler)
    assert (r.ops_on_tpu, r.ops_on_cpu, r.total_ops, r.subgraphs) == (1, 5, 6, 1)
    assert r.op_status[:2] == (OpStatus("CONV_2D", 1, "Mapped to Edge TPU"),
                               OpStatus("LEAKY_RELU", 1, "Operation not supported"))
    assert r.op_status[2] == OpStatus("CONV_2D", 1, "More than one subgraph is not supported")
    compiled = read_model(r.output_path)
    assert [o.name for o in compiled.operators][:2] == ["edgetpu-custom-op", "LEAKY_RELU"]


@pytest.mark.parametrize("mode,words,hint", [
    ("internal_error", "Internal compiler error. Aborting!", "-d"),
    ("large_activations", "large activation tensors", "smaller input"),
    ("unparseable", "Didn't find op for builtin opcode 'LEAKY_RELU' version '1'", "LEAKY_RELU v1"),
])
def test_compiler_failures_are_clear_and_keep_the_output(tmp_path, edgetpu_models, stand_in_compiler,
                                                         stand_in_mode, mode, words, hint) -> None:
    stand_in_mode(mode, cut=1)
    with pytest.raises(ConversionError) as info:
        edgetpu_compile(edgetpu_models.mid_leaky, tmp_path, compiler=stand_in_compiler)
    err = info.value
    assert str(edgetpu_models.mid_leaky) in err.message and words in err.message
    kept = tmp_path / "mid_leaky_edgetpu.compiler.txt"
    assert str(kept) in err.message and words in kept.read_text()
    assert hint in err.hint
    assert not (tmp_path / "mid_leaky_edgetpu.tflite").exists()


def test_a_previous_output_is_not_taken_for_this_runs(tmp_path, edgetpu_models, stand_in_compiler,
                                                      stand_in_mode) -> None:
    stand_in_mode("full")
    first = edgetpu_compile(edgetpu_models.full, tmp_path, compiler=stand_in_compiler)
    old = first.output_path.stat().st_mtime
    os.utime(first.output_path, (old - 3600, old - 3600))
    stand_in_mode("internal_error")
    with pytest.raises(ConversionError, match="Internal compiler error"):
        edgetpu_compile(edgetpu_models.full, tmp_path, compiler=stand_in_compiler)
    assert first.output_path.is_file()      # the earlier compile is not deleted


def test_timeout_kills_the_compiler(tmp_path, edgetpu_models, stand_in_compiler, stand_in_mode) -> None:
    stand_in_mode("hang")
    with pytest.raises(ConversionError) as info:
        edgetpu_compile(edgetpu_models.full, tmp_path, compiler=stand_in_compiler, timeout_s=1)
    assert "did not finish" in info.value.message and "-t" in info.value.hint
    assert "Started a compilation timeout timer of 1 seconds." in (tmp_path / "full_edgetpu.compiler.txt").read_text()


def test_missing_compiler_says_how_to_install_and_keeps_the_preflight(tmp_path, edgetpu_models, monkeypatch) -> None:
    monkeypatch.delenv(ENV_COMPILER, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))          # no edgetpu_compiler anywhere
    assert find_compiler() is None
    with pytest.raises(ConversionError) as info:
        edgetpu_compile(edgetpu_models.mid_leaky, tmp_path / "o")
    err = info.value
    assert "edgetpu_compiler is not installed" in err.message
    assert "partial" in err.message and "leaves the Edge TPU at op #1 LEAKY_RELU" in err.message
    assert "coral-edgetpu-stable" in err.hint and "sudo apt-get install edgetpu-compiler" in err.hint
    assert "x86-64" in err.hint
    assert not (tmp_path / "o").exists()


def test_compiler_from_environment_and_bad_paths(tmp_path, stand_in_compiler, monkeypatch) -> None:
    monkeypatch.setenv(ENV_COMPILER, stand_in_compiler)
    assert find_compiler() == stand_in_compiler
    assert find_compiler(stand_in_compiler) == stand_in_compiler
    not_exec = tmp_path / "edgetpu_compiler"
    not_exec.write_text("#!/bin/sh\n")
    not_exec.chmod(not_exec.stat().st_mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    with pytest.raises(ConfigError, match="not an executable file"):
        find_compiler(str(not_exec))


def test_bad_options_and_models(tmp_path, edgetpu_models, stand_in_compiler, stand_in_mode) -> None:
    with pytest.raises(ConfigError, match="-m 9"):
        edgetpu_compile(edgetpu_models.full, tmp_path, compiler=stand_in_compiler, min_runtime_version=9)
    with pytest.raises(ConfigError, match="-n 0"):
        edgetpu_compile(edgetpu_models.full, tmp_path, compiler=stand_in_compiler, num_segments=0)
    with pytest.raises(ConfigError, match="does not exist"):
        edgetpu_compile(tmp_path / "none.tflite", tmp_path, compiler=stand_in_compiler)
    compiled = edgetpu_compile(edgetpu_models.full, tmp_path, compiler=stand_in_compiler).output_path
    with pytest.raises(ConfigError, match="already compiled"):
        edgetpu_compile(compiled, tmp_path, compiler=stand_in_compiler)


def test_grace_period_is_bounded() -> None:
    assert compiler_mod._grace(1) == 2.0 and compiler_mod._grace(180) == 30.0 and compiler_mod._grace(40) == 10.0
