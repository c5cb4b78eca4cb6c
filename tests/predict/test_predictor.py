"""Predictors on synthetic kernels with a known cost law, conformal coverage, held-out folds,
and a saved predictor applied to a real converted model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.predict.conformal import Calibration, conformal_quantile, coverage, log_scores
from edgekit.predict.dataset import Sample, group_folds, sample_from_file
from edgekit.predict.evaluate import evaluate, metrics
from edgekit.predict.predictor import fit, load, suggest
from edgekit.predict.regressors import APPROACHES, make_regressor
from edgekit.tflite.kernels import Kernel, detect_kernels

OVERHEAD_MS = 0.02


def _conv(i: int, side: int, cin: int, cout: int, dtype: str) -> Kernel:
    macs = side * side * cout * 9 * cin
    return Kernel(i, "conv", ("CONV_2D",), (i,), dtype, (1, side, side, cin), (1, side, side, cout), 3, 3, 1,
                  cin, cout, "relu", "same", macs, 2 * macs, 9 * cin * cout * 4, side * side * cin * 4,
                  side * side * cout * 4)


def _true_ms(ks: list[Kernel]) -> float:
    """The synthetic device: a call costs 5 µs, a MMAC 0.25 ms, 0.2 ms more off 8-channel tiles;
    int8 kernels run 3× faster."""
    t = OVERHEAD_MS
    for k in ks:
        c = 0.005 + k.macs / 1e6 * (0.25 + (0.2 if k.cout % 8 else 0.0))
        t += c / 3 if k.dtype == "int8" else c
    return t


def _synthetic(n_arch: int, seed: int, noise: float = 0.01) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out = []
    for a in range(n_arch):
        side = int(rng.choice([8, 16, 24, 32]))
        chans = [int(rng.integers(4, 80)) for _ in range(int(rng.integers(2, 7)))]
        for dtype in ("fp32", "int8"):
            ks = [_conv(i, side, cin, cout, dtype) for i, (cin, cout) in enumerate(zip([3] + chans, chans))]
            ms = _true_ms(ks) * float(np.exp(rng.normal(0, noise)))
            out.append(Sample(f"arch{a}", dtype, Path(f"/nonexistent/arch{a}_{dtype}.tflite"), f"{a}{dtype}",
                              tuple(ks), ms))
    return out


def test_group_folds_keep_architectures_whole() -> None:
    groups = [f"g{i // 3}" for i in range(30)]          # 10 groups of 3 rows
    folds = group_folds(groups, 4, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(30))
    for f in folds:
        inside = {groups[i] for i in f}
        assert all(groups[j] not in inside for g in folds if g is not f for j in g)
    assert sorted(len({groups[i] for i in f}) for f in folds) == [2, 2, 3, 3]
    assert [f.tolist() for f in group_folds(groups, 4, seed=1)] == [f.tolist() for f in folds]
    assert [f.tolist() for f in group_folds(groups, 4, seed=2)] != [f.tolist() for f in folds]
    with pytest.raises(ConfigError, match="cannot be split"):
        group_folds(groups[:6], 3)


def test_conformal_quantile_and_coverage_on_synthetic_residuals() -> None:
    rng = np.random.default_rng(0)
    assert conformal_quantile([1, 2, 3, 4, 5, 6, 7, 8, 9], 0.8) == 8  # ⌈10·0.8⌉ = 8th smallest
    assert conformal_quantile([1, 2, 3], 0.9) == float("inf")
    with pytest.raises(ConfigError):
        conformal_quantile([1.0], 1.5)
    # marginal guarantee: over many calibration sets of 50, mean coverage is ⌈51·0.9⌉/51 ≈ 0.902
    covs, widths = [], []
    for _ in range(200):
        measured = np.exp(rng.normal(0, 0.1, 250))        # true latency 1, predictions all 1
        cal = Calibration.from_scores(log_scores(measured[:50], np.ones(50)), ["fp32"] * 50, 0.9)
        lo, hi = cal.interval(1.0, "fp32")
        covs.append(coverage(measured[50:], np.full(200, lo), np.full(200, hi)))
        widths.append(np.log(hi))
    assert 0.89 <= np.mean(covs) <= 0.92
    assert np.median(widths) == pytest.approx(1.645 * 0.1, rel=0.1)  # the normal's 95 % point


def test_kernel_nnls_recovers_a_known_cost_law() -> None:
    train, test = _synthetic(60, seed=0), _synthetic(20, seed=1)
    reg = make_regressor("kernel-nnls").fit([s.kernels for s in train], np.array([s.latency_ms for s in train]))
    p = reg.predict([s.kernels for s in test])
    y = np.array([s.latency_ms for s in test])
    assert np.mean(np.abs(p / y - 1) <= 0.05) >= 0.9
    costs, overhead = reg.breakdown(test[0].kernels)
    assert len(costs) == len(test[0].kernels) and (costs >= 0).all()
    assert overhead + costs.sum() == pytest.approx(p[0])


@pytest.mark.parametrize("approach", APPROACHES)
def test_every_approach_fits_and_predicts(approach: str) -> None:
    train = _synthetic(40, seed=2)
    reg = make_regressor(approach, seed=0).fit([s.kernels for s in train],
                                               np.array([s.latency_ms for s in train]))
    test = _synthetic(10, seed=3)
    p = reg.predict([s.kernels for s in test])
    y = np.array([s.latency_ms for s in test])
    assert np.all(p > 0) and np.median(np.abs(p / y - 1)) < 0.5
    costs, overhead = reg.breakdown(test[0].kernels)
    assert overhead + costs.sum() == pytest.approx(p[0], rel=1e-6)


def test_held_out_evaluation_and_coverage_on_synthetic() -> None:
    samples = _synthetic(50, seed=4, noise=0.05)
    r = evaluate(samples, "kernel-nnls", folds=5, level=0.8, seed=0)
    assert r.n == 100 and r.architectures == 50
    assert r.within_10 >= 0.85 and r.rmspe < 0.1
    assert 0.65 <= r.coverage <= 0.95
    assert set(r.by_dtype) == {"fp32", "int8"}
    m = metrics(np.array([1.0, 2.0]), np.array([1.04, 2.4]), np.array([0.9, 1.0]), np.array([1.1, 2.1]))
    assert (m["within_5"], m["within_10"], m["coverage"]) == (0.5, 0.5, 1.0)
    assert m["rmspe"] == pytest.approx(np.sqrt((0.04 ** 2 + 0.2 ** 2) / 2))


def test_fit_save_load_predict_real_file(tmp_path: Path, tiny_models) -> None:
    samples = _synthetic(30, seed=5)
    pred = fit(samples, "kernel-nnls", level=0.9, device="host", profile="host", runtime_version="2.3.0")
    path = pred.save(tmp_path / "host.predictor")
    back = load(path)
    assert back.metadata()["training_ids"] == [s.id for s in samples]
    assert back.device == "host" and back.runtime_version == "2.3.0"
    r = back.predict(tiny_models.fp32_tflite)
    assert r.predicted_ms > 0 and r.interval_ms[0] < r.predicted_ms < r.interval_ms[1]
    assert len(r.kernels) == len(detect_kernels(tiny_models.fp32_tflite)) and not r.stale
    assert r.to_dict()["interval_ms"] == list(r.interval_ms)
    stale = back.predict(tiny_models.fp32_tflite, runtime_version="2.4.0")
    assert stale.stale and "2.3.0" in stale.warnings[0]
    s = sample_from_file(tiny_models.int8_tflite, 0.5, "tiny", "int8")
    assert s.id == "tiny/int8" and s.kernels[0].dtype == "int8"
    with pytest.raises(ConfigError):
        sample_from_file(tiny_models.int8_tflite, -1.0, "tiny", "int8")
    (tmp_path / "junk").write_bytes(b"not a pickle")
    with pytest.raises(ConfigError):
        load(tmp_path / "junk")
    with pytest.raises(ConfigError):
        fit(samples, "transformer")


def test_suggest_ranks_unfamiliar_models_first() -> None:
    samples = _synthetic(30, seed=6)                     # sides 8…32, channels < 80
    pred = fit(samples, "nnls+gbr", level=0.9)
    familiar = ("familiar", samples[0].kernels)
    odd = ("odd", tuple(_conv(i, 64, c, c, "fp32") for i, c in enumerate([3, 300, 300, 300])))
    ranked = suggest(pred, [familiar, odd], n=2)
    assert [cid for cid, _ in ranked] == ["odd", "familiar"] and ranked[0][1] > ranked[1][1] >= 0
    assert len(suggest(pred, [familiar, odd], n=1)) == 1
    with pytest.raises(ConfigError):
        suggest(pred, [familiar], n=0)
