"""Fixtures of the adapter tests (MCP, Inspect, verifiers), on TASKS' small suite.

- ``adapter_suite``: a sub-suite of the small suite (two categories' tasks, ids kept),
  written to a file (``adapter_suite_path``) so the adapters take it by path and
  ``leaderboard verify`` can check a complete run of it.
- ``adapter_service``: TASKS' ``embedded_service``, the embedded ``FhirService`` holding
  that suite's cohort (COHORT's ``seeded_db``, placed where child processes find it seeded).
- ``session_count(service)``: how many FHIR sessions exist (none may be left behind).
"""

from __future__ import annotations

from pathlib import Path

import pytest

# One query and one action category: a lookup, and a conditional medication order.
CATEGORIES = (1, 5)


def sub_suite(suite, categories, suite_id: str):
    from medagent import tasks
    from medagent.tasks._suite_io import sha256, tasks_jsonl

    chosen = [t for t in suite.tasks if t.category in categories]
    return tasks.Suite(id=suite_id, seed=suite.seed, cohort_seed=suite.cohort_seed,
                       cohort_n_patients=suite.cohort_n_patients, cohort_checksum=suite.cohort_checksum,
                       tasks=chosen, checksum=sha256(tasks_jsonl(chosen)))


@pytest.fixture(scope="session")
def adapter_suite(small_suite):
    return sub_suite(small_suite, CATEGORIES, "small-adapters")


@pytest.fixture(scope="session")
def adapter_service(embedded_service):
    return embedded_service  # the sub-suite's cohort is the small suite's


@pytest.fixture(scope="session")
def adapter_suite_path(adapter_suite, adapter_service, tmp_path_factory) -> Path:
    from medagent.tasks._suite_io import write_suite

    jsonl, _ = write_suite(adapter_suite, tmp_path_factory.mktemp("adapter-suite"))
    return jsonl


def session_count(service) -> int:
    """Sessions in the store, read on a fresh connection (the service's own connection of
    this thread may hold an older snapshot while other processes write)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{service.store.path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
    finally:
        conn.close()
