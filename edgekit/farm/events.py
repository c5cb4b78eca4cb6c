"""The farm's event log: leases taken over, devices out of rotation, retries, failures.

Rows go to the ``events`` table (:mod:`edgekit.farm.schema`), inside the caller's
transaction, so an event and the state change it describes are committed together.
"""

from __future__ import annotations

import json
import time
from typing import Any, Optional

from ..store import Store, Transaction


def insert_event(tx: Transaction, kind: str, detail: dict[str, Any],
                 job_id: Optional[str] = None, device: Optional[str] = None) -> None:
    """Append one event inside the caller's transaction."""
    tx.execute("INSERT INTO events (at, job_id, device, kind, detail) VALUES (?,?,?,?,?)",
               (time.time(), job_id, device, kind, json.dumps(detail, default=str)))


def log_event(store: Store, kind: str, detail: dict[str, Any], job_id: Optional[str] = None,
              device: Optional[str] = None) -> None:
    """Append one event in a transaction of its own."""
    with store.transaction() as tx:
        insert_event(tx, kind, detail, job_id=job_id, device=device)
