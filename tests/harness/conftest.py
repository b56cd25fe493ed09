"""Fixtures of the harness tests, built on TASKS' ``small_suite`` (and COHORT's small cohort).

- ``bench_suite``: the small suite, also written to a file (``bench_suite_path``) so the
  CLI can take it with ``--suite PATH``.
- ``bench_service``: TASKS' ``embedded_service``, the embedded ``FhirService`` holding that
  suite's cohort (COHORT's seeded database, placed under ``$MEDAGENT_HOME/db`` once per run).
- ``oracle_scripts``: per task prompt, the reference solution's tool calls, FHIR requests
  and answer (for ``tests.fake_openai.ReplayPolicy``).
- ``fast_retries``: small backoff/timeout settings through the environment.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bench_suite(small_suite):
    return small_suite


@pytest.fixture(scope="session")
def bench_suite_path(bench_suite, bench_service, tmp_path_factory):
    from medagent.tasks._suite_io import write_suite

    jsonl, _ = write_suite(bench_suite, tmp_path_factory.mktemp("suite"))
    return jsonl


@pytest.fixture(scope="session")
def bench_service(embedded_service):
    return embedded_service


@pytest.fixture(scope="session")
def oracle_scripts(bench_suite, bench_service):
    from tests.fake_openai import record_oracle

    return record_oracle(bench_suite.tasks, bench_service)


@pytest.fixture
def fast_retries(monkeypatch):
    for name, value in {
        "MEDAGENT_BACKOFF_BASE": "0.01",
        "MEDAGENT_BACKOFF_MAX": "0.05",
        "MEDAGENT_MAX_RETRIES": "3",
        "MEDAGENT_REQUEST_TIMEOUT": "1.5",
        "MEDAGENT_CONFIG": "/nonexistent/settings.toml",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET-4242")
