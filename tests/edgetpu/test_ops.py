"""The supported-op table names real TFLite operators and says consistent things."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from edgekit.edgetpu import ops as table

BUILTINS = {k for k in vars(schema.BuiltinOperator) if not k.startswith("_")}


def test_every_table_name_is_a_tflite_builtin() -> None:
    assert set(table.SUPPORTED) <= BUILTINS, set(table.SUPPORTED) - BUILTINS
    assert set(table.COMPILER_MAX_OP_VERSION) <= BUILTINS, set(table.COMPILER_MAX_OP_VERSION) - BUILTINS
    assert set(table.ALTERNATIVES) <= BUILTINS, set(table.ALTERNATIVES) - BUILTINS


def test_supported_ops_are_parseable_and_runtimes_are_known() -> None:
    for name, spec in table.SUPPORTED.items():
        assert table.parseable(name, 1), name
        assert table.FIRST_RUNTIME_VERSION <= spec.min_runtime <= table.DEFAULT_RUNTIME_VERSION, name
    # the ops users most often need and which Coral lists as "All" runtimes
    for name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX", "ADD", "MAX_POOL_2D", "MEAN"):
        assert table.support(name).min_runtime == table.FIRST_RUNTIME_VERSION
    assert table.support("LEAKY_RELU") is None and table.support("GELU") is None


def test_compiler_version_limits_follow_the_reported_failures() -> None:
    # reported unparseable by edgetpu_compiler 16.0.384591198
    for name, version in (("QUANTIZE", 3), ("CONV_2D", 6), ("TRANSPOSE_CONV", 4), ("EXP", 2), ("GELU", 1)):
        assert not table.parseable(name, version), (name, version)
    # reported to parse (RSQRT v2, TF 2.5) and what TF 2.21 emits for an int8 CNN
    for name, version in (("RSQRT", 2), ("CONV_2D", 3), ("FULLY_CONNECTED", 4), ("SOFTMAX", 2), ("MEAN", 2)):
        assert table.parseable(name, version), (name, version)
    assert table.parseable("TFLite_Detection_PostProcess", 99, builtin=False)


def test_compiler_to_runtime_version() -> None:
    assert table.runtime_for_compiler("16.0.384591198") == 14
    assert table.runtime_for_compiler("15.0.340273435") == 13
    assert table.runtime_for_compiler("2.0.267685300") == 12
    assert table.runtime_for_compiler("99.1") is None


def test_status_texts_are_the_compilers() -> None:
    assert table.MAPPED == "Mapped to Edge TPU"
    assert table.AFTER_CUT == "More than one subgraph is not supported"
    assert table.UNSUPPORTED_RANK == "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
    assert len(set(table.STATUSES)) == 7
