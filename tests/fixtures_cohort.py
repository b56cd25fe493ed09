"""Cohort fixtures (owner: COHORT). A pytest plugin listed in ``tests/conftest.py``.

Constants
- ``SMALL_SEED`` / ``SMALL_N``: the small test cohort (10 patients, 5 years of history,
  ~60k resources). It covers every scenario state of ``patients.scenarios`` (at least one
  patient per state, one pair of each look-alike kind) with the same semantics as the
  default cohort; its ``manifest.scenarios`` lists the members.

Fixtures
- ``small_cohort`` (session) -> ``(Path, patients.Manifest)``: the cohort folder (NDJSON +
  ``manifest.json``) in the run's ``$MEDAGENT_HOME`` cache. Read only.
- ``EDGE_SEED`` / ``EDGE_N`` and ``small_edge_cohort`` (session) -> ``(Path, Manifest)``: the
  smallest ``edge-v1`` cohort holding every variant of ``patients._edge`` at least once
  (20 patients, ~15 s to generate). No database: tests use it through the chart.
- ``seeded_db`` (session) -> ``Path`` of a SQLite database holding the small cohort, loaded
  with ``patients.seed_store`` (so its meta ``cohort_checksum`` equals the manifest's).
  READ ONLY: open it with ``fhir_server.Store(path)``; tests that write must use server
  sessions, or ``seeded_db_copy``.
- ``seeded_db_copy`` (function) -> ``Path`` of a fresh private copy of ``seeded_db`` that
  a test may modify freely.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from medagent import patients
from medagent.fhir_server.store import Store

SMALL_SEED = 7
SMALL_N = 10
EDGE_SEED = 7
EDGE_N = 20


@pytest.fixture(scope="session")
def small_cohort() -> tuple[Path, patients.Manifest]:
    directory = patients.ensure_cohort(SMALL_SEED, SMALL_N)
    return directory, patients.Manifest.load(directory)


@pytest.fixture(scope="session")
def small_edge_cohort() -> tuple[Path, patients.Manifest]:
    directory = patients.ensure_cohort(EDGE_SEED, EDGE_N, "edge-v1")
    return directory, patients.Manifest.load(directory)


@pytest.fixture(scope="session")
def seeded_db(small_cohort, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "small.db"
    store = Store(path)
    try:
        patients.seed_store(store, SMALL_SEED, SMALL_N)
        store.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    return path


@pytest.fixture
def seeded_db_copy(seeded_db, tmp_path) -> Path:
    target = tmp_path / "seeded-copy.db"
    shutil.copyfile(seeded_db, target)
    for suffix in ("-wal", "-shm"):
        extra = Path(f"{seeded_db}{suffix}")
        if extra.exists():
            shutil.copyfile(extra, Path(f"{target}{suffix}"))
    return target
