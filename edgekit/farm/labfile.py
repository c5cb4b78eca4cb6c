"""Lab files: which devices a lab has and which models to measure on them.

A lab file is TOML::

    [lab]
    name = "nightly"
    store = ".edgekit/results.sqlite"   # optional, relative to the lab file (or a postgresql:// URL)
    profiles = ["profiles"]             # extra device-profile folders, relative to the lab file
    cooldown_seconds = 2                # pause between two jobs on one device
    retries = 2                         # extra attempts after a transport error
    backoff_seconds = 1                 # first retry delay; doubles each time
    lease_seconds = 120                 # device and job leases; renewed while a job runs
    unhealthy_seconds = 300             # a busy / too hot device rests this long at most
    check_load = true                   # false: ignore "busy" (devices that share a CPU)
    health_check_seconds = 10           # skip the check right after a good job this recent
    gate_aggregate_only = "fail"        # a job the gate cannot judge (aggregate-only, no spread): fail | pass

    [defaults]                          # RunSettings fields for every job
    runs = 50

    [[device]]
    name = "pixel3-a"
    profile = "pixel3"
    serial = "8XV7N18A1"                # Connection fields override the profile's, and
    transport = "adb-server"            # transport and benchmark_binary may too
    server = "lab-host-1:5037"

    [[job]]
    models = ["out/manifest.json"]      # .tflite paths, globs, manifests (or their folders)
    variants = ["int8"]                 # optional: only these variants of manifests
    devices = ["pixel3"]                # device names, or profile names (any device of it)
    runs = 100                          # per-job RunSettings overrides
    baseline = "old/model.tflite"       # optional: an A/B job, see edgekit.farm.interleave

Everything is validated before anything runs: every mistake is one :class:`ConfigError`
naming the file, the entry and the value, with a hint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from ..artifact import Artifact
from ..devices.profile import (TRANSPORTS, Connection, DeviceProfile, check_field_type, check_profile_values,
                               load_profiles)
from ..errors import ConfigError
from ..measurement import SETTING_FIELDS, RunSettings, settings_from_mapping
from .joblabels import job_labels
from .labmodels import ab_settings, resolve_baselines, resolve_models

_LAB_KEYS = {
    "name": str, "store": str, "profiles": list, "cooldown_seconds": float, "retries": int,
    "backoff_seconds": float, "lease_seconds": float, "unhealthy_seconds": float, "check_load": bool,
    "health_check_seconds": float, "gate_aggregate_only": str,
}
_CONN_FIELDS = {f.name: f for f in dataclasses.fields(Connection)}
_SETTINGS_FIELDS = SETTING_FIELDS
_JOB_KEYS = {"models", "devices", "variants", "baseline"}


@dataclass(frozen=True)
class LabDevice:
    """One physical device of the lab: its name and its profile with connection overrides."""

    name: str
    profile: DeviceProfile

    @property
    def key(self) -> str:
        """What identifies the physical device (leases are taken on this)."""
        return device_key(self.profile)


@dataclass(frozen=True)
class PlannedJob:
    """One artifact measured on one target (a device name or a profile) with one setting.

    ``key`` is stable for the same lab name, artifact bytes, target and settings; the
    store's job id adds the run number to it (:func:`job_id`).
    """

    key: str
    position: int
    artifact: Artifact
    target: str
    target_kind: str          # "device" | "profile"
    profile: str              # the profile every device of the target has
    settings: RunSettings
    label: str = ""           # the job's name in reports and JUnit, unique in the lab
    baseline: Optional[Artifact] = None   # measured in the same job, interleaved (A/B job)


@dataclass(frozen=True)
class LabFile:
    """A validated lab file."""

    path: Path
    name: str
    store: Optional[Path | str]         # a path (relative ones resolved), or a store URL as written
    cooldown_seconds: float
    retries: int
    backoff_seconds: float
    lease_seconds: float
    unhealthy_seconds: float
    check_load: bool
    health_check_seconds: float
    devices: tuple[LabDevice, ...]
    jobs: tuple[PlannedJob, ...]
    gate_aggregate_only: str = "fail"

    def devices_for(self, job: PlannedJob) -> list[LabDevice]:
        """The lab devices that may run ``job``."""
        return [d for d in self.devices if serves(d, job.target, job.target_kind)]


def serves(device: LabDevice, target: str, target_kind: str) -> bool:
    """Whether ``device`` may run a job aimed at ``target``."""
    if target_kind == "device":
        return device.name == target
    return device.profile.name == target


def device_key(profile: DeviceProfile) -> str:
    """A stable identity of the physical device behind a profile and its connection."""
    from ..devices.transports.factory import transport_address

    return transport_address(profile)


def job_key(lab: str, artifact_sha256: str, target: str, settings: RunSettings,
            baseline_sha256: Optional[str] = None) -> str:
    """What a job is, independent of the run: lab name, artifact bytes, target, settings (, baseline)."""
    doc = json.dumps([lab, artifact_sha256, target, settings.to_dict()] + [baseline_sha256] * bool(baseline_sha256),
                     sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:24]


def job_id(run_key: str, key: str) -> str:
    """The store's id of job ``key`` in run ``run_key``: re-loading a lab gives the same ids."""
    return hashlib.sha256(f"{run_key}\0{key}".encode()).hexdigest()[:24]


def load_lab(path: str | Path, profile_dirs: Iterable[str | Path] = ()) -> LabFile:
    """Read and validate a lab file; resolve its devices, models and jobs.

    Args:
        path: the lab file.
        profile_dirs: extra device-profile folders, besides the lab file's ``[lab] profiles``.

    Raises:
        ConfigError: for the first problem found, before anything runs.
    """
    path = Path(path)
    doc = _read_toml(path)
    where = f"lab file '{path}'"
    unknown = sorted(set(doc) - {"lab", "defaults", "device", "job"})
    if unknown:
        raise ConfigError(f"{where}: unknown table(s) {unknown}",
                          hint="a lab file has [lab], [defaults], [[device]] and [[job]]")
    base = path.parent
    lab = _table(doc, "lab", where)
    _check_keys(lab, _LAB_KEYS, f"{where} [lab]")
    name = _typed(lab.get("name", path.stem), str, f"{where} [lab] name")
    if not name:
        raise ConfigError(f"{where}: [lab] name is empty", hint="give the lab a name")
    dirs = [base / d for d in _str_list(lab.get("profiles", []), f"{where} [lab] profiles")]
    for d in dirs:
        if not d.is_dir():
            raise ConfigError(f"{where}: profiles folder '{d}' does not exist",
                              hint="fix [lab] profiles (paths are relative to the lab file)")
    profiles = load_profiles([*dirs, *profile_dirs])
    store = lab.get("store")
    defaults = _table(doc, "defaults", where)
    settings = _settings(RunSettings(), defaults, f"{where} [defaults]")
    devices = _devices(doc.get("device", []), profiles, base, where)
    jobs = _jobs(doc.get("job", []), devices, settings, base, where, name)
    gate = lab.get("gate_aggregate_only", "fail")
    if gate not in ("fail", "pass"):
        raise ConfigError(f"{where}: [lab] gate_aggregate_only = {gate!r} is not valid", hint="one of: fail, pass")
    return LabFile(
        path=path, name=name,
        store=(s if "://" in (s := _typed(store, str, f"{where} [lab] store")) else base / s) if store else None,
        cooldown_seconds=_number(lab.get("cooldown_seconds", 0.0), f"{where} [lab] cooldown_seconds"),
        retries=_count(lab.get("retries", 2), f"{where} [lab] retries"),
        backoff_seconds=_number(lab.get("backoff_seconds", 1.0), f"{where} [lab] backoff_seconds"),
        lease_seconds=_positive(lab.get("lease_seconds", 120.0), f"{where} [lab] lease_seconds"),
        unhealthy_seconds=_number(lab.get("unhealthy_seconds", 300.0), f"{where} [lab] unhealthy_seconds"),
        check_load=_typed(lab.get("check_load", True), bool, f"{where} [lab] check_load"),
        health_check_seconds=_number(lab.get("health_check_seconds", 10.0), f"{where} [lab] health_check_seconds"),
        devices=tuple(devices), jobs=tuple(jobs),
        gate_aggregate_only=gate,
    )


# -- parts ------------------------------------------------------------------------------

def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"lab file '{path}' does not exist", hint="check the path")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"lab file '{path}' is not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"lab file '{path}' is not valid TOML: {exc}",
                          hint="fix the syntax at that line and column") from exc


def _devices(entries: Any, profiles: dict[str, DeviceProfile], base: Path, where: str) -> list[LabDevice]:
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: no [[device]] entries", hint="list the lab's devices as [[device]] tables")
    devices: list[LabDevice] = []
    by_name: dict[str, LabDevice] = {}
    by_key: dict[str, LabDevice] = {}
    for i, entry in enumerate(entries, 1):
        here = f"{where} [[device]] #{i}"
        _check_keys(entry, {"name": str, "profile": str, "transport": str, "benchmark_binary": str,
                            "keep_runner_s": object, **{k: object for k in _CONN_FIELDS}}, here)
        name = _typed(entry.get("name"), str, f"{here} name")
        pname = _typed(entry.get("profile"), str, f"{here} ('{name}') profile")
        if not name or not pname:
            raise ConfigError(f"{here}: needs both 'name' and 'profile'")
        if name in by_name:
            raise ConfigError(f"{where}: duplicate device name '{name}' ([[device]] #{i})",
                              hint="give every device its own name")
        if pname not in profiles:
            import difflib

            close = difflib.get_close_matches(pname, profiles, n=3)
            raise ConfigError(
                f"{here}: device '{name}' has unknown profile '{pname}' (known: {', '.join(sorted(profiles))})",
                hint=(f"did you mean {', '.join(close)}? " if close else "")
                + "add a profile folder with [lab] profiles = [\"dir\"]")
        overrides = {}
        for key, spec in _CONN_FIELDS.items():
            if key in entry:
                overrides[key] = check_field_type(f"{here} ('{name}')", key, entry[key], spec.default)
        for key in ("key", "known_hosts"):
            if overrides.get(key) and not Path(overrides[key]).expanduser().is_absolute():
                overrides[key] = str(base / overrides[key])
        profile = profiles[pname]
        changes: dict[str, Any] = {"connection": dataclasses.replace(profile.connection, **overrides)}
        if "transport" in entry:
            changes["transport"] = _typed(entry["transport"], str, f"{here} ('{name}') transport")
            if changes["transport"] not in TRANSPORTS:
                raise ConfigError(f"{here}: device '{name}' has transport {changes['transport']!r}, not one of "
                                  f"{', '.join(TRANSPORTS)}")
        if "benchmark_binary" in entry:
            binary = base / _typed(entry["benchmark_binary"], str, f"{here} ('{name}') benchmark_binary")
            if not binary.is_file():
                raise ConfigError(f"{here}: device '{name}': benchmark_binary '{binary}' does not exist",
                                  hint="build or download benchmark_model for the phone's ABI; "
                                  "paths are relative to the lab file")
            changes["benchmark_binary"] = str(binary)
        if "keep_runner_s" in entry:
            changes["keep_runner_s"] = float(check_field_type(f"{here} ('{name}')", "keep_runner_s",
                                                              entry["keep_runner_s"], 0.0))
        profile = dataclasses.replace(profile, **changes)
        if "keep_runner_s" in entry:
            check_profile_values(f"{here} ('{name}')", profile)
        if profile.transport == "ssh" and not profile.connection.host:
            raise ConfigError(f"{here}: device '{name}' (ssh) has no host",
                              hint="set host = \"…\" on the device or in its profile")
        dev = LabDevice(name, profile)
        if dev.key in by_key:
            raise ConfigError(
                f"{where}: devices '{by_key[dev.key].name}' and '{name}' are the same device ({dev.key})",
                hint="each [[device]] must reach a different physical device")
        by_name[name] = by_key[dev.key] = dev
        devices.append(dev)
    return devices


def _jobs(entries: Any, devices: list[LabDevice], defaults: RunSettings, base: Path, where: str,
          lab: str) -> list[PlannedJob]:
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: no [[job]] entries", hint="add [[job]] tables with models and devices")
    names = {d.name: d for d in devices}
    used_profiles = {d.profile.name: d for d in devices}
    jobs: dict[str, PlannedJob] = {}
    artifacts: dict[Path, list[Artifact]] = {}
    for i, entry in enumerate(entries, 1):
        here = f"{where} [[job]] #{i}"
        _check_keys(entry, {"models": list, "devices": list, "variants": list, "baseline": object,
                            **{k: object for k in _SETTINGS_FIELDS}}, here)
        models = _str_list(entry.get("models"), f"{here} models")
        targets = _str_list(entry.get("devices"), f"{here} devices")
        if not models:
            raise ConfigError(f"{here}: names no model", hint="set models = [\"model.tflite\", …]")
        if not targets:
            raise ConfigError(f"{here}: names no device",
                              hint=f"set devices = [...] to device names ({', '.join(names)}) "
                              f"or profiles ({', '.join(used_profiles)})")
        variants = _str_list(entry.get("variants", []), f"{here} variants")
        settings = _settings(defaults, {k: v for k, v in entry.items() if k in _SETTINGS_FIELDS}, here)
        baselines = resolve_baselines(entry.get("baseline"), models, variants, base, here, artifacts)
        if any(baselines):
            settings = ab_settings(settings, "repeat" in entry, here)
        resolved: list[tuple[str, str, DeviceProfile]] = []
        for t in targets:
            if t in names:
                resolved.append((t, "device", names[t].profile))
            elif t in used_profiles:
                resolved.append((t, "profile", used_profiles[t].profile))
            else:
                raise ConfigError(
                    f"{here}: '{t}' is neither a device nor the profile of a device in this lab",
                    hint=f"devices: {', '.join(names)}; profiles: {', '.join(sorted(used_profiles))}")
        for _, _, prof in resolved:
            if settings.delegate not in prof.delegates:
                raise ConfigError(f"{here}: delegate '{settings.delegate}' is not offered by profile "
                                  f"'{prof.name}' (it has {', '.join(prof.delegates)})",
                                  hint="pick one of the profile's delegates, or another device")
        for model, pick_baseline in zip(models, baselines):
            for art in resolve_models(model, variants, base, here, artifacts):
                ref = pick_baseline(art) if pick_baseline else None
                for target, kind, prof in resolved:
                    key = job_key(lab, art.sha256, target, settings, ref.sha256 if ref else None)
                    if key not in jobs:
                        jobs[key] = PlannedJob(key, len(jobs), art, target, kind, prof.name, settings,
                                               baseline=ref)
    return job_labels(list(jobs.values()))


# -- value checks -----------------------------------------------------------------------

def _table(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _check_keys(entry: Any, allowed: dict[str, Any], where: str) -> None:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        import difflib

        guesses = [m for k in unknown for m in difflib.get_close_matches(k, allowed, n=1)]
        raise ConfigError(f"{where}: unknown key(s) {unknown}",
                          hint=(f"did you mean {', '.join(guesses)}? " if guesses else "")
                          + f"valid keys: {', '.join(sorted(allowed))}")


def _typed(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise ConfigError(f"{where} must be a {kind.__name__}, not {value!r}")
    return value


def _str_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings, not {value!r}")
    return list(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{where} must be a number ≥ 0, not {value!r}")
    return float(value)


def _positive(value: Any, where: str) -> float:
    v = _number(value, where)
    if v <= 0:
        raise ConfigError(f"{where} must be > 0, not {value!r}")
    return v


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where} must be an integer ≥ 0, not {value!r}")
    return value


def _settings(base: RunSettings, overrides: dict[str, Any], where: str) -> RunSettings:
    return settings_from_mapping(overrides, where, base)
