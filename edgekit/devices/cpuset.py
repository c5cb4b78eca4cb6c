"""CPU sets as profiles write them: a hex mask (``f0``, as ``taskset`` takes it), a list
(``4-7``, ``4,5,6,7``) or ``auto`` (pick the fastest core on the device)."""

from __future__ import annotations

from typing import Optional, Sequence

from ..errors import ConfigError

__all__ = ["parse_cpu_set", "to_mask", "to_list"]


def parse_cpu_set(spec: str, where: str = "big_cores") -> Optional[list[int]]:
    """The CPUs of ``spec``; None for ``auto``.

    A spec with ``-`` or ``,`` is a list; anything else is a hex mask (``taskset``'s
    convention: ``80`` is CPU 7, ``f0`` CPUs 4–7, ``0x3`` CPUs 0–1).
    """
    text = (spec or "").strip().lower()
    if text in ("", "auto"):
        return None
    try:
        if "-" in text or "," in text:
            cpus: set[int] = set()
            for part in text.split(","):
                part = part.strip()
                if "-" in part:
                    lo, hi = part.split("-", 1)
                    cpus.update(range(int(lo), int(hi) + 1))
                elif part:
                    cpus.add(int(part))
            out = sorted(cpus)
        else:
            mask = int(text[2:] if text.startswith("0x") else text, 16)
            out = [i for i in range(mask.bit_length()) if mask >> i & 1]
    except ValueError:
        raise ConfigError(f"{where} = {spec!r} is not a hex mask (f0), a CPU list (4-7) or 'auto'") from None
    if not out:
        raise ConfigError(f"{where} = {spec!r} selects no CPU")
    return out


def to_mask(cpus: Sequence[int]) -> str:
    """``[4, 5, 6, 7]`` → ``"f0"`` (for ``taskset``)."""
    return format(sum(1 << c for c in cpus), "x")


def to_list(cpus: Sequence[int]) -> str:
    """``[4, 5, 6, 7]`` → ``"4,5,6,7"`` (for the runner's ``--cpu``)."""
    return ",".join(str(c) for c in sorted(cpus))
