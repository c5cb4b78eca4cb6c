"""``edgekit devices --check NAME``: is the device reachable, and what is it?"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Union

from ..errors import DeviceError
from .profile import DeviceProfile, get_profile
from .session import DeviceSession

__all__ = ["DeviceCheck", "check_device"]


@dataclass(frozen=True)
class DeviceCheck:
    """The answer: reachable or not (and why), the device's facts, and how long it took."""

    name: str
    reachable: bool
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reachable": self.reachable, "reason": self.reason,
                "facts": self.facts, "seconds": round(self.seconds, 3), "hint": self.hint}


def check_device(name_or_profile: Union[str, DeviceProfile],
                 profiles_dirs: Iterable[Union[str, Path]] = ()) -> DeviceCheck:
    """Connect to the device and collect its facts.

    A device that cannot be reached (refused, unauthorised, timed out, dropped) gives
    ``reachable=False`` with the reason; a broken profile raises ConfigError.
    """
    profile = name_or_profile if isinstance(name_or_profile, DeviceProfile) else \
        get_profile(name_or_profile, profiles_dirs)
    start = time.monotonic()
    with DeviceSession(profile) as session:
        try:
            facts = session.facts()
        except DeviceError as exc:
            return DeviceCheck(profile.name, False, str(exc), {}, time.monotonic() - start, exc.hint or "")
    reason = "reachable"
    if profile.runner == "edgekit-runner" and not facts.get("runtime"):
        reason = f"reachable, but {profile.python} imports no TFLite runtime"
    return DeviceCheck(profile.name, True, reason, facts, time.monotonic() - start)
