"""Kernel detection on real converted models, with MACs checked by hand."""

from __future__ import annotations

import pytest

from edgekit.errors import ConfigError
from edgekit.tflite.kernels import detect_kernels, kernel_summary


def test_tiny_cnn_fp32_kernels_and_macs(tiny_models) -> None:
    ks = detect_kernels(tiny_models.fp32_tflite)
    assert [k.type for k in ks] == ["conv", "maxpool", "conv", "global-pool", "fc", "softmax"]
    c1, pool, c2, gap, fc, _ = ks
    # Conv2D(8, 3, same, relu) on 8×8×1: 8·8 pixels × 8 filters × 3·3·1
    assert c1.macs == 8 * 8 * 8 * 3 * 3 * 1
    assert (c1.cin, c1.cout, c1.kernel_h, c1.kernel_w, c1.stride) == (1, 8, 3, 3, 1)
    assert c1.activation == "relu" and c1.padding == "same" and c1.dtype == "fp32"
    assert c1.input_shape == (1, 8, 8, 1) and c1.output_shape == (1, 8, 8, 8)
    assert c1.weight_bytes == (8 * 3 * 3 * 1 + 8) * 4          # kernel + bias, float32
    assert c1.input_bytes == 8 * 8 * 1 * 4 and c1.output_bytes == 8 * 8 * 8 * 4
    assert pool.output_shape == (1, 4, 4, 8) and pool.kernel_h == 2 and pool.stride == 2
    assert c2.macs == 4 * 4 * 8 * 3 * 3 * 8
    assert gap.macs == 0 and gap.weight_bytes == 0             # the axis constant is no weight
    assert (fc.cin, fc.cout, fc.macs) == (8, 4, 8 * 4)
    assert c2.alignment() == {"cin_mod4": 0, "cin_mod8": 0, "cin_mod16": 8,
                              "cout_mod4": 0, "cout_mod8": 0, "cout_mod16": 8}
    s = kernel_summary(ks)
    assert s["macs"] == c1.macs + c2.macs + fc.macs and s["by_type"]["conv"]["count"] == 2


def test_tiny_cnn_int8_kernels(tiny_models) -> None:
    ks = detect_kernels(tiny_models.int8_tflite)
    assert [k.type for k in ks] == ["conv", "maxpool", "conv", "global-pool", "fc", "softmax"]
    assert {k.dtype for k in ks} == {"int8"}                   # int8 I/O: no QUANTIZE at the edges
    assert ks[0].weight_bytes == 8 * 3 * 3 * 1 + 8 * 4          # int8 kernel + int32 bias
    assert ks[2].macs == 4 * 4 * 8 * 3 * 3 * 8


def test_pad_depthwise_residual_fp32(small_variants) -> None:
    ks = detect_kernels(small_variants["fp32"])
    types = [k.type for k in ks]
    assert types == ["conv", "conv", "dwconv", "conv", "add", "conv", "dwconv", "conv", "global-pool", "fc",
                     "softmax"]
    stem, expand, dw1, project, add, expand2, dw2 = ks[:7]
    assert stem.stride == 2 and stem.output_shape == (1, 8, 8, 8) and stem.activation == "relu6"
    assert stem.macs == 8 * 8 * 8 * 3 * 3 * 3
    assert expand.macs == 8 * 8 * 16 * 8 and expand.kernel_h == 1
    assert dw1.macs == 8 * 8 * 16 * 3 * 3 and dw1.padding == "same"
    assert project.activation == "" and add.input_shape == (1, 8, 8, 8)
    # ZeroPadding2D + valid depthwise: one kernel, its input the unpadded tensor
    assert dw2.ops == ("DEPTHWISE_CONV_2D", "PAD") and dw2.padding == "explicit"
    assert dw2.input_shape == (1, 8, 8, 16) and dw2.output_shape == (1, 4, 4, 16) and dw2.stride == 2
    assert dw2.macs == 4 * 4 * 16 * 3 * 3
    assert ks[7].cout == 12 and ks[7].alignment()["cout_mod8"] == 4
    assert all(k.dtype == "fp32" for k in ks)


def test_fp16_weights_are_not_kernels(small_variants) -> None:
    fp32 = detect_kernels(small_variants["fp32"])
    ks = detect_kernels(small_variants["fp16"])
    assert [k.type for k in ks] == [k.type for k in fp32]       # the DEQUANTIZEs of weights vanish
    assert {k.dtype for k in ks if k.type in ("conv", "dwconv", "fc")} == {"fp16-dequantized"}
    conv = ks[0]
    assert conv.weight_bytes == fp32[0].weight_bytes // 2      # float16 storage
    assert conv.macs == fp32[0].macs


def test_int8_float_io_edges(small_variants) -> None:
    ks = detect_kernels(small_variants["int8"])
    assert ks[0].type == "quantize" and ks[-1].type == "dequantize"
    assert ks[0].input_shape == (1, 16, 16, 3)
    inner = ks[1:-1]
    assert [k.type for k in inner] == [k.type for k in detect_kernels(small_variants["fp32"])]
    assert {k.dtype for k in ks} == {"int8"}


def test_not_a_model(tmp_path) -> None:
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"nope")
    with pytest.raises(ConfigError):
        detect_kernels(bad)
