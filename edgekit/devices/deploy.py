"""``edgekit.deploy``: measure models on one device and store every measurement.

Models can be ``.tflite`` paths, :class:`Artifact` objects, a :class:`Manifest`, or a
``manifest.json`` path (or the folder holding one) — all of its variants. Every model is
read first (a missing or corrupt file is a ConfigError before the device is touched);
then each is measured and stored as soon as it is done. A model that fails is recorded
as a failed :class:`Measurement` and the others go on; only when every model failed is the
first error raised.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from ..artifact import Artifact, Manifest
from ..errors import ConfigError, DeviceUnreachable, EdgekitError
from ..measurement import Measurement, RunSettings
from ..progress import ProgressCallback, report
from ..tflite.model_file import ModelFile, read_model
from .profile import DeviceProfile, get_profile
from .session import DeviceSession, guess_variant

log = logging.getLogger(__name__)

__all__ = ["deploy", "resolve_models", "open_store"]

ModelInput = Union[str, Path, Artifact, Manifest]


def resolve_models(models: Union[ModelInput, Sequence[ModelInput]]) -> list[tuple[Path, Artifact]]:
    """Every model to measure as ``(path, artifact)``; artifacts are built for bare files."""
    items: list[ModelInput] = list(models) if isinstance(models, (list, tuple)) else [models]  # type: ignore[arg-type]
    if not items:
        raise ConfigError("no models given", hint="pass one or more .tflite files or a manifest.json")
    out: list[tuple[Path, Artifact]] = []
    for item in items:
        if isinstance(item, Manifest):
            for a in item.artifacts:
                read_model(a.path)
                out.append((a.path, a))
        elif isinstance(item, Artifact):
            read_model(item.path)  # a missing or corrupt file fails here, clearly
            out.append((item.path, item))
        else:
            path = Path(item)
            if path.is_dir() and (path / "manifest.json").is_file() or path.suffix == ".json":
                manifest = Manifest.load(path)
                if not manifest.artifacts:
                    raise ConfigError(f"manifest '{manifest.path}' lists no artifacts",
                                      hint="run `edgekit convert` again; see its failures")
                for a in manifest.artifacts:
                    read_model(a.path)
                    out.append((a.path, a))
            else:
                mf = read_model(path)
                out.append((path, artifact_from_file(path, mf)))
    return out


def artifact_from_file(path: Path, mf: ModelFile) -> Artifact:
    """An :class:`Artifact` for a ``.tflite`` that did not come from ``edgekit convert``."""
    return Artifact(
        path=path, sha256=mf.sha256, size_bytes=mf.size_bytes, variant=guess_variant(path, mf),
        inputs=tuple(t.spec() for t in mf.inputs), outputs=tuple(t.spec() for t in mf.outputs),
        ops=mf.op_histogram, source=str(path), min_runtime_version=mf.min_runtime_version,
    )


def open_store(store: object) -> object:
    """``None`` → the default store, ``False`` → no store, a path → that store, a Store → itself."""
    if store is False:
        return None
    from ..farm.store import Store, default_store_path

    if store is None:
        return Store(default_store_path())
    if isinstance(store, (str, Path)):
        return Store(store)
    return store


def deploy(models: Union[ModelInput, Sequence[ModelInput]], device: Union[str, DeviceProfile] = "host",
           settings: Optional[RunSettings] = None, store: object = None,
           profiles_dirs: Iterable[Union[str, Path]] = (), benchmark_binary: Optional[Union[str, Path]] = None,
           progress: Optional[ProgressCallback] = None) -> list[Measurement]:
    """Check compatibility, push, run, pull, and store a Measurement per model.

    Args:
        models: ``.tflite`` path(s), Artifact(s), a Manifest, or a manifest.json path.
        device: a profile name (see ``edgekit devices``) or a :class:`DeviceProfile`.
        settings: how to measure (default: the paper's protocol, :class:`RunSettings`).
        store: None for the default store, False for none, a path, or a ``Store``.
        profiles_dirs: extra folders of profile TOML files (they win over shipped ones).
        benchmark_binary: host path of ``benchmark_model`` for phones.
        progress: a progress callback (stage ``"deploy"``).

    Returns:
        One Measurement per model, in order; failed ones have ``status == "failed"``.

    Raises:
        ConfigError: a model or the device profile is wrong (nothing was measured).
        EdgekitError: the first error, when every model failed.
    """
    settings = settings or RunSettings()
    profile = device if isinstance(device, DeviceProfile) else get_profile(device, profiles_dirs)
    todo = resolve_models(models)
    db = open_store(store)
    results: list[Measurement] = []
    first_error: Optional[EdgekitError] = None
    total = len(todo)
    report(progress, "deploy", profile.name, 0, total, "connecting")
    with DeviceSession(profile, benchmark_binary=benchmark_binary) as session:
        session.runner()  # ConfigError now (e.g. no benchmark_model binary), not once per model
        for i, (path, artifact) in enumerate(todo):
            started = time.time()
            if isinstance(first_error, DeviceUnreachable):
                error: Optional[EdgekitError] = first_error  # do not wait for the same dead link again
            else:
                error = None
                try:
                    m = session.measure(path, settings, artifact)
                except EdgekitError as exc:
                    error = exc
                    log.warning("device %s: %s failed: %s", profile.name, path.name, exc)
            if error is not None:
                first_error = first_error or error
                m = failed_measurement(artifact, profile, settings, error, started)
            if db is not None:
                db.put_artifact(artifact)  # type: ignore[attr-defined]
                db.add_measurement(m)  # type: ignore[attr-defined]
            results.append(m)
            msg = f"median {m.median_ms:.3f} ms" if m.median_ms is not None else m.status
            report(progress, "deploy", artifact.name, i + 1, total, msg)
    if first_error is not None and all(m.status == "failed" for m in results):
        raise first_error
    return results


def failed_measurement(artifact: Artifact, profile: DeviceProfile, settings: RunSettings,
                       error: EdgekitError, started: float) -> Measurement:
    """The record of a model that could not be measured (kept, so the failure is visible)."""
    text = f"{type(error).__name__}: {error}" + (f" (hint: {error.hint})" if error.hint else "")
    return Measurement(
        artifact_sha256=artifact.sha256, artifact_name=artifact.name, device=profile.name,
        profile=profile.name, runner=profile.runner, runner_version="", settings=settings,
        samples_us=(), stats=None, status="failed", error=text, started_at=started,
        finished_at=time.time(), artifact_variant=artifact.variant, size_bytes=artifact.size_bytes,
    )
