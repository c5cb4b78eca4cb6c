"""Device profiles: what a device is and how to reach and measure it.

A profile is a TOML file (``device_profiles/*.toml`` shipped with edgekit, then
``~/.config/edgekit/devices/``, then ``--profiles DIR``; later ones override earlier
ones of the same name). Unknown keys are an error: a typo in a latency-relevant field
must fail loudly, not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Optional

from .transports.registry import TRANSPORTS
from ..measurement import DELEGATES
from ..errors import ConfigError
from ..tomlvalues import fits, scalar

RUNNERS = ("edgekit-runner", "benchmark_model", "benchmark_litert_model")
#: a phone's cool-down zones unless its profile names them: CPU and SoC zones (not battery, skin)
PHONE_COOLDOWN_ZONES = ("cpu*=40", "soc*=42")


@dataclass(frozen=True)
class Connection:
    """How the transport reaches the device. Which fields matter depends on the transport."""

    host: str = ""                 # ssh host, or adb-over-TCP host
    port: int = 0                  # ssh port (22) / adbd TCP port (5555)
    user: str = ""                 # ssh user
    key: str = ""                  # ssh private key path / adb RSA key path
    known_hosts: str = ""          # ssh known_hosts path ("" = ~/.ssh/known_hosts)
    insecure_accept_host_key: bool = False
    serial: str = ""               # adb serial (USB) or "host:port"
    server: str = ""               # adb server "host:port" (adb-server transport), default 127.0.0.1:5037


@dataclass(frozen=True)
class DeviceProfile:
    """A device: identity, transport, CPU topology, runner, delegates, work dir, thermal zones."""

    name: str
    description: str = ""
    kind: str = "board"            # phone | board | host | accelerator
    transport: str = "local"
    connection: Connection = field(default_factory=Connection)
    abi: str = ""                  # arm64-v8a | armeabi-v7a | aarch64 | x86_64 | auto
    os: str = "linux"              # android | linux
    soc: str = ""                  # e.g. "Snapdragon 845"
    big_cores: str = "auto"        # hex mask ("f0"), a CPU list ("4-7"), or "auto" (fastest by max freq)
    runner: str = "edgekit-runner"
    benchmark_binary: str = ""     # host path to benchmark_model for this ABI (phones)
    python: str = "python3"        # the device's interpreter, for edgekit-runner
    delegates: tuple[str, ...] = ("cpu",)
    workdir: str = "~/.cache/edgekit/work"  # private to the device user (0700, owner checked)
    thermal_zones: tuple[str, ...] = ("auto",)   # sysfs thermal zone dirs, or "auto"
    max_temp_c: float = 70.0       # health check: hotter than this is "too hot" to start a job
    runtime: str = ""              # expected runtime on the device, e.g. "tflite_runtime 2.14.0"
    edgetpu_runtime_version: int = 0  # libedgetpu runtime version (Coral), 0 = unknown/none
    paper_column: str = ""         # the paper table column of this device, e.g. "latency_ms_pixel_3xl"
    emulated: bool = False         # an emulated CPU (qemu): its measurements are flagged "emulated"
    cooldown_zones: tuple[str, ...] = ()  # zones that count for the cool-down: "type-pattern=°C" (devices/cooldown.py)
    cooldown_max_seconds: float = 0.0     # the longest cool-down wait before a run (phones: 60 unless set)
    keep_runner_s: float = 0.0     # edgekit's runner stays parked this long after a session, for the next to attach
    source: str = ""               # the file it was loaded from
    base: str = ""                 # the profile a renamed device (a lab's "pixel3-a") was made from

    def with_connection(self, **overrides: Any) -> "DeviceProfile":
        """A copy with connection fields replaced (lab files use this for several phones)."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(Connection)}
        if unknown:
            raise ConfigError(f"unknown connection field(s) {sorted(unknown)} for device '{self.name}'",
                              hint=f"valid fields: {', '.join(f.name for f in dataclasses.fields(Connection))}")
        return dataclasses.replace(self, connection=dataclasses.replace(self.connection, **overrides))

    def renamed(self, name: str) -> "DeviceProfile":
        """The same device under another name; ``profile_name`` still says what it is."""
        return dataclasses.replace(self, name=name, base=self.base or self.name)

    @property
    def profile_name(self) -> str:
        """The profile this device is (``pixel3`` for a lab's ``pixel3-a``)."""
        return self.base or self.name

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["delegates"] = list(self.delegates)
        d["thermal_zones"] = list(self.thermal_zones)
        d["cooldown_zones"] = list(self.cooldown_zones)
        return d


_TOP_FIELDS = {f.name: f for f in dataclasses.fields(DeviceProfile)}
_CONN_FIELDS = {f.name: f for f in dataclasses.fields(Connection)}
#: set by edgekit, never by a profile file
_INTERNAL_FIELDS = frozenset({"source", "base"})


_KIND_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def check_field_type(where: str, key: str, value: Any, default: Any) -> Any:
    """``value`` checked against the kind of the field's ``default`` (a list field takes strings)."""
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: '{key}' must be a list of strings, not {value!r}")
        return tuple(value)
    if not fits(value, default):
        raise ConfigError(f"{where}: '{key}' must be {_KIND_WORDS[type(default)]}, not {value!r}")
    return scalar(value, default)


def profile_from_dict(doc: dict[str, Any], source: str, name: Optional[str] = None) -> DeviceProfile:
    """Validate a profile document (the TOML's tables) and build the profile."""
    where = f"device profile {source}"
    unknown = sorted(set(doc) - (set(_TOP_FIELDS) - _INTERNAL_FIELDS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}",
            hint=f"valid keys: {', '.join(sorted(set(_TOP_FIELDS) - _INTERNAL_FIELDS))}",
        )
    kwargs: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "connection":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [connection] must be a table")
            bad = sorted(set(value) - set(_CONN_FIELDS))
            if bad:
                raise ConfigError(f"{where}: unknown [connection] key(s) {bad}",
                                  hint=f"valid keys: {', '.join(_CONN_FIELDS)}")
            kwargs["connection"] = Connection(**{
                k: check_field_type(where, f"connection.{k}", v, _CONN_FIELDS[k].default) for k, v in value.items()})
        else:
            f = _TOP_FIELDS[key]
            if f.default is not dataclasses.MISSING:
                default: Any = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = ""
            kwargs[key] = check_field_type(where, key, value, default)
    kwargs.setdefault("name", name or "")
    if kwargs.get("kind") == "phone":   # phones heat up: never a zero cool-down by default
        kwargs.setdefault("cooldown_max_seconds", 60.0)
        kwargs.setdefault("cooldown_zones", PHONE_COOLDOWN_ZONES)
    if not kwargs["name"]:
        raise ConfigError(f"{where}: no 'name'")
    prof = DeviceProfile(source=source, **kwargs)
    check_profile_values(where, prof)
    return prof


def check_profile_values(where: str, p: DeviceProfile) -> None:
    """Raise ConfigError naming ``where`` for a field value the profile cannot have."""
    def choice(key: str, value: str, allowed: Iterable[str]) -> None:
        if value not in allowed:
            raise ConfigError(f"{where}: {key} = {value!r} is not one of {', '.join(allowed)}")

    choice("transport", p.transport, TRANSPORTS)
    choice("runner", p.runner, RUNNERS)
    choice("os", p.os, ("android", "linux"))
    choice("kind", p.kind, ("phone", "board", "host", "accelerator"))
    for d in p.delegates:
        choice("delegates", d, DELEGATES)
    from .cooldown import parse_zone_limits

    parse_zone_limits(p.cooldown_zones, where)
    if p.cooldown_max_seconds < 0:
        raise ConfigError(f"{where}: cooldown_max_seconds = {p.cooldown_max_seconds:g} is negative",
                          hint="0 turns the cool-down off")
    if p.keep_runner_s < 0 or p.keep_runner_s > 86400:
        raise ConfigError(f"{where}: keep_runner_s = {p.keep_runner_s:g} is not between 0 and 86400 seconds",
                          hint="0 ends the runner with its session; e.g. 600 keeps it parked for 10 minutes")
    if p.keep_runner_s > 0 and p.runner != "edgekit-runner":
        raise ConfigError(f"{where}: keep_runner_s applies to edgekit's runner, not {p.runner}",
                          hint="remove keep_runner_s, or set runner = \"edgekit-runner\"")
    if p.transport == "ssh" and not p.connection.host:
        raise ConfigError(f"{where}: transport 'ssh' needs connection.host",
                          hint="set [connection] host (and user, port, key) or override it in the lab file")
    if not p.workdir.startswith(("/", "~/")):
        raise ConfigError(f"{where}: workdir {p.workdir!r} must be an absolute path on the device or start with '~/'",
                          hint="e.g. ~/.cache/edgekit/work on boards, /data/local/tmp/edgekit-{uid} on phones")


def load_profile_file(path: str | Path) -> DeviceProfile:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"device profile '{path}' does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"device profile '{path}' is not valid TOML: {exc}") from exc
    return profile_from_dict(doc, str(path), name=path.stem)


def profile_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    """Where profiles are looked up, lowest precedence first."""
    dirs: list[Path] = []
    user = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "edgekit" / "devices"
    dirs.append(user)
    env = os.environ.get("EDGEKIT_PROFILES")
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    dirs.extend(Path(p) for p in extra)
    return dirs


def load_profiles(extra_dirs: Iterable[str | Path] = ()) -> dict[str, DeviceProfile]:
    """All known profiles by name: shipped, then user, then ``extra_dirs`` (later wins)."""
    out: dict[str, DeviceProfile] = {}
    shipped = resources.files("edgekit.device_profiles")
    for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            try:
                doc = tomllib.loads(entry.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"shipped profile {entry.name} is not valid TOML: {exc}") from exc
            p = profile_from_dict(doc, f"edgekit/device_profiles/{entry.name}", name=entry.name[:-5])
            out[p.name] = p
    for d in profile_dirs(extra_dirs):
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                p = load_profile_file(f)
                out[p.name] = p
        elif d in [Path(x) for x in extra_dirs]:
            raise ConfigError(f"profiles folder '{d}' does not exist")
    return out


def get_profile(name: str, extra_dirs: Iterable[str | Path] = ()) -> DeviceProfile:
    """The profile called ``name``, or a ConfigError listing the known ones."""
    if name.endswith(".toml") or os.sep in name:
        return load_profile_file(name)
    profiles = load_profiles(extra_dirs)
    if name not in profiles:
        import difflib

        close = difflib.get_close_matches(name, profiles, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "run `edgekit devices` to list them"
        raise ConfigError(f"no device profile named '{name}' (known: {', '.join(sorted(profiles))})", hint=hint)
    return profiles[name]


#: the keys of a lab file's ``[[device]]`` entry that hold paths (relative to the lab file)
DEVICE_PATH_KEYS: tuple[str, ...] = ("key", "known_hosts", "benchmark_binary")


def absolute_device_paths(entry: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of a ``[[device]]`` entry with its relative paths made absolute against
    ``base`` (the lab file's folder), for a lab file written elsewhere; ``~`` paths stay."""
    return {k: (str((base / v).resolve()) if k in DEVICE_PATH_KEYS and isinstance(v, str) and v
                and not Path(v).expanduser().is_absolute() else v) for k, v in entry.items()}
