"""Where a lab run came from: the CI commit and branch, recorded as a ``run-meta`` event.

The farm's tables have no column for them, so :func:`record_run_meta` appends one event
(kind ``run-meta``, no job, no device) when a controller starts a run; the dashboard
(:mod:`edgekit.farm.dashboard`) labels each run of a latency trend with it.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional

from ..store import Store
from .events import log_event

KIND = "run-meta"

#: label → the environment variables that carry it, first found wins (edgekit's own first,
#: then GitHub Actions, GitLab CI, Buildkite, CircleCI, Jenkins, Azure Pipelines)
CI_VARIABLES: dict[str, tuple[str, ...]] = {
    "commit": ("EDGEKIT_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "CIRCLE_SHA1", "GIT_COMMIT",
               "BUILD_SOURCEVERSION"),
    "branch": ("EDGEKIT_BRANCH", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILDKITE_BRANCH",
               "CIRCLE_BRANCH", "GIT_BRANCH", "BUILD_SOURCEBRANCHNAME"),
    "ci_run": ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILDKITE_BUILD_NUMBER", "CIRCLE_BUILD_NUM", "BUILD_NUMBER",
               "BUILD_BUILDID"),
}


def ci_labels(environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """``{"commit": …, "branch": …, "ci_run": …}`` from the CI's environment (only those present)."""
    env = os.environ if environ is None else environ
    out = {}
    for label, names in CI_VARIABLES.items():
        value = next((env[n].strip() for n in names if env.get(n, "").strip()), None)
        if value:
            out[label] = value
    return out


def record_run_meta(store: Store, run_key: str, environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """Append the ``run-meta`` event of ``run_key`` (its CI labels); returns the labels."""
    labels = ci_labels(environ)
    log_event(store, KIND, {"run": run_key, **labels})
    return labels
