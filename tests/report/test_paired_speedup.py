"""Speed-ups between variants measured in interleaved sessions use the paired session medians."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.devices.deploy import deploy
from edgekit.devices.replicate import combine_sessions
from edgekit.measurement import LatencyStats, Measurement, RunSettings
from edgekit.report.collect import collect
from edgekit.report.tables import paper_layout_table
from edgekit.stats.paired import interleaved_pairs, paired_ratio
from edgekit.store.sqlite import SqliteStore as Store
from tests.report.conftest import artifact_of


def speedup(store: Store):  # noqa: ANN201
    data = collect(store)
    table = paper_layout_table(data, ["host"])
    assert table is not None and table.columns[-1].startswith("speed-up")
    fd = next(c for c in data.candidates if c.variant == "fp32")
    qd = next(c for c in data.candidates if c.variant == "int8")
    return table.rows[0][-1], fd, qd


def test_deploy_repeat_interleaves_and_the_speedup_is_paired(tiny_models, tmp_path):
    store = Store(tmp_path / "results.sqlite")
    settings = RunSettings(repeat=3, runs=5, min_seconds=0.0, warmup_runs=2, warmup_seconds=0.0)
    measured = deploy([tiny_models.fp32_tflite, tiny_models.int8_tflite], "host", settings, store=store)
    assert [len(m.sessions) for m in measured] == [3, 3]
    cell, fd, qd = speedup(store)
    store.close()
    assert len(fd.sessions) == len(qd.sessions) == 3
    f = [s["median_us"] for s in fd.sessions]
    q = [s["median_us"] for s in qd.sessions]
    assert interleaved_pairs(fd.sessions, qd.sessions) == (f, q)
    geo = math.exp(sum(math.log(a / b) for a, b in zip(f, q)) / 3)
    assert cell.value == pytest.approx(geo)
    assert "paired, 3 interleaved sessions" in cell.note
    lo, hi = (float(x) for x in cell.detail.split("–"))
    assert lo <= round(geo, 2) <= hi


def sessions_of(art, medians, starts, rng):  # noqa: ANN001, ANN201
    runs = []
    for med, t in zip(medians, starts):
        samples = tuple(med * (1 + rng.normal(0, 0.01, 200)))
        runs.append(Measurement(artifact_sha256=art.sha256, artifact_name=art.name, device="host", profile="host",
                                runner="edgekit-runner", runner_version="1", settings=RunSettings(repeat=len(medians)),
                                samples_us=samples, stats=LatencyStats.from_samples(samples), started_at=t,
                                finished_at=t + 1.0, artifact_variant=art.variant, size_bytes=art.size_bytes))
    return combine_sessions(runs, 0.05)


@pytest.mark.parametrize("interleaved", [True, False])
def test_drifting_sessions_paired_only_when_interleaved(tiny_models, tmp_path, interleaved):
    """Rounds drift by ±20 % while fp32 stays 2.0× int8 within each round: paired, the speed-up's
    interval is tight around 2.0; sessions run back to back (not interleaved) are not paired."""
    rng = np.random.default_rng(5)
    drift = [1.0, 1.2, 0.85, 1.1, 0.95]
    store = Store(tmp_path / "results.sqlite")
    fp32, int8 = artifact_of(tiny_models.fp32_tflite, "fp32"), artifact_of(tiny_models.int8_tflite, "int8")
    fp32_starts = [10.0 * i for i in range(5)]
    int8_starts = [10.0 * i + 2 for i in range(5)] if interleaved else [100.0 + 10 * i for i in range(5)]
    for art, base, starts in ((fp32, 2000.0, fp32_starts), (int8, 1000.0, int8_starts)):
        store.put_artifact(art)
        store.add_measurement(sessions_of(art, [base * d * (1 + rng.normal(0, 0.005)) for d in drift], starts, rng))
    cell, fd, qd = speedup(store)
    store.close()
    if interleaved:
        assert "paired, 5 interleaved sessions" in cell.note
        lo, hi = (float(x) for x in cell.detail.split("–"))
        assert lo <= 2.0 <= hi and hi - lo < 0.1
        expected = paired_ratio(*interleaved_pairs(fd.sessions, qd.sessions))
        assert cell.value == pytest.approx(expected.value)
    else:
        assert interleaved_pairs(fd.sessions, qd.sessions) is None
        assert "paired" not in cell.note and cell.value == pytest.approx(fd.median_ms / qd.median_ms)
