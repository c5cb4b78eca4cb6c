"""``edgekit edgetpu check | compile`` through main(): output, JSON, exit codes."""

from __future__ import annotations

import json

from edgekit.cli.main import main


def test_check_names_where_the_graph_leaves_the_tpu(edgetpu_models, capsys) -> None:
    assert main(["edgetpu", "check", str(edgetpu_models.mid_leaky)]) == 0
    out = " ".join(capsys.readouterr().out.split())   # Rich wraps at the terminal width
    assert "LEAKY_RELU" in out and "Operation not supported" in out
    assert "verdict: partial" in out
    assert "leaves the Edge TPU at op #1 LEAKY_RELU" in out
    assert "replace LeakyReLU with ReLU" in out


def test_check_json_and_strict(edgetpu_models, capsys) -> None:
    assert main(["edgetpu", "check", str(edgetpu_models.full), "--json", "--strict"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "full" and doc["ops_on_tpu"] == 9
    assert main(["edgetpu", "check", str(edgetpu_models.mid_leaky), "--strict", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["leaves_tpu_at"]["name"] == "LEAKY_RELU"
    assert main(["edgetpu", "check", str(edgetpu_models.dynamic), "--strict"]) == 1
    out = " ".join(capsys.readouterr().out.split())   # Rich wraps at the terminal width
    assert "verdict: none" in out and "dynamic dimension(s) [1, 2]" in out
    assert main(["edgetpu", "check", str(edgetpu_models.mid_leaky), "-a", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["subgraphs"] == 2


def test_check_bad_input_exits_2(tmp_path, capsys) -> None:
    assert main(["edgetpu", "check", str(tmp_path / "nope.tflite")]) == 2
    err = " ".join(capsys.readouterr().err.split())   # Rich wraps long lines
    assert "nope.tflite' does not exist" in err and "hint: check the path" in err


def test_compile_with_the_stand_in(tmp_path, edgetpu_models, stand_in_compiler, stand_in_mode, capsys) -> None:
    stand_in_mode("partial", cut=1)
    code = main(["edgetpu", "compile", str(edgetpu_models.mid_leaky), "-o", str(tmp_path),
                 "--edgetpu-compiler", stand_in_compiler, "-m", "13", "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["ops_on_tpu"], doc["ops_on_cpu"], doc["min_runtime_version"]) == (1, 5, 13)
    assert doc["output_path"] == str(tmp_path / "mid_leaky_edgetpu.tflite")
    stand_in_mode("full")
    assert main(["edgetpu", "compile", str(edgetpu_models.full), "-o", str(tmp_path),
                 "--edgetpu-compiler", stand_in_compiler]) == 0
    out = " ".join(capsys.readouterr().out.split())   # Rich wraps at the terminal width
    assert "9 of 9 ops on the Edge TPU" in out and "needs Edge TPU runtime 14+" in out


def test_compile_failure_exits_3_with_the_kept_log(tmp_path, edgetpu_models, stand_in_compiler, stand_in_mode,
                                                   capsys) -> None:
    stand_in_mode("large_activations")
    assert main(["edgetpu", "compile", str(edgetpu_models.full), "-o", str(tmp_path),
                 "--edgetpu-compiler", stand_in_compiler]) == 3
    err = "".join(capsys.readouterr().err.split())
    assert "largeactivationtensors" in err and "full_edgetpu.compiler.txt" in err


def test_compile_without_compiler_exits_3_with_install_hint(tmp_path, edgetpu_models, monkeypatch, capsys) -> None:
    monkeypatch.delenv("EDGEKIT_EDGETPU_COMPILER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["edgetpu", "compile", str(edgetpu_models.full), "-o", str(tmp_path / "o")]) == 3
    err = " ".join(capsys.readouterr().err.split())
    assert "edgetpu_compiler is not installed" in err and "sudo apt-get install edgetpu-compiler" in err


def test_check_a_convert_output_folder_uses_its_int8_variant(tmp_path, edgetpu_models, capsys) -> None:
    import shutil

    from edgekit.artifact import Artifact, Manifest
    from edgekit.tflite.model_file import read_model

    model = shutil.copy(edgetpu_models.mid_leaky, tmp_path / "m_int8.tflite")
    mf = read_model(model)
    art = Artifact(path=mf.path, sha256=mf.sha256, size_bytes=mf.size_bytes, variant="int8", inputs=(), outputs=(),
                   ops=mf.op_histogram)
    Manifest(path=tmp_path / "manifest.json", model="m.keras", model_sha256="", artifacts=(art,)).save()
    assert main(["edgetpu", "check", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"].endswith("m_int8.tflite") and doc["leaves_tpu_at"]["name"] == "LEAKY_RELU"
