"""Session-scoped conversions for the converter tests (real TensorFlow, small models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .shared_conversions import (build_cumsum_model, build_rgb_model, session_cache_dir, tiny_all_variants,
                                 write_images)


@pytest.fixture(scope="session", autouse=True)
def convert_cache_dir() -> Path:
    """Every test converts into a temporary cache, never ~/.cache."""
    return session_cache_dir()


@pytest.fixture(scope="session")
def tiny_converted(tiny_models: Any) -> Any:
    """The tiny CNN in all five variants, calibrated from calib.npz, with the debug CSV."""
    return tiny_all_variants(tiny_models)


@pytest.fixture(scope="session")
def calib_x(tiny_models: Any) -> np.ndarray:
    with np.load(tiny_models.calibration_npz) as npz:
        return npz["x"]


@pytest.fixture(scope="session")
def rgb_keras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rgb") / "rgb_net.keras"
    build_rgb_model().save(path)
    return path


@pytest.fixture(scope="session")
def rgb_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 RGB PNGs of 20×20 pixels (the model takes 16×16: they are resized)."""
    folder = tmp_path_factory.mktemp("rgb_images")
    write_images(folder, 80, (20, 20), "RGB")
    return folder


@pytest.fixture(scope="session")
def rgb_converted(rgb_keras: Path, rgb_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """fp32, dynamic and int8 (int8 I/O) of the RGB CNN, calibrated from an image folder."""
    from edgekit.convert.api import convert

    return convert(rgb_keras, tmp_path_factory.mktemp("rgb_out"), variants="fp32,dynamic,int8",
                   calibration=rgb_images, io_dtype="int8", model_info={"name": "rgb", "width": 1.0})


@pytest.fixture(scope="session")
def cumsum_savedmodel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SavedModel folder of a model using CUMSUM (no integer kernel)."""
    folder = tmp_path_factory.mktemp("cumsum") / "cumsum_sm"
    build_cumsum_model().export(str(folder), verbose=False)
    return folder
