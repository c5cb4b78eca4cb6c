"""The preflight on real models converted by TensorFlow: verdicts and where the graph leaves the TPU."""

from __future__ import annotations

import pytest

from edgekit.edgetpu import ops as table
from edgekit.edgetpu.preflight import edgetpu_check
from edgekit.errors import ConfigError


def test_fully_supported_cnn_maps_every_op(edgetpu_models) -> None:
    r = edgetpu_check(edgetpu_models.full)
    assert r.verdict == "full"
    assert [o.name for o in r.ops] == ["QUANTIZE", "CONV_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "CONV_2D",
                                       "MEAN", "FULLY_CONNECTED", "SOFTMAX", "QUANTIZE"]
    assert all(o.status == table.MAPPED and o.on_tpu for o in r.ops)
    assert (r.ops_on_tpu, r.ops_on_cpu, r.subgraphs) == (9, 0, 1)
    assert r.leaves_tpu_at is None and r.first_cpu_op is None and not r.blockers and not r.suggestions
    rows = {(row.operator, row.status): row.count for row in r.rows()}
    assert rows[("CONV_2D", table.MAPPED)] == 2 and rows[("QUANTIZE", table.MAPPED)] == 2
    assert "full — 9 of 9 ops" in r.summary()


def test_unsupported_op_in_the_middle_ends_the_edge_tpu_part(edgetpu_models) -> None:
    r = edgetpu_check(edgetpu_models.mid_leaky)
    assert r.verdict == "partial"
    assert r.leaves_tpu_at is not None
    assert (r.leaves_tpu_at.index, r.leaves_tpu_at.name) == (1, "LEAKY_RELU")
    assert r.leaves_tpu_at.status == table.NOT_SUPPORTED
    assert [o.status for o in r.ops] == [table.MAPPED, table.NOT_SUPPORTED] + [table.AFTER_CUT] * 4
    assert (r.ops_on_tpu, r.ops_on_cpu, r.subgraphs) == (1, 5, 1)
    assert any("LeakyReLU with ReLU" in s for s in r.suggestions)
    assert any("-a" in s and "4 supported op(s)" in s for s in r.suggestions)
    assert "leaves the Edge TPU at op #1 LEAKY_RELU" in r.summary()


def test_all_subgraphs_maps_the_ops_after_the_cut(edgetpu_models) -> None:
    r = edgetpu_check(edgetpu_models.mid_leaky, all_subgraphs=True)
    assert r.verdict == "partial"
    assert [o.on_tpu for o in r.ops] == [True, False, True, True, True, True]
    assert table.AFTER_CUT not in {o.status for o in r.ops}
    assert r.subgraphs == 2 and r.ops_on_tpu == 5
    assert not any("-a" in s for s in r.suggestions)


def test_dynamic_input_size_gives_no_edge_tpu_model(edgetpu_models) -> None:
    r = edgetpu_check(edgetpu_models.dynamic)
    assert r.verdict == "none"
    assert r.ops_on_tpu == 0 and r.subgraphs == 0
    assert len(r.blockers) == 1 and "dynamic dimension(s) [1, 2]" in r.blockers[0]
    first = r.first_cpu_op
    assert first is not None and (first.index, first.name, first.status) == (0, "CONV_2D", table.UNSPECIFIED)
    assert "constant at compile time" in first.reason
    assert any("static input shape" in s for s in r.suggestions)
    # a dynamic *batch* alone is what every Keras conversion has, and is fine
    assert any("batch dimension is dynamic" in n for n in edgetpu_check(edgetpu_models.full).notes)


def test_float_op_in_the_middle(edgetpu_models) -> None:
    r = edgetpu_check(edgetpu_models.float_middle)
    assert r.verdict == "partial"
    names = [o.name for o in r.ops]
    assert names[:4] == ["CONV_2D", "DEQUANTIZE", "FLOOR", "QUANTIZE"]
    assert (r.leaves_tpu_at.index, r.leaves_tpu_at.name) == (1, "DEQUANTIZE")
    assert r.ops[1].status == table.UNSUPPORTED_DTYPE and "float32" in r.ops[1].reason
    assert r.ops[2].status == table.NOT_SUPPORTED
    assert r.ops[3].status == table.UNSUPPORTED_DTYPE
    assert all(o.status == table.AFTER_CUT for o in r.ops[4:])
    assert any("quantize the whole model to 8-bit" in s for s in r.suggestions)


def test_op_version_newer_than_the_compiler_reads_blocks_the_model(edgetpu_models) -> None:
    r = edgetpu_check(edgetpu_models.gelu)
    assert r.verdict == "none" and r.ops_on_tpu == 0
    gelu = next(o for o in r.ops if o.name == "GELU")
    assert gelu.status == table.VERSION_NOT_SUPPORTED and gelu.version == 2
    assert "Didn't find op for builtin opcode 'GELU' version '2'" in r.blockers[0]
    assert any("replace GELU" in s for s in r.suggestions)


def test_tensor_rank_rule(edgetpu_models) -> None:
    r = edgetpu_check(edgetpu_models.rank5)
    assert (r.leaves_tpu_at.index, r.leaves_tpu_at.name) == (1, "RESHAPE")
    assert r.leaves_tpu_at.status == table.UNSUPPORTED_RANK
    assert "[1, 2, 8, 16, 8]" in r.leaves_tpu_at.reason
    assert r.ops[2].name == "MEAN" and r.ops[2].status == table.UNSUPPORTED_RANK


def test_older_runtime_leaves_quantize_on_the_cpu(edgetpu_models) -> None:
    # QUANTIZE maps from runtime 13: for -m 12 the input QUANTIZE runs on the CPU *before* the
    # Edge TPU part (which then starts at op #1) and the output QUANTIZE ends it.
    r = edgetpu_check(edgetpu_models.full, min_runtime_version=12)
    assert r.verdict == "partial" and r.runtime_version == 12
    assert r.ops[0].on_tpu is False and "runtime 13+" in r.ops[0].reason
    assert all(o.on_tpu for o in r.ops[1:8])
    assert (r.leaves_tpu_at.index, r.leaves_tpu_at.name) == (8, "QUANTIZE")
    assert r.subgraphs == 1


def test_float_model_maps_nothing(tiny_models) -> None:
    r = edgetpu_check(tiny_models.fp32_tflite)
    assert r.verdict == "none" and r.ops_on_tpu == 0
    assert {o.status for o in r.ops} == {table.UNSUPPORTED_DTYPE}
    assert any("--io-dtype uint8" in s for s in r.suggestions)


def test_json_document(edgetpu_models) -> None:
    d = edgetpu_check(edgetpu_models.mid_leaky).to_dict()
    assert d["verdict"] == "partial" and d["ops_on_tpu"] == 1 and d["ops_on_cpu"] == 5
    assert d["leaves_tpu_at"]["name"] == "LEAKY_RELU" and d["leaves_tpu_at"]["index"] == 1
    assert d["operators"][0] == {"operator": "CONV_2D", "count": 1, "status": table.MAPPED, "reason": ""}
    assert len(d["ops"]) == 6


def test_bad_input_is_a_config_error(tmp_path, edgetpu_models) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        edgetpu_check(tmp_path / "missing.tflite")
    (tmp_path / "x.tflite").write_bytes(b"PK\x03\x04 not a model at all")
    with pytest.raises(ConfigError, match="not a .tflite model"):
        edgetpu_check(tmp_path / "x.tflite")
    with pytest.raises(ConfigError, match="runtime version 9 does not exist"):
        edgetpu_check(edgetpu_models.full, min_runtime_version=9)
