"""The farm's tables in the results store: jobs, device leases, the event log, lab runs.

Portable SQL for every store backend (``{real}`` is filled in from the backend's dialect).
The results tables (artifacts, quality, measurements) are the store's own
(:mod:`edgekit.store.schema`). Table names are those of the first store, so older stores
open unchanged.
"""

from __future__ import annotations

from ..store import Store

FARM_SCHEMA = 1

FARM_DDL = """
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, lab TEXT NOT NULL, artifact_sha256 TEXT NOT NULL, artifact_path TEXT NOT NULL,
  profile TEXT NOT NULL, settings TEXT NOT NULL, state TEXT NOT NULL, device TEXT,
  lease_owner TEXT, lease_expires {real}, attempts INTEGER NOT NULL DEFAULT 0, error TEXT,
  measurement_id TEXT, created {real} NOT NULL, updated {real} NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_by_lab ON jobs (lab, state);
CREATE TABLE IF NOT EXISTS device_leases (
  device TEXT PRIMARY KEY, owner TEXT NOT NULL, expires {real} NOT NULL, job_id TEXT);
CREATE TABLE IF NOT EXISTS events (
  id {serial_pk}, at {real} NOT NULL, job_id TEXT, device TEXT,
  kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS farm_runs (
  lab TEXT NOT NULL, run INTEGER NOT NULL, created {real} NOT NULL, lab_file TEXT NOT NULL,
  PRIMARY KEY (lab, run));
CREATE TABLE IF NOT EXISTS farm_jobs (
  job_id TEXT PRIMARY KEY, run TEXT NOT NULL, position INTEGER NOT NULL, target TEXT NOT NULL,
  target_kind TEXT NOT NULL, name TEXT NOT NULL, variant TEXT NOT NULL, label TEXT NOT NULL,
  not_before {real} NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS farm_jobs_by_run ON farm_jobs (run, target, position);
"""


def ensure_farm_schema(store: Store) -> None:
    """Create the farm's tables in ``store`` (idempotent, once per store object)."""
    store.ensure_schema("farm", FARM_DDL, FARM_SCHEMA)
