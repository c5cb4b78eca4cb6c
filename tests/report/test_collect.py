"""Reading a store into candidates: policies, failures, flags, datasets, names, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.artifact import Artifact, Manifest
from edgekit.errors import ConfigError
from edgekit.store.sqlite import SqliteStore as Store
from edgekit.jsonio import write_json
from edgekit.measurement import LatencyStats, Measurement, QualityRecord, RunSettings
from edgekit.report.collect import collect, model_identity, quality_scale


def art(path: str, variant: str, sha: str, size: int = 1000, extra: dict | None = None) -> Artifact:
    return Artifact(path=Path(path), sha256=sha, size_bytes=size, variant=variant, inputs=(), outputs=(), ops=(),
                    extra=extra or {})


def meas(sha: str, device: str, samples: list[float], at: float, status: str = "ok",
         flags: tuple[str, ...] = ()) -> Measurement:
    return Measurement(artifact_sha256=sha, artifact_name=sha, device=device, profile=device, runner="r",
                       runner_version="1", settings=RunSettings(), samples_us=tuple(samples),
                       stats=LatencyStats.from_samples(samples) if samples else None, status=status,
                       error="boom" if status != "ok" else "", flags=flags, started_at=at - 1, finished_at=at)


def test_paper_store_reads_every_candidate(paper_store: Store) -> None:
    d = collect(paper_store)
    assert len(d.models) == 36 and len(d.candidates) == 72
    assert sorted(d.devices) == ["galaxy-s10", "pixel3xl"]
    assert d.dataset == "cifar10-test:0123456789ab" and d.metric == "top1"
    assert d.scale.factor == 100.0 and d.scale.suffix == "%"
    c = next(c for c in d.candidates if c.model == "cnn-w0.25-distillation" and c.variant == "int8"
             and c.device == "pixel3xl")
    assert (c.family, c.width, c.recipe, c.params) == ("paper-cnn", 0.25, "distillation", 98570)
    assert c.quality == pytest.approx(0.8418) and c.size_bytes == int(111 * 1024)
    assert c.median_ms == pytest.approx(1.31, rel=0.05) and c.p10_ms < c.median_ms < c.p90_ms
    assert c.samples == 30 and c.runs == 1


def test_latest_policy_supersedes_and_pooled_merges(paper_store: Store) -> None:
    latest = collect(paper_store, devices=["galaxy-s10"])
    c = next(c for c in latest.candidates if c.artifact_name == "cnn-w1-baseline_fp32")
    assert c.runs == 2 and c.median_ms == pytest.approx(2.68, rel=0.05)   # the newer run, not the 9.9 ms one
    assert latest.superseded == 1 and any("superseded" in n for n in latest.notes)
    pooled = collect(paper_store, devices=["galaxy-s10"], policy="pooled")
    p = next(c for c in pooled.candidates if c.artifact_name == "cnn-w1-baseline_fp32")
    assert p.samples == 60 and p.p90_ms > 9.0 and pooled.superseded == 0


def test_runs_with_aggregate_stats_only_are_not_pooled(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.sqlite")
    s.put_artifact(art("/m/a_fp32.tflite", "fp32", "a"))
    s.add_measurement(meas("a", "phone", [1000.0] * 10, at=1.0))
    agg = meas("a", "phone", [2000.0] * 10, at=2.0)
    s.add_measurement(Measurement.from_dict({**agg.to_dict(), "samples_us": []}))  # benchmark_model style
    d = collect(s, policy="pooled")
    assert [c.median_ms for c in d.candidates] == [2.0] and d.superseded == 1
    assert any("cannot be pooled" in n for n in d.notes)


def test_failed_runs_are_listed_apart_and_flags_kept(paper_store: Store) -> None:
    d = collect(paper_store)
    assert [(f.device, f.model, f.variant) for f in d.failed] == [("pixel3xl", "cnn-w0.75-distillation", "int8")]
    assert "<script>" in d.failed[0].error
    assert all(c.measurement_id != d.failed[0].measurement_id for c in d.candidates)
    flagged = [c for c in d.candidates if c.flags]
    assert [(c.model, c.variant, c.device) for c in flagged] == [("cnn-w0.5-baseline", "int8", "pixel3xl")]
    assert set(flagged[0].flags) == {"noisy", "throttled"}
    assert d.devices["pixel3xl"].failed == 1 and d.devices["pixel3xl"].flagged == 1
    assert d.devices["pixel3xl"].facts["soc"] == "Snapdragon 845"


def test_unknown_device_lists_the_known_ones(paper_store: Store) -> None:
    with pytest.raises(ConfigError) as err:
        collect(paper_store, devices=["pixel9"])
    assert "'pixel9'" in str(err.value) and "galaxy-s10, pixel3xl" in err.value.hint


def test_unknown_metric_and_policy(paper_store: Store) -> None:
    with pytest.raises(ConfigError, match="top5") as err:
        collect(paper_store, quality_metric="top5")
    assert "top1" in err.value.hint
    with pytest.raises(ConfigError, match="policy"):
        collect(paper_store, policy="mean")


def test_empty_store_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has no artifacts") as err:
        collect(Store(tmp_path / "empty.sqlite"))
    assert "edgekit convert" in err.value.hint


def test_quality_dataset_with_most_coverage_wins(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.sqlite")
    for i in range(3):
        s.put_artifact(art(f"/m/m{i}_fp32.tflite", "fp32", f"sha{i}"))
        s.add_quality(QualityRecord(f"sha{i}", "fp32", "big-test", "top1", 0.5 + i / 10, 100, created=1.0))
    s.add_quality(QualityRecord("sha0", "fp32", "other", "top1", 0.99, 10, created=2.0))
    d = collect(s)
    assert d.dataset == "big-test"
    assert [c.quality for c in d.models] == [0.5, 0.6, 0.7]
    assert any("'other'" in n and "not mixed in" in n for n in d.notes)
    assert any("no latency measurements" in n for n in d.notes)
    assert d.candidates == [] and d.devices == {}


def test_model_names_without_pipeline_info() -> None:
    assert model_identity(art("/x/tiny_int8.tflite", "int8", "a"))["model"] == "tiny"
    assert model_identity(art("/x/_int8.tflite", "int8", "a"))["model"] == "_int8"
    assert model_identity(art("/x/net.tflite", "fp32", "a"))["model"] == "net"
    assert model_identity(art("/x/net_fp32.tflite", "fp32", "a"), {"a": "resnet"})["model"] == "resnet"
    ident = model_identity(art("/x/a_fp32.tflite", "fp32", "a",
                               extra={"model": {"name": "cnn-w0.5", "width": 0.5, "params": 350050.0}}))
    assert ident == {"model": "cnn-w0.5", "family": "", "width": 0.5, "recipe": "", "params": 350050}


def test_manifest_complements_the_store(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.sqlite")
    s.put_artifact(art(str(tmp_path / "out" / "x_fp32.tflite"), "fp32", "in-store"))
    m = Manifest(path=tmp_path / "out" / "manifest.json", model="/models/mobilenet.keras", model_sha256="m",
                 artifacts=(art(str(tmp_path / "out" / "x_int8.tflite"), "int8", "only-in-manifest", size=250),))
    m.save()
    write_json(tmp_path / "out" / "quality.json", {"kind": "edgekit.quality", "records": [
        QualityRecord("only-in-manifest", "int8", "d", "top1", 0.75, 10).to_dict()]})
    d = collect(s, manifests=[tmp_path / "out"])
    by_sha = {c.artifact_sha256: c for c in d.models}
    assert by_sha["only-in-manifest"].model == "mobilenet" and by_sha["only-in-manifest"].quality == 0.75
    assert by_sha["in-store"].model == "x"


def test_measured_artifact_missing_from_the_artifacts_table(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.sqlite")
    s.put_artifact(art("/m/a_fp32.tflite", "fp32", "a"))
    s.add_measurement(meas("ghost", "host", [100.0, 110.0, 120.0], at=5.0))
    d = collect(s)
    assert {c.artifact_sha256 for c in d.candidates} == {"ghost"}
    assert any("ghost"[:12] in n and "not in the artifacts table" in n for n in d.notes)


def test_ok_measurement_without_samples_or_stats_counts_as_failed(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.sqlite")
    s.put_artifact(art("/m/a_fp32.tflite", "fp32", "a"))
    s.add_measurement(meas("a", "host", [], at=1.0))
    d = collect(s)
    assert d.candidates == [] and [f.error for f in d.failed] == ["status 'ok' with no samples"]


def test_quality_scale_units() -> None:
    assert quality_scale("top1", [0.5, 0.9]).show(0.8532) == "85.32%"
    assert quality_scale("top1", [85.0]).show(85.0) == "85.00%"
    assert quality_scale("mAP", [0.3]).show(0.3) == "0.30"
    assert quality_scale("top1", []).show(None) == "—"
