"""Task-suite fixtures (owned by tasks/). A pytest plugin listed in ``tests/conftest.py``.

- ``small_suite`` (session) -> ``tasks.Suite`` built by ``tasks.build_suite`` from COHORT's
  ``small_cohort`` with ``SMALL_SUITE_PER_CATEGORY`` tasks per category and seed
  ``SMALL_SUITE_SEED``: every branch of every category is present (the cohort deals every
  scenario state). Read-only; do not mutate.
- ``small_edge_suite`` (session) -> ``tasks.Suite`` of the ``edge`` design built from
  COHORT's ``small_edge_cohort``, 30 tasks per category (patients repeat): every boundary
  branch of every category is present. Read-only.
- ``task_service`` (session) -> ``fhir_server.FhirService`` over COHORT's ``seeded_db``
  (the same cohort ``small_suite`` was built from). Run every trial in its own session
  (``service.create_session()``) so trials never see each other's writes; the baseline is
  shared and must not be written to.
- ``embedded_service`` (session) -> the embedded ``FhirService`` holding ``small_suite``'s
  cohort (``medagent.embedded.open_service``), with COHORT's ``seeded_db`` first copied where
  the embedded server looks for that cohort, so CLI runs and child processes of the tests
  find it seeded (``seed_store`` is then a no-op). Run trials in sessions.
- ``run_trial`` (function) -> ``run_trial(task, solver=None, resources=(), answer=None)``:
  opens a fresh session on ``task_service``; with ``solver`` (default: the category's
  reference solution) it runs it through ``LocalFhirClient`` + ``ClientToolEnv`` and
  takes its answer; then POSTs each extra resource of ``resources`` in the same session
  (asserting the server stored it, i.e. it is valid FHIR); returns ``Trial(answer, writes,
  grade)`` graded with ``tasks.grade`` on the session's write log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

SMALL_SUITE_SEED = 11
SMALL_SUITE_PER_CATEGORY = 6


@dataclass
class Trial:
    answer: Any
    writes: list[dict]
    grade: Any
    session: str


@pytest.fixture(scope="session")
def small_suite(small_cohort):
    from medagent import tasks

    return tasks.build_suite("small", SMALL_SUITE_SEED, small_cohort[0],
                             per_category=SMALL_SUITE_PER_CATEGORY)


@pytest.fixture(scope="session")
def small_edge_suite(small_edge_cohort):
    from medagent import tasks

    return tasks.build_suite("small-edge", SMALL_SUITE_SEED, small_edge_cohort[0])


@pytest.fixture(scope="session")
def embedded_service(small_suite, seeded_db):
    import shutil
    from pathlib import Path

    from medagent.embedded import cohort_db_path, open_service

    target = cohort_db_path(small_suite.cohort_seed, small_suite.cohort_n_patients)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seeded_db, target)
        for suffix in ("-wal", "-shm"):
            if Path(f"{seeded_db}{suffix}").exists():
                shutil.copyfile(f"{seeded_db}{suffix}", f"{target}{suffix}")
    return open_service(small_suite)


@pytest.fixture(scope="session")
def task_service(seeded_db):
    from medagent.fhir_server import FhirService, ServerSettings, Store

    store = Store(seeded_db)
    yield FhirService(store, ServerSettings(db=seeded_db))
    store.close()


async def _run(service: Any, task: Any, solver: Any, resources: Any, answer: Any) -> Trial:
    from medagent import tasks

    sid = service.create_session()
    client = tasks.LocalFhirClient(service, sid)
    if solver is not None:
        answer = await solver(task, tasks.ClientToolEnv(client))
    for resource in resources:
        reply = await client.request("POST", resource["resourceType"], json=resource)
        assert reply.status == 201, (reply.status, reply.body)
    writes = service.session_log(sid)
    service.delete_session(sid)
    return Trial(answer, writes, tasks.grade(task, answer, writes), sid)


@pytest.fixture
def run_trial(task_service):
    from medagent import tasks

    def run(task, solver: Any = "oracle", resources=(), answer=None) -> Trial:
        if solver == "oracle":
            solver = tasks.get_category(task.category).solve
        return asyncio.run(_run(task_service, task, solver, list(resources), answer))
    return run
