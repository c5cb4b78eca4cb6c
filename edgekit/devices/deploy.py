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
from ..errors import ConfigError, DeviceUnreachable, EdgekitError, StoreError
from ..measurement import Measurement, RunSettings
from ..progress import ProgressCallback, report
from ..store import Store, StoreArg, close_if_owned, open_store
from ..tflite.model_file import ModelFile, read_model
from .profile import DeviceProfile, get_profile
from .replicate import combine_sessions
from .session import DeviceSession
from .variant_guess import guess_variant

log = logging.getLogger(__name__)

__all__ = ["deploy", "resolve_models"]

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


def deploy(models: Union[ModelInput, Sequence[ModelInput]], device: Union[str, DeviceProfile] = "host",
           settings: Optional[RunSettings] = None, store: StoreArg = None,
           profiles_dirs: Iterable[Union[str, Path]] = (), benchmark_binary: Optional[Union[str, Path]] = None,
           progress: Optional[ProgressCallback] = None) -> list[Measurement]:
    """Check compatibility, push, run, pull, and store a Measurement per model.

    Args:
        models: ``.tflite`` path(s), Artifact(s), a Manifest, or a manifest.json path.
        device: a profile name (see ``edgekit devices``) or a :class:`DeviceProfile`.
        settings: how to measure (default: the paper's protocol, :class:`RunSettings`).
        store: None for the default store, ``NO_STORE`` (or False) for none, a path, a
            ``postgresql://`` URL, or a ``Store`` (see :func:`edgekit.store.open_store`).
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
    try:
        return _deploy(todo, profile, settings, db, benchmark_binary, progress)
    finally:
        close_if_owned(store, db)


def _deploy(todo: list[tuple[Path, Artifact]], profile: DeviceProfile, settings: RunSettings, db: Optional[Store],
            benchmark_binary: Optional[Union[str, Path]], progress: Optional[ProgressCallback]) -> list[Measurement]:
    """Measure every model ``settings.repeat`` times, interleaved (A B A B …); store each model's
    measurement (its sessions combined) as soon as its last session is done."""
    rounds = settings.repeat
    sessions: list[list[Measurement]] = [[] for _ in todo]
    results: list[Optional[Measurement]] = [None] * len(todo)
    first_error: Optional[EdgekitError] = None
    total, done = len(todo) * rounds, 0
    report(progress, "deploy", profile.name, 0, total, "connecting")
    with DeviceSession(profile, benchmark_binary=benchmark_binary) as session:
        session.runner()  # ConfigError now (e.g. no benchmark_model binary), not once per model
        for r in range(rounds):
            for i, (path, artifact) in enumerate(todo):
                if results[i] is not None:   # failed in an earlier round
                    continue
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
                done += 1
                if error is not None:
                    first_error = first_error or error
                    m = failed_measurement(artifact, profile, settings, error, started)
                elif m.status == "ok":
                    sessions[i].append(m)
                    if r < rounds - 1:
                        report(progress, "deploy", artifact.name, done, total,
                               f"session {r + 1}/{rounds}: median {m.median_ms:.3f} ms" if m.median_ms else "")
                        continue
                    m = combine_sessions(sessions[i], settings.stability_tolerance)
                results[i] = m
                _store(db, artifact, m)
                msg = f"median {m.median_ms:.3f} ms" if m.median_ms is not None else m.status
                report(progress, "deploy", artifact.name, done, total, msg)
    out = [m for m in results if m is not None]
    if first_error is not None and all(m.status == "failed" for m in out):
        raise first_error
    return out


def _store(db: Optional[Store], artifact: Artifact, m: Measurement) -> None:
    if db is None:
        return
    try:
        db.put_artifact(artifact)
    except StoreError as err:  # keep the measurement: rescue it to a file, then stop
        raise db.rescued(err, [m]) from err
    db.add_measurement(m)  # rescues to a file by itself when the store fails


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
