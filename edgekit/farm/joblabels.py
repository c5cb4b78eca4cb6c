"""What a lab job is called: ``model[variant] on target``, unique in the lab file."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..measurement import RunSettings

if TYPE_CHECKING:
    from .labfile import PlannedJob


def job_labels(jobs: list[PlannedJob]) -> list[PlannedJob]:
    """Name each job ``model[variant] on target``, with threads and delegate when they are not
    1 and cpu, and the other settings that tell apart jobs that would share a name."""
    groups: dict[str, list[PlannedJob]] = {}
    for j in jobs:
        groups.setdefault(job_label(j.artifact.name, j.artifact.variant, j.target, j.settings), []).append(j)
    out = []
    for base, group in groups.items():
        dicts = [{**j.settings.to_dict(), **({"baseline": j.baseline.name} if j.baseline else {})} for j in group]
        differ = [k for k in dict.fromkeys(k for d in dicts for k in d)
                  if len({repr(d.get(k)) for d in dicts}) > 1]
        for j, d in zip(group, dicts):
            extra = ", ".join(f"{k}={d.get(k)}" for k in differ)
            label = base[:-1] + f", {extra})" if extra and base.endswith(")") else \
                base + (f" ({extra})" if extra else "")
            out.append(dataclasses.replace(j, label=label))
    return sorted(out, key=lambda j: j.position)


def job_label(model: str, variant: str, target: str, settings: RunSettings) -> str:
    """``model[variant] on target``, plus threads and delegate when they are not 1 and cpu."""
    extra = [f"threads={settings.threads}"] * (settings.threads != 1)
    extra += [settings.delegate] * (settings.delegate != "cpu")
    return f"{model}[{variant}] on {target}" + (f" ({', '.join(extra)})" if extra else "")
