"""Parsing the compiler's stdout and .log (samples in the real compiler's formats)."""

from __future__ import annotations

import pytest

from edgekit.edgetpu.compiler_output import OpStatus, parse_log, parse_size, parse_stdout, unparseable_op

# shared/formats/README.md, verbatim
PARTIAL = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 1264 ms.

Input model: model_int8.tflite
Input size: 1.27MiB
Output model: model_int8_edgetpu.tflite
Output size: 1.41MiB
On-chip memory used for caching model parameters: 1.30MiB
On-chip memory remaining for caching model parameters: 6.45MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 21
Operation log: model_int8_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU. A percentage of the model will instead run on the CPU, which is slower. If possible, consider updating your model to use only operations supported by the Edge TPU. For details, visit g.co/coral/model-reqs.
Number of operations that will run on Edge TPU: 18
Number of operations that will run on CPU: 3

Operator                       Count      Status

CONV_2D                        12         Mapped to Edge TPU
MAX_POOL_2D                    3          Mapped to Edge TPU
QUANTIZE                       1          Mapped to Edge TPU
MEAN                           1          Operation is otherwise supported, but not mapped due to some unspecified limitation
FULLY_CONNECTED                1          More than one subgraph is not supported
SOFTMAX                        1          More than one subgraph is not supported
"""

FULL_NO_TABLE = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 1170 ms.

Input model: mobilenet_v2_quant.tflite
Input size: 3.41MiB
Output model: mobilenet_v2_quant_edgetpu.tflite
Output size: 3.88MiB
On-chip memory used for caching model parameters: 3.42MiB
On-chip memory remaining for caching model parameters: 4.31MiB
Off-chip memory used for streaming uncached model parameters: 512.00KiB
Number of Edge TPU subgraphs: 1
Total number of operations: 65
Operation log: mobilenet_v2_quant_edgetpu.log
See the operation log file for individual operation details.
Compilation child process completed within timeout period.
Compilation succeeded! 
"""

LOG = """Edge TPU Compiler version 14.1.317412892
Input: tiny_yolo.tflite
Output: tiny_yolo_edgetpu.tflite

Operator                       Count      Status

CONCATENATION                  1          More than one subgraph is not supported
MAX_POOL_2D                    6          Mapped to Edge TPU
RESIZE_NEAREST_NEIGHBOR        1          Operation version not supported
CONV_2D                        11         Mapped to Edge TPU
CONV_2D                        2          More than one subgraph is not supported
QUANTIZE                       1          Operation is otherwise supported, but not mapped due to some unspecified limitation
QUANTIZE                       2          Mapped to Edge TPU
"""

INTERNAL = """Edge TPU Compiler version 15.0.340273435

Internal compiler error. Aborting! 
"""

LARGE = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.
ERROR: Restored original execution plan after delegate application failure.
Compilation failed: Compilation failed due to large activation tensors in model.
Compilation child process completed within timeout period.
Compilation failed! 
"""

UNPARSEABLE = """Edge TPU Compiler version 16.0.384591198
ERROR: Didn't find op for builtin opcode 'CONV_2D' version '6'. An older version of this builtin might be supported. Are you using an old TFLite binary with a newer model?

ERROR: Registration failed.

Invalid model: model_full_integer_quant.tflite
Model could not be parsed
"""


@pytest.mark.parametrize("text,expected", [
    ("1.30MiB", 1363149), ("0.00B", 0), ("512.00KiB", 524288), ("6.45MiB", 6763315), ("2.00GiB", 2 * 1024 ** 3),
    ("17B", 17), ("1.5 KiB", 1536),
])
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "MiB", "1.3 parsecs", "-1B"])
def test_parse_size_rejects_non_sizes(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_size(bad)


def test_partial_mapping() -> None:
    r = parse_stdout(PARTIAL)
    assert r.success and not r.error_kind
    assert r.compiler_version == "16.0.384591198" and r.compile_ms == 1264
    assert (r.input_model, r.output_model, r.log_file) == ("model_int8.tflite", "model_int8_edgetpu.tflite",
                                                            "model_int8_edgetpu.log")
    assert r.input_size == parse_size("1.27MiB") and r.output_size == parse_size("1.41MiB")
    assert (r.on_chip_bytes, r.on_chip_remaining_bytes, r.off_chip_bytes) == (1363149, 6763315, 0)
    assert (r.subgraphs, r.total_ops, r.ops_on_tpu, r.ops_on_cpu) == (1, 21, 18, 3)
    assert r.op_status[0] == OpStatus("CONV_2D", 12, "Mapped to Edge TPU")
    assert r.op_status[3] == OpStatus(
        "MEAN", 1, "Operation is otherwise supported, but not mapped due to some unspecified limitation")
    assert [o.operator for o in r.op_status] == ["CONV_2D", "MAX_POOL_2D", "QUANTIZE", "MEAN", "FULLY_CONNECTED",
                                                  "SOFTMAX"]
    assert [o.count for o in r.op_status] == [12, 3, 1, 1, 1, 1]   # (the sample's numbers are illustrative)


def test_full_mapping_without_table_takes_it_from_the_log() -> None:
    r = parse_stdout(FULL_NO_TABLE)
    assert r.success and (r.ops_on_tpu, r.ops_on_cpu, r.total_ops) == (65, 0, 65)
    assert r.off_chip_bytes == 524288 and r.op_status == ()
    with_log = parse_stdout(FULL_NO_TABLE, LOG)
    assert len(with_log.op_status) == 7 and with_log.op_status[2].status == "Operation version not supported"
    assert with_log.compiler_version == "16.0.384591198"   # stdout's version wins over the log's


def test_log_on_its_own() -> None:
    r = parse_log(LOG)
    assert r.compiler_version == "14.1.317412892"
    assert (r.input_model, r.output_model) == ("tiny_yolo.tflite", "tiny_yolo_edgetpu.tflite")
    assert r.ops_on_tpu == 6 + 11 + 2 and r.ops_on_cpu == 1 + 1 + 2 + 1 and r.total_ops == 24
    assert [o.count for o in r.op_status if o.operator == "CONV_2D"] == [11, 2]


@pytest.mark.parametrize("text,kind,words", [
    (INTERNAL, "internal", "Internal compiler error. Aborting!"),
    (LARGE, "large_activations", "Compilation failed: Compilation failed due to large activation tensors in model."),
    (UNPARSEABLE, "unparseable", "Didn't find op for builtin opcode 'CONV_2D' version '6'"),
])
def test_failures(text: str, kind: str, words: str) -> None:
    r = parse_stdout(text)
    assert not r.success and r.error_kind == kind
    assert words in r.error
    assert r.total_ops is None and r.op_status == ()


def test_unparseable_op() -> None:
    assert unparseable_op(UNPARSEABLE) == ("CONV_2D", 6)
    assert unparseable_op(PARTIAL) is None


def test_timeout_words_but_not_paths_that_contain_them() -> None:
    path_only = PARTIAL.replace("model_int8_edgetpu.tflite", "/tmp/test_timeout_runs/model_int8_edgetpu.tflite")
    assert parse_stdout(path_only).error_kind == ""
    timed_out = "Edge TPU Compiler version 16.0.384591198\nStarted a compilation timeout timer of 5 seconds.\n" \
                "Compilation child process timed out.\n"
    r = parse_stdout(timed_out)
    assert r.error_kind == "timeout" and r.error == "Compilation child process timed out."
