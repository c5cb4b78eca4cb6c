"""The pipeline's measure stage: every artifact on every device, or through a lab file.

An artifact is measured on a device only when the store has no ok measurement of the same
bytes (sha256) on that device with the same :class:`RunSettings`. With ``[measure] lab``,
the lab file's devices are used: the pipeline writes a derived lab file into the run folder
(the user's ``[lab]``, ``[defaults]`` and ``[[device]]`` tables, and one ``[[job]]`` with
this run's manifests on every device) and runs it with ``resume``, so an interrupted lab
run continues where it stopped.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

from ..devices.profile import absolute_device_paths
from ..errors import ConfigError, DeviceTimeout, DeviceUnreachable, EdgekitError
from ..measurement import RunSettings
from ..tomlvalues import toml_table
from .clock import StageClock, StageTiming, forward
from .context import StageContext
from .pipeline_file import PipelineConfig

LOG = logging.getLogger(__name__)


def run_settings(cfg: PipelineConfig) -> RunSettings:
    """The pipeline's measurement settings (warm, single-threaded unless configured)."""
    return cfg.measure.settings


def measure(ctx: StageContext) -> StageTiming:
    """Measure what is not measured yet; failures are noted, never fatal for the report."""
    clock = StageClock("measure", ctx.progress)
    if ctx.cfg.measure.lab:
        _measure_lab(ctx, clock)
    else:
        _measure_devices(ctx, clock)
    return clock.finish()


def _measured(ctx: StageContext, sha: str, device: str, settings: RunSettings) -> bool:
    return any(m.settings == settings for m in ctx.store.measurements(device=device, artifact_sha256=sha,
                                                                       status="ok"))


def _measure_devices(ctx: StageContext, clock: StageClock) -> None:
    from ..devices.deploy import deploy
    from ..devices.profile import get_profile

    settings = run_settings(ctx.cfg)
    plan: list[tuple[str, list[Any]]] = []
    names: dict[str, str] = {}
    for device in ctx.cfg.measure.devices:
        profile = get_profile(device, ctx.cfg.measure.profiles)
        names[device] = profile.name
        arts = [a for a in ctx.artifacts if a.variant != "edgetpu" or "edgetpu" in profile.delegates]
        todo = [a for a in arts if not _measured(ctx, a.sha256, profile.name, settings)]
        clock.cached += len(arts) - len(todo)
        plan.append((device, todo))
    total = sum(len(t) for _, t in plan)
    done = 0
    clock.event("models", 0, total or 1, f"{total} to measure, {clock.cached} cached")
    for device, todo in plan:
        if not todo:
            continue
        tpu = [a for a in todo if a.variant == "edgetpu"]
        cpu = [a for a in todo if a.variant != "edgetpu"]
        for group, s in ((cpu, settings), (tpu, _edgetpu_settings(settings))):
            if not group:
                continue
            try:
                results = deploy(group, device=device, settings=s, store=ctx.store,
                                 profiles_dirs=ctx.cfg.measure.profiles,
                                 progress=forward(ctx.progress, "measure", done, total, prefix=device))
            except EdgekitError as err:
                if isinstance(err, (DeviceUnreachable, DeviceTimeout)) and names[device] not in ctx.unreachable:
                    ctx.unreachable.append(names[device])   # the report may predict it instead
                clock.failed += len(group)
                ctx.notes.append(f"{device}: measuring failed: {err.message}"
                                 + (f" (hint: {err.hint})" if err.hint else ""))
                LOG.warning("%s: measuring failed: %s", device, err.message)
            else:
                ok = [m for m in results if m.status == "ok"]
                clock.ran += len(ok)
                clock.failed += len(results) - len(ok)
                for m in results:
                    if m.status != "ok":
                        ctx.notes.append(f"{device}: {m.artifact_name} failed: {m.error}")
            done += len(group)
    clock.event("models", total or 1, total or 1, f"{clock.ran} measured, {clock.cached} cached")


def _edgetpu_settings(s: RunSettings) -> RunSettings:
    from dataclasses import replace

    return replace(s, delegate="edgetpu")


# -- labs ---------------------------------------------------------------------------------
def check_lab(cfg: PipelineConfig) -> None:
    """Check the lab file before any work: it exists, parses, and has devices."""
    path = Path(cfg.measure.lab)
    doc = _read_lab(path)
    if not doc.get("device"):
        raise ConfigError(f"lab file '{path}' has no [[device]] entries",
                          hint="a pipeline's lab file lists the devices; the pipeline makes the jobs")


def _read_lab(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"lab file '{path}' (from [measure] lab) does not exist",
                          hint="fix [measure] lab (relative to the pipeline file), or use devices = [...]")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"lab file '{path}' is not valid TOML: {exc}", hint="fix the syntax") from exc


def derived_lab(ctx: StageContext) -> Path:
    """Write the run's lab file (the user's devices, this run's models) and return its path."""
    src = Path(ctx.cfg.measure.lab).resolve()
    doc = _read_lab(src)
    lab = dict(doc.get("lab") or {})
    lab.pop("store", None)
    lab["profiles"] = [str((src.parent / p).resolve()) for p in lab.get("profiles", [])]
    lab.setdefault("name", f"{ctx.cfg.pipeline.name}-lab")
    defaults = {**run_settings(ctx.cfg).to_dict(), **(doc.get("defaults") or {})}
    devices = [absolute_device_paths(dict(d), src.parent) for d in doc.get("device") or []]
    names = [str(d.get("name", "")) for d in devices]
    job = {"models": [str(m.path.resolve()) for m in ctx.manifests], "devices": names}
    out = ctx.folder.lab_dir() / f"{src.stem}.toml"
    text = "".join(f"[{name}]\n{toml_table(body)}\n" for name, body in (("lab", lab), ("defaults", defaults))) \
        + "".join("\n[[device]]\n" + toml_table(d) for d in devices) + "\n[[job]]\n" + toml_table(job)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


def _measure_lab(ctx: StageContext, clock: StageClock) -> None:
    if not ctx.manifests:
        return
    assert ctx.lab_loader is not None  # checked by the preflight
    path = derived_lab(ctx)
    lab = ctx.lab_loader(path, store=ctx.store, profile_dirs=ctx.cfg.measure.profiles)
    pending = [j for j in lab.jobs if not _measured(ctx, j.artifact.sha256, j.target, j.settings)
               and not _measured_on_profile(ctx, j)]
    clock.cached += len(lab.jobs) - len(pending)
    if not pending:
        clock.event("lab", 1, 1, "every job cached")
        return
    total = len(lab.jobs)
    result = lab.run(resume=True, progress=forward(ctx.progress, "measure", 0, total, prefix=lab.name))
    clock.ran += result.counts.get("done", 0)
    clock.failed += result.counts.get("failed", 0)
    for device in result.devices:  # the report may predict an unreachable device instead
        if (device.out_of_rotation or "").startswith("unreachable") and device.name not in ctx.unreachable:
            ctx.unreachable.append(device.name)
    if result.counts.get("failed"):
        ctx.notes.append(f"lab {lab.name}: {result.counts['failed']} job(s) failed; see `edgekit lab status`")


def _measured_on_profile(ctx: StageContext, job: Any) -> bool:
    if job.target_kind != "profile":
        return False
    return any(m.settings == job.settings and m.profile == job.target
               for m in ctx.store.measurements(artifact_sha256=job.artifact.sha256, status="ok"))
