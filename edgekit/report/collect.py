"""Read a results store into a typed table of candidates.

One :class:`Candidate` per (artifact, device) with an ok measurement, plus one
device-independent candidate per artifact (``device=None``) for the size × quality view.

Policy for repeated measurements of the same artifact on the same device:
``"latest"`` (default) uses the most recent ok measurement and counts the older ones
as superseded (a re-run usually means the earlier one was distrusted);
``"pooled"`` merges the samples of every ok run into one set of statistics and unions
their flags. Failed measurements are never points: they are listed apart.

Quality: for the chosen metric the dataset that covers the most artifacts is used
(ties → the most recently written); records on other datasets are not mixed in and are
reported in :attr:`ReportData.notes`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Literal, Optional, Sequence

from ..artifact import ALL_VARIANTS, Artifact, Manifest
from ..errors import ConfigError
from ..latency import candidate_fields, summarize
from ..measurement import LatencyStats, Measurement, QualityRecord
from .candidates import (_ACCURACY_METRICS, Candidate, DeviceSummary, FailedRun,  # noqa: F401 - re-exported
                         QualityScale, ReportData)
from .selection import Selection

log = logging.getLogger(__name__)

Policy = Literal["latest", "pooled"]
POLICIES: tuple[str, ...] = ("latest", "pooled")
#: the display order of variants (float first, then smaller, then accelerators)
VARIANT_ORDER: tuple[str, ...] = ALL_VARIANTS + ("tflite",)


def model_identity(artifact: Artifact, manifest_models: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """Model name, family, width, recipe and params of an artifact.

    From ``artifact.extra["model"]`` when the pipeline made it; otherwise the model's
    name comes from the manifest that lists the artifact, else the file's stem minus the
    ``_<variant>`` suffix.
    """
    info = artifact.extra.get("model") if isinstance(artifact.extra, dict) else None
    info = info if isinstance(info, dict) else {}
    name = info.get("name")
    if not name and manifest_models and artifact.sha256 in manifest_models:
        name = manifest_models[artifact.sha256]
    if not name:
        stem = Path(str(artifact.path)).stem
        suffix = f"_{artifact.variant}"
        name = stem[: -len(suffix)] if stem.endswith(suffix) and len(stem) > len(suffix) else stem
    width = info.get("width")
    params = info.get("params")
    multiple = info.get("channel_multiple")
    chans = info.get("channels")
    out: dict[str, Any] = {
        "model": str(name),
        "family": str(info.get("family") or ""),
        "width": float(width) if isinstance(width, (int, float)) and not isinstance(width, bool) else None,
        "recipe": str(info.get("recipe") or ""),
        "params": int(params) if isinstance(params, (int, float)) and not isinstance(params, bool) else None,
    }
    if isinstance(multiple, int) and not isinstance(multiple, bool):   # the paper family's channel rounding
        out["channel_multiple"] = multiple
    if isinstance(chans, list) and chans and all(isinstance(c, int) for c in chans):
        out["channels"] = tuple(chans)
    return out


def quality_scale(metric: str, values: Sequence[float]) -> QualityScale:
    """Accuracy-like metrics stored as fractions are shown as percentages."""
    accuracy_like = metric.lower().startswith(_ACCURACY_METRICS)
    if accuracy_like and values and all(0.0 <= v <= 1.0 for v in values):
        return QualityScale(metric, 100.0, "%")
    if accuracy_like:
        return QualityScale(metric, 1.0, "%")
    return QualityScale(metric, 1.0, "")


def _pick_quality(records: Sequence[QualityRecord], notes: list[str]) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Per metric: the dataset covering most artifacts → {metric: {sha: value}}, {metric: dataset}."""
    by_metric: dict[str, dict[str, dict[str, QualityRecord]]] = {}
    for r in records:
        by_metric.setdefault(r.metric, {}).setdefault(r.dataset, {})[r.artifact_sha256] = r
    values: dict[str, dict[str, float]] = {}
    chosen: dict[str, str] = {}
    for metric, datasets in by_metric.items():
        best = max(datasets, key=lambda d: (len(datasets[d]), max(r.created for r in datasets[d].values()), d))
        chosen[metric] = best
        values[metric] = {sha: rec.value for sha, rec in datasets[best].items()}
        others = sorted(d for d in datasets if d != best)
        if others:
            notes.append(f"{metric}: values on dataset {best!r} are used; records on "
                         f"{', '.join(repr(d) for d in others)} are not mixed in")
    return values, chosen


def quality_interval(record: Optional[QualityRecord]) -> dict[str, Optional[float]]:
    """The Wilson 95 % interval of an accuracy-like record (same scale as its value), or none."""
    from ..stats.proportion import wilson_interval

    if record is None or record.samples < 1 or not 0.0 <= record.value <= 1.0 \
            or not record.metric.lower().startswith(_ACCURACY_METRICS):
        return {}
    lo, hi = wilson_interval(float(record.value), int(record.samples))
    return {"quality_ci_lo": lo, "quality_ci_hi": hi}


def _merge(ok: list[Measurement], policy: str) -> tuple[Measurement, dict[str, Any], bool]:
    """The measurement that stands for an (artifact, device) pair, its latency fields, and
    whether pooling was asked for but impossible (a run kept only aggregate statistics)."""
    latest = ok[-1]
    unpoolable = False
    if policy == "pooled" and len(ok) > 1:
        if all(m.samples_us for m in ok):
            st = LatencyStats.from_samples([s for m in ok for s in m.samples_us])
            flags = tuple(dict.fromkeys(f for m in ok for f in m.flags))
            return latest, {"median_ms": st.median / 1000.0, "p10_ms": st.p10 / 1000.0,
                            "median_ci_lo_ms": None if st.median_ci_lo is None else st.median_ci_lo / 1000.0,
                            "median_ci_hi_ms": None if st.median_ci_hi is None else st.median_ci_hi / 1000.0,
                            "p90_ms": st.p90 / 1000.0, "cv": st.cv, "samples": st.count, "flags": flags,
                            "mean_ms": st.mean / 1000.0, "spread_lo_ms": st.p10 / 1000.0,
                            "spread_hi_ms": st.p90 / 1000.0}, False
        unpoolable = True
    return latest, {**candidate_fields(latest), "flags": tuple(latest.flags),
                    "sessions": tuple(dict(x) for x in latest.sessions)}, unpoolable


def _manifest_artifacts(manifests: Sequence[str | Path]) -> tuple[list[Artifact], dict[str, str], list[QualityRecord]]:
    arts: list[Artifact] = []
    names: dict[str, str] = {}
    quality: list[QualityRecord] = []
    for mp in manifests:
        m = Manifest.load(mp)
        model_name = Path(m.model).stem if m.model else ""
        for a in m.artifacts:
            arts.append(a)
            if model_name:
                names[a.sha256] = model_name
        qpath = m.folder / "quality.json"
        if qpath.is_file():
            from ..jsonio import read_json

            doc = read_json(qpath, what="quality file")
            recs = doc.get("records") or doc.get("quality") or []
            for r in recs if isinstance(recs, list) else []:
                try:
                    quality.append(QualityRecord.from_dict(r))
                except (TypeError, KeyError) as exc:
                    log.warning("ignoring a malformed record in %s: %s", qpath, exc)
    return arts, names, quality


def collect(store: Any, quality_metric: str = "top1", devices: Optional[Sequence[str]] = None,
            policy: str = "latest", manifests: Sequence[str | Path] = (),
            selection: Selection = Selection()) -> ReportData:
    """Read ``store`` (an :class:`edgekit.store.Store`) into :class:`ReportData`.

    Args:
        store: an open Store.
        quality_metric: the metric that ranks candidates (e.g. ``"top1"``).
        devices: only these devices (all devices in the store when None).
        policy: ``"latest"`` or ``"pooled"`` (see the module docstring).
        manifests: manifest.json files of earlier stages; their artifacts (and the
            quality.json beside them) complement the store, and name user models.
        selection: which artifacts and measurements to show (default: all artifacts,
            1-thread measurements; see :mod:`edgekit.report.selection`).

    Raises:
        ConfigError: empty store, unknown device or policy, a metric nobody recorded.
    """
    if policy not in POLICIES:
        raise ConfigError(f"measurement policy {policy!r} is not one of {', '.join(POLICIES)}")
    notes: list[str] = []
    extra_arts, manifest_models, extra_quality = _manifest_artifacts(manifests)
    artifacts: dict[str, Artifact] = {a.sha256: a for a in extra_arts}
    artifacts.update({a.sha256: a for a in store.artifacts()})
    artifacts = {s: a for s, a in artifacts.items()
                 if selection.keeps_artifact(a, model_identity(a, manifest_models)["model"])}
    if not artifacts:
        if selection.describe():
            raise ConfigError(f"store '{store.location}' has no artifacts matching {'; '.join(selection.describe())}",
                              hint="check the selection (--run, --lab-run, --model, --variant)")
        raise ConfigError(f"store '{store.location}' has no artifacts",
                          hint="run `edgekit convert` / `edgekit evaluate` / `edgekit deploy` first, "
                               "or pass the --store of a real run")

    records = extra_quality + store.quality()
    metrics_available = sorted({r.metric for r in records})
    quality_by_metric, datasets = _pick_quality(records, notes)
    if records and quality_metric not in quality_by_metric:
        raise ConfigError(f"no quality records for metric {quality_metric!r} in store '{store.location}'",
                          hint=f"metrics in the store: {', '.join(metrics_available)}; pass --quality one of them")
    if not records:
        notes.append("no quality records: run `edgekit evaluate` to rank models by quality")
    chosen = quality_by_metric.get(quality_metric, {})
    chosen_records = {r.artifact_sha256: r for r in records
                      if r.metric == quality_metric and r.dataset == datasets.get(quality_metric)}
    scale = quality_scale(quality_metric, list(chosen.values()))

    selected = (selection.artifacts, selection.models, selection.variants) != (None, None, None)
    all_meas = [m for m in store.measurements() if m.artifact_sha256 in artifacts or not selected]
    other_threads = [m for m in all_meas if not selection.keeps_measurement(m) and
                     (selection.measurement_ids is None or m.id in selection.measurement_ids)]
    if other_threads and selection.threads is not None:
        notes.append(f"{len(other_threads)} measurement(s) with another thread count than {selection.threads} are "
                     f"not compared (pass threads={other_threads[0].settings.threads} to see them)")
    all_meas = [m for m in all_meas if selection.keeps_measurement(m)]
    store_devices = sorted({m.device for m in all_meas})
    if devices:
        unknown = [d for d in devices if d not in store_devices]
        if unknown:
            raise ConfigError(
                f"device(s) {', '.join(repr(d) for d in unknown)} have no measurements in store '{store.location}'",
                hint=f"devices in the store: {', '.join(store_devices) or 'none (run `edgekit deploy`)'}")
        wanted = list(dict.fromkeys(devices))
    else:
        wanted = store_devices
    meas = [m for m in all_meas if m.device in wanted]

    # Artifacts measured but not in the store's artifacts table: describe them from the measurement.
    for m in meas:
        if m.artifact_sha256 not in artifacts:
            artifacts[m.artifact_sha256] = Artifact(
                path=Path(m.artifact_name + ".tflite"), sha256=m.artifact_sha256, size_bytes=m.size_bytes,
                variant=m.artifact_variant or "tflite", inputs=(), outputs=(), ops=())
            notes.append(f"artifact {m.artifact_name} ({m.artifact_sha256[:12]}) is measured but not in the "
                         "artifacts table; described from its measurement")

    def base(a: Artifact) -> dict[str, Any]:
        ident = model_identity(a, manifest_models)
        return dict(artifact_sha256=a.sha256, artifact_name=a.name, variant=a.variant, size_bytes=a.size_bytes,
                    quality=chosen.get(a.sha256), **quality_interval(chosen_records.get(a.sha256)),
                    qualities={k: v[a.sha256] for k, v in quality_by_metric.items() if a.sha256 in v},
                    **ident)

    order = {v: i for i, v in enumerate(VARIANT_ORDER)}

    def sort_key(c: Candidate) -> tuple[Any, ...]:
        return (c.family, c.width if c.width is not None else math.inf, c.model, c.recipe,
                order.get(c.variant, len(order)), c.variant, c.device or "")

    models = sorted((Candidate(**base(a)) for a in artifacts.values()), key=sort_key)

    groups: dict[tuple[str, str, str], list[Measurement]] = {}
    failed: list[FailedRun] = []
    for m in meas:
        if m.status == "ok" and summarize(m) is not None:
            groups.setdefault((m.artifact_sha256, m.device, m.settings.delegate), []).append(m)
        else:
            ident = base(artifacts[m.artifact_sha256])
            failed.append(FailedRun(m.artifact_sha256, ident["artifact_name"], ident["model"], ident["variant"],
                                    m.device, m.error or f"status {m.status!r} with no samples",
                                    m.finished_at or m.started_at, m.id))

    candidates: list[Candidate] = []
    superseded = 0
    for (sha, device, delegate), ok in groups.items():
        ok.sort(key=lambda m: (m.finished_at or m.started_at))
        chosen_m, lat, unpoolable = _merge(ok, policy)
        if policy == "latest" or unpoolable:
            superseded += len(ok) - 1
        if unpoolable:
            notes.append(f"{chosen_m.artifact_name} on {device}: some runs kept only aggregate statistics "
                         "(no per-run samples), so they cannot be pooled; the latest run is used")
        candidates.append(Candidate(**base(artifacts[sha]), device=device, runs=len(ok),
                                    measurement_id=chosen_m.id, measured_at=chosen_m.finished_at,
                                    threads=chosen_m.settings.threads, delegate=delegate, **lat))
    candidates.sort(key=sort_key)
    if superseded:
        notes.append(f"{superseded} older ok measurement(s) superseded by a later run of the same model on the "
                     "same device (the latest ok run is used; policy 'pooled' merges runs' samples)")

    summaries: dict[str, DeviceSummary] = {}
    for d in wanted:
        dm = [m for m in meas if m.device == d]
        latest = max(dm, key=lambda m: m.finished_at or m.started_at)
        ok_latest = [m for m in dm if m.status == "ok"]
        src = max(ok_latest, key=lambda m: m.finished_at or m.started_at) if ok_latest else latest
        summaries[d] = DeviceSummary(
            name=d, profile=src.profile, runner=src.runner, runner_version=src.runner_version,
            facts=dict(src.facts), ok=len(ok_latest), failed=len(dm) - len(ok_latest),
            flagged=sum(1 for c in candidates if c.device == d and c.flagged),
            threads=tuple(sorted({m.settings.threads for m in ok_latest})))
    if not meas:
        notes.append("no latency measurements: this report ranks models by size × quality only; "
                     "run `edgekit deploy` to measure them on a device")
    return ReportData(store_path=store.location, metric=quality_metric, dataset=datasets.get(quality_metric, ""),
                      scale=scale, policy=policy, models=models, candidates=candidates, failed=failed,
                      devices=summaries, measurements_total=len(meas), superseded=superseded,
                      metrics_available=metrics_available, notes=notes,
                      artifact_paths={sha: str(a.path) for sha, a in artifacts.items()})
