"""Whether a device can run a model: its custom ops, the device's runtime, this host's runtime,
the Edge TPU (delegate and runtime version), the delegate, and the runtime's operator versions."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Optional

from ..artifact import Artifact
from ..errors import ConfigError, MeasurementError, RuntimeIncompatible
from ..measurement import RunSettings
from ..tflite.model_file import ModelFile
from .compat import raise_if_incompatible
from .custom_ops import raise_if_custom_ops

if TYPE_CHECKING:
    from .session import DeviceSession

__all__ = ["check_model"]


def check_model(session: "DeviceSession", model_file: ModelFile, settings: RunSettings,
                artifact: Optional[Artifact] = None) -> RunSettings:
    """Refuse models ``session``'s device cannot run; returns the settings to use (the Edge TPU
    delegate for an Edge TPU model)."""
    raise_if_custom_ops(model_file, session.name)  # from the flatbuffer alone, before the device is asked
    facts = session.facts()
    if session.profile.runner == "edgekit-runner" and not facts.get("runtime"):
        raise MeasurementError(
            f"device '{session.name}': {session.profile.python} imports no TFLite runtime "
            f"({facts.get('runtime_error') or '; '.join(facts.get('errors') or []) or 'unknown reason'})",
            hint="install one on the device: pip install ai-edge-litert (or tflite-runtime), "
                 "or set `python` in the profile to an interpreter that has it")
    from .host_runtime import check_host_runtime

    check_host_runtime(session.profile, facts)  # this host: the runtime `evaluate` uses, or refuse
    if model_file.is_edgetpu:
        if "edgetpu" not in session.profile.delegates:
            raise RuntimeIncompatible(f"'{model_file.path.name}' is an EdgeTPU model and device '{session.name}' "
                                      "has no Edge TPU", hint="measure the int8 variant here, or pick a Coral device")
        from ..edgetpu.runtime import check_runtime
        from ..edgetpu.variant import recorded_runtime_version

        # the version the model needs is read from its Edge TPU package (the manifest's record
        # is the fallback); 0 on the device side means unknown, and is not checked
        from ..edgetpu.runtime import device_runtime_version

        # the device's libedgetpu (read into its facts) decides; the profile's value is the fallback
        runtime_version, _ = device_runtime_version(facts, session.profile.edgetpu_runtime_version)
        check_runtime(model_file, runtime_version, session.name,
                      recorded=recorded_runtime_version(artifact) if artifact else None)
        if settings.delegate != "edgetpu":
            settings = dataclasses.replace(settings, delegate="edgetpu")
    elif settings.delegate not in session.profile.delegates and not settings.delegate.endswith(".so") \
            and not (settings.delegate == "cpu" and "xnnpack" in session.profile.delegates):
        raise ConfigError(f"device '{session.name}' has no delegate {settings.delegate!r} "
                          f"(it has: {', '.join(session.profile.delegates)})",
                          hint="pick one of those with --delegate, or add it to the profile")
    raise_if_incompatible(model_file, str(facts.get("runtime") or ""), str(facts.get("runtime_version") or ""),
                          session.name)
    return settings
