"""``edgekit.convert``: a model in, one ``.tflite`` per variant and ``manifest.json`` out.

The work, in order: check the arguments (unknown variants, missing calibration — before
anything slow), identify and hash the model, read and check the calibration data, then
convert each variant (fp32 first: it is the fidelity reference, converted even when not
asked for, but then not written to OUT), measure its fidelity on the held-back samples,
and save the manifest after every variant so a crash loses nothing already converted.
Every converted (or cached) file must load, prepare and run once in LiteRT on this host
(:mod:`.load_check`); one that does not is removed. A variant that fails is recorded in
``Manifest.failures`` (with the reason and a hint); the others still convert.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from .. import __version__
from ..artifact import ALL_VARIANTS, CALIBRATED_VARIANTS, NEEDS_CALIBRATION, VARIANTS, Artifact, Fidelity, Manifest, VariantFailure
from ..errors import ConfigError, ConversionError, EdgekitError
from ..progress import ProgressCallback, report
from .cache import CacheEntry, ConvertCache
from .calibration import CalibrationSet, CalibrationSource, prepare_calibration
from ..tflite.describe import describe_tflite
from .loading import TFLITE, LoadedModel, ModelSource, open_model
from .multi_calibration import prepare_multi_calibration
from .load_check import check_loads
from .variants import (IO_DTYPES, VariantOptions, conversion_error, convert_variant, converter_name,
                       tensorflow_version)

LOG = logging.getLogger(__name__)

#: every variant name ``convert`` accepts


def convert(model: Any, out: Union[str, Path], variants: Union[str, Sequence[str]] = VARIANTS,
            calibration: Optional[CalibrationSource] = None, samples: Optional[int] = None,
            io_dtype: Optional[str] = None, debug_quantization: bool = False, use_cache: bool = True,
            name: Optional[str] = None, model_info: Optional[dict[str, Any]] = None,
            progress: Optional[ProgressCallback] = None) -> Manifest:
    """Convert a model into LiteRT variants and describe them in ``OUT/manifest.json``.

    Args:
        model: a ``.keras``/``.h5`` file, a SavedModel folder, a ``keras.Model``, or a
            ``.tflite`` file (copied to OUT and described, not re-converted).
        out: the output folder; files are ``OUT/<name>_<variant>.tflite``.
        variants: names from ``fp32 fp16 dynamic int8 int16x8 edgetpu`` (a list or a
            comma-separated string). ``edgetpu`` also produces ``int8`` (its input).
        calibration: required for ``int8``, ``int16x8`` and ``edgetpu``: see
            :func:`edgekit.convert.calibration.prepare_calibration` for the sources, and
            :mod:`edgekit.convert.multi_calibration` for models with several inputs (a
            ``.npz`` with one key per input name, a dict, a tuple of arrays, or per-sample
            dicts/tuples). When given, it also provides the held-back samples for fidelity.
        samples: calibration samples to use; None means up to 200. Asking for more than
            the source has is an error.
        io_dtype: I/O type of the int8 variant: ``float32``, ``int8`` or ``uint8``. None
            means float32, or int8 when ``edgetpu`` is requested (the EdgeTPU needs it).
        debug_quantization: also write ``OUT/<name>_int8_debug.csv`` (per-layer error).
        use_cache: reuse converted variants from the content-addressed cache.
        name: base name of the files (default: the model file's stem or model name).
        model_info: stored in every artifact's ``extra["model"]``.
        progress: receives a ``convert`` event per variant.

    Returns:
        The manifest (also saved as ``OUT/manifest.json``).

    Raises:
        ConfigError: bad arguments or input (before any conversion).
        ConversionError: every requested variant failed (the manifest is still written).
    """
    requested = parse_variants(variants)
    io = resolve_io_dtype(io_dtype, requested)
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output folder '{out}' is a file", hint="pass a folder path with -o")
    needs_calibration = [v for v in requested if v in NEEDS_CALIBRATION]
    source = open_model(model, name)
    if source.kind == TFLITE:
        return _describe_only(source, out, model_info, progress)
    if needs_calibration and calibration is None:
        raise ConfigError(
            f"variant{'s' if len(needs_calibration) > 1 else ''} {', '.join(needs_calibration)} "
            f"need{'' if len(needs_calibration) > 1 else 's'} calibration data (a representative dataset), "
            "and none was given",
            hint="pass --calibration data.npz (or .npy, or a folder of images), or drop those variants",
        )
    if debug_quantization and not {"int8", "edgetpu"} & set(requested):
        raise ConfigError("--debug-quantization reports on the int8 variant, which was not requested",
                          hint="add int8 to --variants")
    run = _Run(source, out, requested, io, ConvertCache() if use_cache else None, model_info or {}, progress)
    try:
        run.prepare(calibration, samples)
        return run.execute(debug_quantization)
    finally:
        run.close()


def parse_variants(variants: Union[str, Iterable[str]]) -> list[str]:
    """Validate variant names (in the canonical order, without duplicates)."""
    items = variants.split(",") if isinstance(variants, str) else list(variants)
    names = [str(v).strip().lower() for v in items if str(v).strip()]
    unknown = [v for v in names if v not in ALL_VARIANTS]
    if unknown:
        raise ConfigError(f"unknown variant{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}",
                          hint=f"choose from: {', '.join(ALL_VARIANTS)}")
    if not names:
        raise ConfigError("no variants given", hint=f"choose from: {', '.join(ALL_VARIANTS)}")
    return [v for v in ALL_VARIANTS if v in names]


def resolve_io_dtype(io_dtype: Optional[str], requested: Sequence[str]) -> str:
    """The int8 variant's I/O dtype (see :func:`convert`)."""
    if io_dtype is None:
        return "int8" if "edgetpu" in requested else "float32"
    io = str(io_dtype).strip().lower()
    if io not in IO_DTYPES:
        raise ConfigError(f"unknown --io-dtype {io_dtype!r}", hint=f"choose from: {', '.join(IO_DTYPES)}")
    if io == "float32" and "edgetpu" in requested:
        raise ConfigError("the edgetpu variant needs int8 or uint8 I/O, but --io-dtype float32 was given",
                          hint="pass --io-dtype int8 (or uint8), or leave it out")
    return io


@dataclass
class _Run:
    source: ModelSource
    out: Path
    requested: list[str]
    io_dtype: str
    cache: Optional[ConvertCache]
    model_info: dict[str, Any]
    progress: Optional[ProgressCallback]
    calibration: Optional[CalibrationSet] = None
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    failures: list[VariantFailure] = field(default_factory=list)
    reference: Optional[list[np.ndarray]] = None
    reference_path: Optional[Path] = None
    reference_sha256: str = ""
    _loaded: Optional[LoadedModel] = None
    _scratch: Optional[tempfile.TemporaryDirectory] = None  # type: ignore[type-arg]
    _kept: list[Artifact] = field(default_factory=list)

    # -- setup ---------------------------------------------------------------------
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = self.source.load()
            if self.cache is not None:
                self.cache.save_model_inputs(self.source.sha256, self._loaded.inputs)
        return self._loaded

    def prepare(self, calibration: Optional[CalibrationSource], samples: Optional[int]) -> None:
        if calibration is None:
            return
        inputs = self.cache.model_inputs(self.source.sha256) if self.cache is not None else None
        if inputs is None:
            inputs = self.loaded().inputs
        if len(inputs) > 1:
            self.calibration = prepare_multi_calibration(calibration, inputs, samples)
        else:
            self.calibration = prepare_calibration(calibration, inputs[0], samples)

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()

    # -- the variants ----------------------------------------------------------------
    def plan(self) -> list[str]:
        """Variants to convert: the requested ones, int8 for edgetpu, and fp32 when it is
        needed as the fidelity reference."""
        wanted = set(self.requested)
        if self.calibration is not None and self.calibration.holdback_count:
            wanted.add("fp32")
        if "edgetpu" in wanted:
            wanted.add("int8")
        return [v for v in ALL_VARIANTS if v in wanted]

    def execute(self, debug_quantization: bool) -> Manifest:
        self._kept = self._previous_artifacts()
        plan = self.plan()
        report(self.progress, "convert", plan[0], 0, len(plan))
        for i, variant in enumerate(plan):
            started = time.perf_counter()
            try:
                art = self._edgetpu() if variant == "edgetpu" else self._convert(variant)
                if variant == "int8" and debug_quantization and self.calibration is not None:
                    art = self._debug(art)
            except EdgekitError as err:
                if variant not in self.requested and variant != "int8":  # the fp32 reference
                    LOG.warning("no fidelity: the fp32 reference did not convert: %s", err.message)
                    continue
                self.failures.append(VariantFailure(variant, err.message, err.hint or ""))
                report(self.progress, "convert", variant, i + 1, len(plan), "failed")
                self.save()
                continue
            if variant in self.requested or variant == "int8":
                self.artifacts[variant] = art
            cached = art.extra.get("cached")
            report(self.progress, "convert", variant, i + 1, len(plan),
                   "cached" if cached else f"{time.perf_counter() - started:.1f} s")
            self.save()
        manifest = self.save()
        failed = {f.variant for f in manifest.failures}
        if failed and all(v in failed for v in self.requested):
            details = "; ".join(f.error for f in manifest.failures)
            hint = next((f.hint for f in manifest.failures if f.hint), None)
            raise ConversionError(f"no variant converted: {details}", hint=hint)
        return manifest

    def _dest(self, variant: str) -> Path:
        if variant in self.requested or variant == "int8":
            return self.out / f"{self.source.name}_{variant}.tflite"
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="edgekit-convert-")
        return Path(self._scratch.name) / f"{self.source.name}_{variant}.tflite"

    def _cache_options(self, variant: str) -> dict[str, Any]:
        if variant in CALIBRATED_VARIANTS and self.calibration is not None:
            opts: dict[str, Any] = {"calibration": self.calibration.sha256}
            if variant == "int8":
                opts["io_dtype"] = self.io_dtype
            return opts
        return {}

    def _convert(self, variant: str) -> Artifact:
        dest = self._dest(variant)
        key = ConvertCache.key(self.source.sha256, variant, self._cache_options(variant),
                               tensorflow_version(), __version__)
        entry = self.cache.get(key) if self.cache is not None else None
        extra = {"model": dict(self.model_info)} if self.model_info else {}
        if entry is not None and entry.record.get("artifact"):
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry.tflite, dest)
            described = Artifact.from_dict({**entry.record["artifact"], "file": str(dest), "fidelity": None})
            art = described.with_(source=self.source.description, source_sha256=self.source.sha256,
                                  extra={**described.extra, "cached": True, **extra})
            self._check_loads(dest, variant)
        else:
            options = VariantOptions(self.calibration, self.io_dtype if variant == "int8" else "float32")
            try:
                seconds = convert_variant(self.loaded(), variant, options, dest)
            except EdgekitError:
                raise
            except Exception as exc:  # anything else TensorFlow raises while configuring
                raise conversion_error(variant, exc) from exc
            self._check_loads(dest, variant)
            art = describe_tflite(
                dest, variant, source=self.source.description, source_sha256=self.source.sha256,
                converter=converter_name(), tensorflow_version=tensorflow_version(), conversion_seconds=seconds,
                extra={"cached": False, **extra},
            )
            if self.cache is not None:
                plain = art.with_(extra={k: v for k, v in art.extra.items() if k not in ("cached", "model")})
                entry = self.cache.put(key, dest, {"variant": variant, "conversion_seconds": seconds,
                                                   "created": time.time(), "artifact": plain.to_dict(),
                                                   "fidelity": {}})
        return art.with_(fidelity=self._fidelity(art, entry))

    def _check_loads(self, dest: Path, variant: str) -> None:
        """A file LiteRT cannot load, prepare and run is a failed variant: remove it and raise."""
        started = time.perf_counter()
        try:
            check_loads(dest, variant)
        except EdgekitError:
            dest.unlink(missing_ok=True)
            raise
        LOG.debug("%s loads and runs in LiteRT (%.3f s)", variant, time.perf_counter() - started)

    def _fidelity(self, art: Artifact, entry: Optional[CacheEntry]) -> Optional[Fidelity]:
        """Fidelity on the held-back samples (cached per hold-back set and reference)."""
        calib = self.calibration
        if calib is None or calib.holdback_count == 0:
            return None
        if art.variant == "fp32":  # the reference itself: exact by definition
            self.reference_path, self.reference_sha256 = art.path, art.sha256
            out = art.outputs[0].shape if art.outputs else ()
            return Fidelity(samples=calib.holdback_count, max_abs_error=0.0, mean_abs_error=0.0, cosine=1.0,
                            top1_agreement=1.0 if len(out) == 2 and out[1] >= 2 else None)
        if self.reference_path is None:
            return None
        fid_key = f"{calib.holdback_sha256}:{self.reference_sha256}"
        stored = (entry.record.get("fidelity") or {}).get(fid_key) if entry is not None else None
        if stored:
            return Fidelity.from_dict(stored)
        from .fidelity import measure_fidelity, reference_outputs

        try:
            if self.reference is None:
                self.reference = reference_outputs(self.reference_path, calib.holdback, calib.inputs)
            fid = measure_fidelity(art.path, calib.holdback, self.reference, calib.inputs)
        except (EdgekitError, ValueError, RuntimeError) as exc:
            LOG.warning("fidelity of %s not measured: %s", art.variant, exc)
            return None
        if entry is not None and self.cache is not None:
            self.cache.update_record(entry, {"fidelity": {**(entry.record.get("fidelity") or {}),
                                                          fid_key: fid.to_dict()}})
        return fid

    def _debug(self, art: Artifact) -> Artifact:
        from .debugger import write_debug_csv

        assert self.calibration is not None
        dest = self.out / f"{self.source.name}_int8_debug.csv"
        try:
            write_debug_csv(self.loaded(), self.calibration, dest)
        except EdgekitError as err:
            LOG.warning("%s", err.message)
            return art.with_(extra={**art.extra, "quantization_debug": {"error": err.message}})
        return art.with_(extra={**art.extra, "quantization_debug": {"csv": dest.name}})

    def _edgetpu(self) -> Artifact:
        int8 = self.artifacts.get("int8")
        if int8 is None:
            raise ConversionError("edgetpu: the int8 variant it is compiled from did not convert",
                                  hint="fix the int8 failure first (see its error)")
        try:
            from ..edgetpu.variant import make_edgetpu_variant
        except ImportError as exc:
            raise ConversionError(f"edgetpu: EdgeTPU support is not available ({exc})",
                                  hint="install edgekit's EdgeTPU support, or drop the edgetpu variant") from exc
        art = make_edgetpu_variant(int8, self.out)
        if self.model_info:
            art = art.with_(extra={**art.extra, "model": dict(self.model_info)})
        return art

    # -- the manifest ----------------------------------------------------------------
    def _previous_artifacts(self) -> list[Artifact]:
        """Artifacts of the same model already in OUT, for variants not converted now."""
        path = self.out / "manifest.json"
        if not path.is_file():
            return []
        try:
            old = Manifest.load(path)
        except EdgekitError as err:
            LOG.warning("replacing unreadable manifest %s: %s", path, err.message)
            return []
        if old.model_sha256 != self.source.sha256:
            return []
        written = set(self.requested) | ({"int8"} if "edgetpu" in self.requested else set())
        return [a for a in old.artifacts if a.variant not in written and a.path.is_file()]

    def save(self) -> Manifest:
        order = {v: i for i, v in enumerate(ALL_VARIANTS)}
        arts = sorted([*self._kept, *self.artifacts.values()], key=lambda a: order.get(a.variant, 99))
        calib = self.calibration
        options: dict[str, Any] = {
            "variants": list(self.requested), "io_dtype": self.io_dtype, "name": self.source.name,
            "tensorflow": tensorflow_version(), "edgekit": __version__,
            "calibration": None if calib is None else {
                "source": calib.source, "sha256": calib.sha256, "samples": calib.count,
                "holdback": calib.holdback_count, "holdback_sha256": calib.holdback_sha256},
        }
        manifest = Manifest(
            path=self.out / "manifest.json", model=self.source.description, model_sha256=self.source.sha256,
            artifacts=tuple(arts), failures=tuple(self.failures), options=options, created=_now(),
        )
        manifest.save()
        return manifest


def _describe_only(source: ModelSource, out: Path, model_info: Optional[dict[str, Any]],
                   progress: Optional[ProgressCallback]) -> Manifest:
    """A ``.tflite`` input: copy it to OUT (unless it is there) and describe it."""
    assert source.path is not None
    report(progress, "convert", source.name, 0, 1, "describing")
    extra: dict[str, Any] = {"described_only": True, "cached": False}
    if model_info:
        extra["model"] = dict(model_info)
    # read it first: a truncated or foreign file is refused before anything is written
    art = describe_tflite(source.path, None, source=source.description, source_sha256=source.sha256, extra=extra)
    out.mkdir(parents=True, exist_ok=True)
    dest = out / source.path.name
    if not dest.exists() or not dest.samefile(source.path):
        shutil.copyfile(source.path, dest)
    art = art.with_(path=dest)
    manifest = Manifest(path=out / "manifest.json", model=source.description, model_sha256=source.sha256,
                        artifacts=(art,), options={"described_only": True, "name": source.name,
                                                   "edgekit": __version__}, created=_now())
    manifest.save()
    report(progress, "convert", source.name, 1, 1, art.variant)
    return manifest


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


__all__ = ["convert", "parse_variants", "resolve_io_dtype", "ALL_VARIANTS"]
