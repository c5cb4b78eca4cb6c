"""The pipeline's convert and evaluate stages: every trained model to every variant, then
each variant's quality on the run's test split (LiteRT on this host).

Both are skipped per model when their content-keyed output is complete (convert) or the
store already has the quality of every artifact on this test split (evaluate).
"""

from __future__ import annotations

import logging

from ..artifact import Manifest, sha256_file
from ..errors import ConversionError, EdgekitError
from ..recipes.family import FAMILY_NAME, family_label, flat_channels
from .clock import StageClock, StageTiming, forward
from .context import StageContext
from .run_folder import RunFolder, content_key

LOG = logging.getLogger(__name__)

TEST_DATASET_SUFFIX = "-test"


def stage_convert(ctx: StageContext) -> StageTiming:
    """Convert each trained model to the configured variants (a failed model is a note)."""
    clock = StageClock("convert", ctx.progress)
    c = ctx.cfg.convert
    calib = ctx.files["calibration"]
    calib_id = sha256_file(calib)
    rows = calibration_rows(ctx)
    total = len(ctx.models)
    clock.event("models", 0, total)
    for i, m in enumerate(ctx.models):
        key = content_key(sha256_file(m.path), list(c.variants), calib_id, rows)  # by the model's bytes
        folder = ctx.folder.artifacts_dir(m.name, key)
        if RunFolder.done(folder / "convert.json"):
            ctx.manifests.append(Manifest.load(folder / "manifest.json"))
            clock.cached += 1
            clock.event(m.name, i + 1, total, "cached")
            continue
        from ..convert.api import convert

        info = {"name": m.name, "family": FAMILY_NAME if m.width is not None else "user",
                "width": m.width, "recipe": m.recipe, "params": m.params, "dataset": ctx.dataset_id}
        if m.width is not None:  # the conv/dense widths, so the report can show what rounding changed
            multiple = ctx.cfg.family.channel_multiple
            info.update(family=family_label(multiple), channel_multiple=multiple,
                        channels=flat_channels(m.width, multiple))
        try:
            manifest = convert(m.path, folder, variants=list(c.variants), calibration=calib, samples=rows,
                               name=m.name, model_info=info,
                               progress=forward(ctx.progress, "convert", i, total, prefix=m.name))
        except ConversionError as err:
            clock.failed += 1
            ctx.notes.append(f"{m.name}: conversion failed: {err.message}")
            LOG.warning("%s: conversion failed: %s", m.name, err.message)
            continue
        for f in manifest.failures:
            ctx.notes.append(f"{m.name}: variant {f.variant} failed: {f.error}")
        RunFolder.mark(folder / "convert.json", {"model": m.name, "key": key,
                                                 "variants": [a.variant for a in manifest.artifacts]})
        ctx.manifests.append(manifest)
        clock.ran += 1
        clock.event(m.name, i + 1, total, ", ".join(a.variant for a in manifest.artifacts))
    return clock.finish()


def calibration_rows(ctx: StageContext) -> int:
    """How many rows of the run's calibration file calibrate (the rest measure fidelity)."""
    import numpy as np

    from ..convert.calibration import MAX_HOLDBACK

    with np.load(ctx.files["calibration"]) as z:
        n = int(z["x"].shape[0])
    return max(1, n - min(MAX_HOLDBACK, n // 4))


def dataset_label(ctx: StageContext) -> str:
    """The dataset name that ``evaluate`` records (``NAME-test:`` + the test file's hash)."""
    return f"{ctx.dataset_name}{TEST_DATASET_SUFFIX}:{sha256_file(ctx.files['test'])[:12]}"


def stage_evaluate(ctx: StageContext) -> StageTiming:
    """Top-1 of every artifact on the test split, unless the store already has it."""
    clock = StageClock("evaluate", ctx.progress)
    label = dataset_label(ctx)
    have = {(q.artifact_sha256, q.dataset) for q in ctx.store.quality(metric="top1")}
    total = len(ctx.manifests)
    clock.event("manifests", 0, total)
    for i, man in enumerate(ctx.manifests):
        runnable = [a for a in man.artifacts if a.variant != "edgetpu"]
        if all((a.sha256, label) in have for a in runnable):
            clock.cached += 1
            for a in man.artifacts:      # keep the artifacts table complete for the report
                if ctx.store.artifact(a.sha256) is None:
                    ctx.store.put_artifact(a)
            clock.event(man.path.parent.name, i + 1, total, "cached")
            continue
        from ..evaluate.api import evaluate

        try:
            recs = evaluate(man, ctx.files["test"], metric="top1", store=ctx.store,
                            dataset_name=ctx.dataset_name + TEST_DATASET_SUFFIX)
        except EdgekitError as err:
            clock.failed += 1
            ctx.notes.append(f"{man.path.parent.name}: evaluation failed: {err.message}")
            continue
        clock.ran += 1
        clock.event(man.path.parent.name, i + 1, total, " ".join(f"{r.variant} {r.value:.3f}" for r in recs))
    return clock.finish()
