"""Parsing every output format of benchmark_model / benchmark_litert_model / litert-benchmark."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from edgekit.devices.compat import incompatibility_from_error
from edgekit.devices.runners.benchmark_parse import parse_benchmark_output, parse_stats_line
from edgekit.errors import RuntimeIncompatible
from tests.fakes.fake_benchmark_model import output


def test_new_format_every_field() -> None:
    p = parse_benchmark_output(output("new"))
    assert p.format == "new" and p.ok and p.errors == ()
    assert p.model_size_mb == pytest.approx(8.45746)
    assert p.init_us == 143669 and p.first_inference_us == 72635
    assert p.warmup_avg_us == pytest.approx(43536.2) and p.inference_avg_us == pytest.approx(42435.4)
    assert p.warmup is not None and p.warmup.count == 12 and p.warmup.median == 43300
    s = p.inference
    assert s is not None
    assert (s.count, s.first, s.curr, s.min, s.max) == (50, 42142, 42232, 42142, 42763)
    assert (s.avg, s.std, s.p5, s.median, s.p95) == (pytest.approx(42435.4), 147, 42232, 42405, 42729)
    assert (p.memory_init_mb, p.memory_overall_mb, p.peak_memory_mb) == (23.5625, 27.5859, None)
    agg = p.aggregate()
    assert agg is not None
    assert (agg.count, agg.min, agg.median, agg.max) == (50, 42142, 42405, 42763)
    assert agg.mean == pytest.approx(42435.4) and agg.cv == pytest.approx(147 / 42435.4)
    assert agg.p90 is None and agg.p10 is None and agg.p99 is None  # not printed: not guessed


def test_peak_memory_and_op_profiling_tables() -> None:
    p = parse_benchmark_output(output("new", report_peak_memory_footprint="true", enable_op_profiling="true"))
    assert p.peak_memory_mb == pytest.approx(30.1)
    titles = [t.title for t in p.op_tables]
    assert titles == ["Run Order", "Top by Computation Time", "Summary by node type"]
    run_order = p.op_tables[0]
    assert run_order.columns == ("node type", "first", "avg ms", "%", "cdf%", "mem kb", "times called", "name")
    assert [r["node type"] for r in run_order.rows] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "FULLY_CONNECTED"]
    assert run_order.rows[0]["avg ms"] == "17.958" and run_order.rows[3]["name"] == "[logits]:3"
    summary = p.op_tables[2]
    assert summary.columns[:3] == ("node type", "count", "avg ms")
    assert {r["node type"]: r["count"] for r in summary.rows} == {"CONV_2D": "2", "DEPTHWISE_CONV_2D": "1",
                                                                    "FULLY_CONNECTED": "1"}
    assert p.op_timings is not None and p.op_timings.count == 50 and p.op_timings.avg == 42435
    assert p.nodes_executed == 4
    # the op-profiling "Timings" line must not be mistaken for the timed runs
    assert p.inference is not None and p.inference.median == 42405


def test_old_stats_format_without_percentiles() -> None:
    p = parse_benchmark_output(output("old-stats"))
    assert p.format == "old-stats" and p.ok
    assert p.inference is not None and p.inference.count == 316 and p.inference.avg == pytest.approx(3162.37)
    assert p.inference.median is None and p.inference.p5 is None
    assert p.warmup is not None and p.warmup.count == 161
    assert p.init_us == 38467 and p.first_inference_us == 3514
    assert p.memory_init_mb == pytest.approx(2.76172) and p.peak_memory_mb == pytest.approx(10.8594)
    assert p.aggregate() is None  # no median printed: no stats invented


def test_oldest_average_inference_timings() -> None:
    p = parse_benchmark_output(output("oldest"))
    assert p.format == "oldest" and p.ok
    assert p.init_us == 38467 and p.warmup_avg_us == 83235 and p.inference_avg_us == pytest.approx(79760.9)
    assert p.inference is not None and p.inference.count == 50 and p.inference.std == 412
    assert p.peak_memory_mb == pytest.approx(10.8594)


def test_litert_native_block_in_ms() -> None:
    p = parse_benchmark_output(output("litert"))
    assert p.tool == "benchmark_litert_model" and p.format == "litert" and p.ok
    assert p.init_us == pytest.approx(143670) and p.first_inference_us == pytest.approx(72640)
    assert p.warmup is not None and p.warmup.count == 1 and p.warmup_avg_us == pytest.approx(43540)
    s = p.inference
    assert s is not None and s.count == 50 and s.avg == pytest.approx(42440)
    assert (s.min, s.max, s.std) == (pytest.approx(42140), pytest.approx(42760), pytest.approx(150))
    assert (p.memory_init_mb, p.memory_overall_mb, p.peak_memory_mb) == (23.56, 27.59, 30.10)


@pytest.mark.parametrize("prefix", ["", "INFO: "])
def test_prefix_does_not_matter(prefix: str) -> None:
    line = f"{prefix}count=50 first=1 curr=2 min=1 max=9 avg=3.5 std=1.5 p5=1 median=3 p95=8"
    text = f"{prefix}Running benchmark for at least 50 iterations\n{line}\n"
    p = parse_benchmark_output(text)
    assert p.inference == parse_stats_line(line)
    assert p.inference is not None and (p.inference.median, p.inference.p95) == (3, 8)


def test_op_version_failure_becomes_runtime_incompatible() -> None:
    text = output("op-version")
    p = parse_benchmark_output(text)
    assert not p.ok
    assert any("FULLY_CONNECTED' version '12'" in e for e in p.errors)
    assert "Benchmarking failed." in p.errors
    err = incompatibility_from_error(text, "pixel3", "m.tflite")
    assert isinstance(err, RuntimeIncompatible)
    assert "pixel3" in err.message and "FULLY_CONNECTED v12" in err.message and "2.17.0" in err.message
    assert "_experimental_disable_per_channel_quantization_for_dense_layers" in (err.hint or "")


def test_edgetpu_runtime_mismatch_text() -> None:
    text = ("Failed to prepare for TPU. Failed precondition: Package requires runtime version (14), "
            "which is newer than this runtime version (13).")
    err = incompatibility_from_error(text, "coral", "m_edgetpu.tflite")
    assert isinstance(err, RuntimeIncompatible) and "needs EdgeTPU runtime 14" in err.message
    assert "edgetpu_compiler -m 13" in (err.hint or "")


def test_garbage_is_not_ok() -> None:
    p = parse_benchmark_output("Segmentation fault\n")
    assert not p.ok and p.inference is None and p.aggregate() is None


@pytest.mark.skipif(shutil.which("litert-benchmark") is None, reason="litert-benchmark (ai-edge-litert) missing")
def test_real_litert_benchmark_output(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    """The Python `litert-benchmark` shipped in ai-edge-litert: its real block, against its own JSON."""
    out = tmp_path / "r.json"
    done = subprocess.run(["litert-benchmark", "--model", str(tiny_models.fp32_tflite), "--num_threads", "1",
                           "--num_runs", "30", "--warmup_runs", "3", "--result_json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    p = parse_benchmark_output(done.stdout + done.stderr)
    lat = json.loads(out.read_text())["latency"]
    assert p.tool == "benchmark_litert_model" and p.inference is not None
    assert p.inference.count == lat["num_runs"] == 30 and p.warmup is not None and p.warmup.count == 3
    assert p.inference.median == pytest.approx(lat["median_ms"] * 1000, abs=10)
    assert p.inference.p95 == pytest.approx(lat["p95_ms"] * 1000, abs=10)
    assert p.init_us == pytest.approx(lat["init_ms"] * 1000, abs=10)
    assert p.aggregate() is not None
