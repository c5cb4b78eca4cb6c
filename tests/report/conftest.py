"""Stores for the report tests.

* ``real_store`` — the ``tiny_models`` fp32 and int8 files, evaluated on ``test.npz`` with
  the real ai_edge_litert interpreter and timed on this host with a plain warm-up + timed
  loop (``time.perf_counter_ns``). Built here, independent of the deploy/evaluate code.
* ``paper_store`` — a hand-made paper-family store: 6 widths × fp32/int8 × 3 recipes on two
  phones, sizes/accuracies/latencies derived from the paper's tables (with seeded noise),
  plus one flagged run, one failed run and one superseded run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import time
from pathlib import Path

import numpy as np
import pytest

from edgekit.artifact import Artifact, sha256_file
from edgekit.store.sqlite import SqliteStore as Store
from edgekit.measurement import LatencyStats, Measurement, QualityRecord, RunSettings, quality_flags
from edgekit.report.paper import paper_table
from edgekit.tflite import read_model

WIDTHS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0)
RECIPES = ("baseline", "augmentation", "distillation")
PAPER_DEVICES = {"pixel3xl": "latency_ms_pixel_3xl", "galaxy-s10": "latency_ms_galaxy_s10"}


def host_facts() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gov = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    return {"model": platform.node(), "cpu": cpu, "os": platform.platform(), "kernel": platform.release(),
            "governor": gov.read_text().strip() if gov.exists() else "",
            "runtime": "ai_edge_litert", "runtime_version": importlib.metadata.version("ai-edge-litert")}


def evaluate_top1(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy with the real LiteRT interpreter (quantized I/O handled)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    correct = 0
    for i in range(len(x)):
        sample = x[i:i + 1]
        scale, zp = inp["quantization"]
        if scale:
            sample = np.clip(np.round(sample / scale + zp), -128, 127).astype(inp["dtype"])
        interp.set_tensor(inp["index"], sample.astype(inp["dtype"]))
        interp.invoke()
        correct += int(np.argmax(interp.get_tensor(out["index"])[0]) == int(y[i]))
    return correct / len(x)


def time_model(path: Path, warmup: int = 5, runs: int = 20) -> tuple[list[float], float, float]:
    """Warm-up then timed single-threaded invokes; returns (samples µs, started, finished)."""
    from ai_edge_litert.interpreter import Interpreter

    started = time.time()
    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    rng = np.random.default_rng(0)
    if np.issubdtype(inp["dtype"], np.integer):
        data = rng.integers(-128, 127, size=inp["shape"]).astype(inp["dtype"])
    else:
        data = rng.random(inp["shape"], dtype=np.float32)
    interp.set_tensor(inp["index"], data)
    for _ in range(warmup):
        interp.invoke()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        interp.invoke()
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
    return samples, started, time.time()


def artifact_of(path: Path, variant: str, extra: dict | None = None) -> Artifact:
    mf = read_model(path)
    return Artifact(path=path, sha256=sha256_file(path), size_bytes=path.stat().st_size, variant=variant,
                    inputs=tuple(t.spec() for t in mf.inputs), outputs=tuple(t.spec() for t in mf.outputs),
                    ops=mf.op_histogram, source=str(path), extra=extra or {})


@pytest.fixture(scope="session")
def real_store(tiny_models, tmp_path_factory) -> Store:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("report_real")
    store = Store(folder / "results.sqlite")
    test = np.load(tiny_models.test_npz)
    facts = host_facts()
    settings = RunSettings(threads=1, warmup_runs=5, warmup_seconds=0.0, runs=20, min_seconds=0.0, pin=False)
    for variant, path in (("fp32", tiny_models.fp32_tflite), ("int8", tiny_models.int8_tflite)):
        art = artifact_of(path, variant)
        store.put_artifact(art)
        store.add_quality(QualityRecord(art.sha256, variant, "tiny-test:" + sha256_file(tiny_models.test_npz)[:12],
                                        "top1", evaluate_top1(path, test["x"], test["y"]), len(test["y"]),
                                        model="tiny"))
        samples, started, finished = time_model(path)
        stats = LatencyStats.from_samples(samples)
        store.add_measurement(Measurement(
            artifact_sha256=art.sha256, artifact_name=art.name, device="host", profile="host",
            runner="test-timing-loop", runner_version="1", settings=settings, samples_us=tuple(samples),
            stats=stats, facts=facts, flags=quality_flags(stats, {}, {}), started_at=started,
            finished_at=finished, artifact_variant=variant, size_bytes=art.size_bytes))
    return store


def _fake_sha(*parts: object) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def _samples(median_ms: float, rng: np.random.Generator, n: int = 30, spread: float = 0.03) -> list[float]:
    return list(median_ms * 1000.0 * (1.0 + rng.normal(0.0, spread, size=n)))


@pytest.fixture(scope="session")
def paper_store(tmp_path_factory) -> Store:  # noqa: ANN001
    """6 widths × {fp32, int8} × 3 recipes, measured on two phones (synthetic, from the paper's figures)."""
    folder = tmp_path_factory.mktemp("report_paper")
    store = Store(folder / "results.sqlite")
    rng = np.random.default_rng(42)
    tables = {"fp32": paper_table("float"), "int8": paper_table("int8")}
    t0 = 1_700_000_000.0
    for w_i, w in enumerate(WIDTHS):
        for recipe in RECIPES:
            for variant in ("fp32", "int8"):
                row = tables[variant][w_i]
                name = f"cnn-w{w:g}-{recipe}"
                art = Artifact(path=folder / f"{name}_{variant}.tflite", sha256=_fake_sha(name, variant),
                               size_bytes=int(row.size_kb * 1024), variant=variant, inputs=(), outputs=(), ops=(),
                               extra={"model": {"name": name, "family": "paper-cnn", "width": w, "recipe": recipe,
                                                "params": int(row.params_k * 1000)}})
                store.put_artifact(art)
                store.add_quality(QualityRecord(art.sha256, variant, "cifar10-test:0123456789ab", "top1",
                                                row.accuracy_pct[recipe] / 100.0, 10000, created=t0, model=name))
                for dev, col in PAPER_DEVICES.items():
                    noisy = (w == 0.5 and recipe == "baseline" and variant == "int8" and dev == "pixel3xl")
                    samples = _samples(row.latency_ms[col], rng, spread=0.25 if noisy else 0.02)
                    stats = LatencyStats.from_samples(samples)
                    t0 += 10
                    store.add_measurement(Measurement(
                        artifact_sha256=art.sha256, artifact_name=art.name, device=dev, profile=dev,
                        runner="benchmark_model", runner_version="2.21", settings=RunSettings(),
                        samples_us=tuple(samples), stats=stats,
                        facts={"model": dev, "soc": "Snapdragon 845" if dev == "pixel3xl" else "Exynos 9820",
                               "runtime": "tflite", "runtime_version": "2.21.0",
                               "governor": {"cpu4": "schedutil", "cpu5": "schedutil"}},
                        flags=quality_flags(stats, {}, {}, throttled=noisy), started_at=t0 - 5, finished_at=t0,
                        artifact_variant=variant, size_bytes=art.size_bytes))
    # a superseded run: an older, slower measurement of w=1.0 baseline fp32 on the S10
    old = _fake_sha("cnn-w1-baseline", "fp32")
    slow = _samples(9.9, rng)
    store.add_measurement(Measurement(
        artifact_sha256=old, artifact_name="cnn-w1-baseline_fp32", device="galaxy-s10", profile="galaxy-s10",
        runner="benchmark_model", runner_version="2.21", settings=RunSettings(), samples_us=tuple(slow),
        stats=LatencyStats.from_samples(slow),
        started_at=1_600_000_000.0, finished_at=1_600_000_001.0, artifact_variant="fp32"))
    # a failed run
    store.add_measurement(Measurement(
        artifact_sha256=_fake_sha("cnn-w0.75-distillation", "int8"), artifact_name="cnn-w0.75-distillation_int8",
        device="pixel3xl", profile="pixel3xl", runner="benchmark_model", runner_version="2.21",
        settings=RunSettings(), samples_us=(), stats=None, status="failed",
        error="adb: device offline <script>alert(1)</script>", started_at=t0 + 1, finished_at=t0 + 2,
        artifact_variant="int8"))
    return store


@pytest.fixture(scope="session")
def real_report(real_store: Store, tmp_path_factory):  # noqa: ANN001, ANN201
    """The full report (every format) of the real host store."""
    from edgekit.report.api import report

    return report(store=real_store, out=tmp_path_factory.mktemp("real_report"), title="tiny CNN on this host")


@pytest.fixture(scope="session")
def paper_report(paper_store: Store, tmp_path_factory):  # noqa: ANN001, ANN201
    """The full report of the synthetic paper-family store, with constraints one device cannot meet."""
    from edgekit.report.api import report

    return report(store=paper_store, out=tmp_path_factory.mktemp("paper_report"), max_latency_ms=1.0,
                  min_quality=0.85, title="paper-cnn family <b>not bold</b>")
