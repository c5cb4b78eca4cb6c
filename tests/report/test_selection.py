"""A report shows what was asked: like-for-like runs (threads, delegate) and selected models."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.measurement import LatencyStats, Measurement, RunSettings
from edgekit.report.collect import collect
from edgekit.report.selection import Selection
from edgekit.store.sqlite import SqliteStore as Store


def _copy(store: Store, tmp_path: Path) -> Store:
    dst = tmp_path / "copy.sqlite"
    store.close()
    shutil.copy(store.path, dst)
    return Store(dst)


def _add_run(store: Store, like: Measurement, threads: int, delegate: str, median_us: float) -> Measurement:
    samples = tuple(float(x) for x in np.random.default_rng(threads).normal(median_us, median_us * 0.01, 40))
    m = dataclasses.replace(like, id=f"{like.id[:20]}-{threads}-{delegate}", samples_us=samples,
                            stats=LatencyStats.from_samples(samples),
                            settings=dataclasses.replace(like.settings, threads=threads, delegate=delegate),
                            finished_at=like.finished_at + 100)
    store.add_measurement(m)
    return m


def test_two_thread_runs_neither_replace_nor_pool_with_one_thread_runs(real_store: Store, tmp_path: Path) -> None:
    store = _copy(real_store, tmp_path)
    one = store.measurements(device="host")[0]
    _add_run(store, one, threads=2, delegate="cpu", median_us=one.stats.median / 4)
    for policy in ("latest", "pooled"):
        data = collect(store, policy=policy)
        c = next(c for c in data.candidates if c.artifact_sha256 == one.artifact_sha256)
        assert c.threads == 1 and c.median_ms == pytest.approx(one.stats.median / 1000), policy
        assert any("another thread count" in n for n in data.notes)
    two = collect(store, selection=Selection(threads=2))
    assert [c.threads for c in two.candidates] == [2]


def test_delegates_are_separate_candidates(real_store: Store, tmp_path: Path) -> None:
    store = _copy(real_store, tmp_path)
    one = store.measurements(device="host")[0]
    _add_run(store, one, threads=1, delegate="xnnpack", median_us=one.stats.median / 2)
    data = collect(store)
    mine = [c for c in data.candidates if c.artifact_sha256 == one.artifact_sha256]
    assert sorted(c.delegate for c in mine) == ["cpu", "xnnpack"]
    assert any(c.label.endswith("· xnnpack") for c in mine)


def test_select_by_variant_model_and_artifacts(real_store: Store) -> None:
    data = collect(real_store, selection=Selection(variants=frozenset({"int8"})))
    assert {c.variant for c in data.models} == {"int8"} and {c.variant for c in data.candidates} == {"int8"}
    sha = data.models[0].artifact_sha256
    assert [c.artifact_sha256 for c in collect(real_store, selection=Selection(artifacts=frozenset({sha}))).models] \
        == [sha]
    with pytest.raises(ConfigError, match="no artifacts matching"):
        collect(real_store, selection=Selection(models=frozenset({"no-such-model"})))
