"""The results store: artifacts, quality records and measurements (every sample).

One interface (:class:`Store`), two backends — SQLite (:mod:`.sqlite`, the embedded
default) and PostgreSQL (:mod:`.postgres`, for labs shared across hosts) — and one way to
open it: :func:`open_store`. Measurements the store could not take are rescued to a file
(:mod:`.rescue`) and brought back with :func:`import_measurements`.
"""

from __future__ import annotations

from typing import Optional, Sequence

from ..measurement import Measurement
from .base import Dialect, Row, Store, Transaction
from .open import BACKENDS, NO_STORE, StoreArg, default_store_location, open_store, owned, scheme_of
from .rescue import read_rescue, write_rescue


def import_measurements(store: Store, measurements: Sequence[Measurement]) -> tuple[int, int]:
    """Add measurements not yet in ``store`` (by id); returns (added, already there)."""
    added = known = 0
    for m in measurements:
        if store.measurement(m.id) is not None:
            known += 1
            continue
        store.add_measurement(m)
        added += 1
    return added, known


def close_if_owned(store: StoreArg, opened: Optional[Store]) -> None:
    """Close ``opened`` when :func:`open_store` opened it for ``store``."""
    if owned(store, opened):
        opened.close()  # type: ignore[union-attr]


__all__ = [
    "Store", "Dialect", "Transaction", "Row", "open_store", "NO_STORE", "StoreArg", "BACKENDS",
    "default_store_location", "scheme_of", "import_measurements", "read_rescue", "write_rescue",
    "close_if_owned", "owned",
]
