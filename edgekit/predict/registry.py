"""Where fitted predictors live, and predicting a model for a device by name.

One predictor per device, in a folder: ``$EDGEKIT_PREDICTORS`` if set, else
``.edgekit/predictors`` (beside the default results store). The file of device ``D`` is
``<folder>/<D>.predictor`` — a pickle (see :mod:`edgekit.predict.predictor`): load only
folders you trust, as you would a Python module. A shared lab keeps the folder on a share
its controllers trust.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Optional

from ..errors import ConfigError
from .predictor import LatencyPredictor, Prediction, load

log = logging.getLogger(__name__)

ENV = "EDGEKIT_PREDICTORS"
DEFAULT_DIR = Path(".edgekit") / "predictors"
SUFFIX = ".predictor"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")


def predictors_dir(folder: str | Path | None = None) -> Path:
    """The predictor folder: ``folder``, else ``$EDGEKIT_PREDICTORS``, else ``.edgekit/predictors``."""
    if folder is not None and str(folder):
        return Path(folder)
    env = os.environ.get(ENV, "")
    return Path(env) if env else DEFAULT_DIR


def predictor_path(device: str, folder: str | Path | None = None) -> Path:
    """The file of ``device``'s predictor.

    Raises:
        ConfigError: the device name cannot be a file name.
    """
    if not isinstance(device, str) or not _NAME.match(device) or device in (".", ".."):
        raise ConfigError(f"device name {device!r} cannot name a predictor file",
                          hint="use the device's name from the lab file or `edgekit devices` (letters, digits, . _ - @ +)")
    return predictors_dir(folder) / f"{device}{SUFFIX}"


def find_predictor(device: str, folder: str | Path | None = None) -> Optional[LatencyPredictor]:
    """``device``'s predictor, or None when none has been fitted.

    Raises:
        ConfigError: the file exists but is not a predictor of this edgekit.
    """
    path = predictor_path(device, folder)
    if not path.is_file():
        return None
    return load(path)


def require_predictor(device: str, folder: str | Path | None = None) -> LatencyPredictor:
    """``device``'s predictor.

    Raises:
        ConfigError: none has been fitted for ``device`` (the message names the folder looked in).
    """
    found = find_predictor(device, folder)
    if found is None:
        where = predictors_dir(folder)
        known = sorted(p.name[: -len(SUFFIX)] for p in where.glob(f"*{SUFFIX}")) if where.is_dir() else []
        raise ConfigError(f"no latency predictor for device '{device}' in '{where}'"
                          + (f" (there are: {', '.join(known)})" if known else ""),
                          hint=f"measure samples and fit one: edgekit predict sample --device {device} --n 40, "
                               f"then edgekit predict fit --device {device}")
    return found


def save_predictor(predictor: LatencyPredictor, device: str, folder: str | Path | None = None) -> Path:
    """Write ``predictor`` as ``device``'s (atomically); returns the path."""
    return predictor.save(predictor_path(device, folder))


def predict_file(device: str, model: str | Path, folder: str | Path | None = None,
                 runtime_version: Optional[str] = None, profile: Optional[str] = None) -> Prediction:
    """Predict ``model``'s latency on ``device`` with its fitted predictor.

    Raises:
        ConfigError: no predictor for the device, or the file is not a model.
    """
    return require_predictor(device, folder).predict(model, runtime_version, profile)
