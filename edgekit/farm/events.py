"""The farm's event log: leases taken over, devices out of rotation, retries, failures.

Rows go to the store's ``events`` table, inside the caller's transaction, so an event
and the state change it describes are committed together.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Optional


def insert_event(db: sqlite3.Connection, kind: str, detail: dict[str, Any],
                 job_id: Optional[str] = None, device: Optional[str] = None) -> None:
    """Append one event inside the caller's transaction."""
    db.execute("INSERT INTO events (at, job_id, device, kind, detail) VALUES (?,?,?,?,?)",
               (time.time(), job_id, device, kind, json.dumps(detail, default=str)))
