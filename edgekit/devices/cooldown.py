"""Cool down until the device is back near its idle temperature, bounded by a maximum wait.

A fixed pause is either too short (a hot phone starts the next model throttled) or wasted
(a cool one waits for nothing). The profile names which thermal zones count and the
temperature each must fall to (``cooldown_zones = ["cpu*=40", "soc*=42"]``: a shell pattern on
the zone's type, ``=`` its threshold in °C — SoC and CPU zones, not battery or skin, which
lag by minutes) and the longest wait (``cooldown_max_seconds``; phones default to 60 s).
:func:`cool_down` polls the zones once a second until every counted zone is at or below its
threshold, or the wait runs out (then the run goes ahead, logged, and its temperatures before
and after are recorded as always: the "heated" flag still tells).
"""

from __future__ import annotations

import fnmatch
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from ..errors import ConfigError

if TYPE_CHECKING:
    from .profile import DeviceProfile
    from .transports.base import Transport

log = logging.getLogger(__name__)

__all__ = ["ZoneLimit", "parse_zone_limits", "over_limit", "cool_down", "cool_down_device", "CooldownResult"]


@dataclass(frozen=True)
class ZoneLimit:
    """Zones whose type matches ``pattern`` count, and must be at or below ``max_c``."""

    pattern: str
    max_c: float


@dataclass(frozen=True)
class CooldownResult:
    """How the cool-down went: seconds waited, whether the zones got there, the last reading."""

    waited_s: float
    cooled: bool
    temps_c: dict[str, float]


def parse_zone_limits(entries: Sequence[str], where: str) -> tuple[ZoneLimit, ...]:
    """``["cpu*=40", "soc*=42.5"]`` → limits; ConfigError naming a malformed entry."""
    out = []
    for entry in entries:
        pattern, sep, value = entry.partition("=")
        try:
            limit = float(value)
        except ValueError:
            limit = float("nan")
        if not sep or not pattern.strip() or limit != limit:
            raise ConfigError(f"{where}: cooldown_zones entry {entry!r} is not PATTERN=°C",
                              hint='e.g. cooldown_zones = ["cpu*=40", "soc*=42"] (zone type pattern = °C)')
        out.append(ZoneLimit(pattern.strip(), limit))
    return tuple(out)


def over_limit(temps_c: dict[str, float], limits: Sequence[ZoneLimit]) -> dict[str, float]:
    """The counted zones hotter than their limit: ``{zone: °C above}``.

    Zones are keyed ``"thermal_zoneN:type"`` (as facts record them); a zone counts when its
    type matches a limit's pattern (the first match decides).
    """
    hot: dict[str, float] = {}
    for zone, temp in temps_c.items():
        kind = zone.split(":", 1)[-1]
        for lim in limits:
            if fnmatch.fnmatch(kind, lim.pattern):
                if temp > lim.max_c:
                    hot[zone] = round(temp - lim.max_c, 2)
                break
    return hot


def cool_down(read: Callable[[], dict[str, float]], limits: Sequence[ZoneLimit], max_seconds: float,
              device: str, poll_seconds: float = 1.0, sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.monotonic) -> Optional[CooldownResult]:
    """Wait until every counted zone is at or below its limit, at most ``max_seconds``.

    None when there is nothing to do (no limits or no wait allowed).
    """
    if not limits or max_seconds <= 0:
        return None
    start = clock()
    while True:
        temps = read()
        hot = over_limit(temps, limits)
        waited = clock() - start
        if not hot:
            return CooldownResult(round(waited, 3), True, temps)
        if waited >= max_seconds:
            log.warning("device %s: still above idle after %.0f s of cool-down (%s); measuring anyway",
                        device, waited, ", ".join(f"{z} +{d:g} °C" for z, d in hot.items()))
            return CooldownResult(round(waited, 3), False, temps)
        sleep(min(poll_seconds, max(0.0, max_seconds - waited)))


def cool_down_device(transport: "Transport", profile: "DeviceProfile") -> Optional[CooldownResult]:
    """:func:`cool_down` on a device, reading the profile's thermal zones over its transport."""
    from .facts import read_temps

    limits = parse_zone_limits(profile.cooldown_zones, f"device '{profile.name}'")
    return cool_down(lambda: read_temps(transport, profile.thermal_zones), limits, profile.cooldown_max_seconds,
                     profile.name)
