"""The results tables (artifacts, quality records, measurements), in portable SQL.

One template for every backend: ``{serial_pk}``, ``{real}`` and ``{blob}`` are filled in
from the backend's :class:`~edgekit.store.base.Dialect`. The farm's tables (jobs, leases,
events, lab runs) are not here: they belong to :mod:`edgekit.farm.schema`.

Schema versions (``meta`` row ``results-schema``):

1. the first store (``created`` of a measurement was the device's finish time);
2. ``measurements.arrived``: when the result reached the controller (results are ordered
   by it, never by a device's clock) and ``measurements.samples``: the samples in a
   compact binary encoding instead of JSON text inside ``doc``. Rows written by version 1
   keep their samples in ``doc`` and are read as before.
"""

from __future__ import annotations

RESULTS_SCHEMA = 2

RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (
  sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, variant TEXT NOT NULL, size_bytes INTEGER NOT NULL,
  path TEXT NOT NULL, doc TEXT NOT NULL, created {real} NOT NULL);
CREATE TABLE IF NOT EXISTS quality (
  id {serial_pk}, artifact_sha256 TEXT NOT NULL, dataset TEXT NOT NULL,
  metric TEXT NOT NULL, value {real} NOT NULL, samples INTEGER NOT NULL, doc TEXT NOT NULL,
  created {real} NOT NULL, UNIQUE (artifact_sha256, dataset, metric));
CREATE TABLE IF NOT EXISTS measurements (
  id TEXT PRIMARY KEY, artifact_sha256 TEXT NOT NULL, device TEXT NOT NULL, profile TEXT NOT NULL,
  status TEXT NOT NULL, median_us {real}, job_id TEXT, doc TEXT NOT NULL, created {real} NOT NULL);
CREATE INDEX IF NOT EXISTS measurements_by_artifact ON measurements (artifact_sha256, device);
"""

#: columns added after version 1, with their types (added by every backend's migration)
RESULTS_COLUMNS_V2 = (("measurements", "arrived", "{real}"), ("measurements", "samples", "{blob}"))
