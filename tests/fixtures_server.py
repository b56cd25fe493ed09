"""FHIR server fixtures (owned by fhir_server/). All are function-scoped and self-cleaning.

- ``server_settings`` -> ``fhir_server.ServerSettings`` with ``db`` in the test's tmp folder
  (no token, default limits).
- ``empty_store`` -> an empty ``fhir_server.Store`` on a fresh SQLite file (closed at teardown).
- ``service`` -> ``fhir_server.FhirService`` over ``empty_store`` (call ``service.dispatch``).
- ``asgi_client`` -> ``fastapi.testclient.TestClient`` over ``create_app(server_settings,
  empty_store)``; FHIR base path ``/fhir``.
- ``running_server`` -> a factory ``running_server(store=None, settings=None, **overrides)``
  that starts a real uvicorn server on 127.0.0.1 (free port) in a thread and returns a
  ``fhir_server.RunningServer`` (``base_url`` = ``http://127.0.0.1:PORT/fhir``, ``root_url``,
  ``service``, ``store``, ``settings``). ``store`` defaults to ``empty_store``; ``overrides``
  are ServerSettings fields (e.g. ``token="t"``, ``max_count=5``). Stopped at teardown.
  To serve a seeded cohort: ``running_server(fhir_server.Store(seeded_db))``.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from medagent.fhir_server import FhirService, ServerSettings, Store, create_app, serve_in_thread


@pytest.fixture
def server_settings(tmp_path) -> ServerSettings:
    return ServerSettings(db=tmp_path / "fhir.db", home=tmp_path)


@pytest.fixture
def empty_store(server_settings):
    store = Store(server_settings.db)
    yield store
    store.close()


@pytest.fixture
def service(empty_store, server_settings) -> FhirService:
    return FhirService(empty_store, server_settings)


@pytest.fixture
def asgi_client(empty_store, server_settings):
    from fastapi.testclient import TestClient

    with TestClient(create_app(server_settings, empty_store)) as client:
        yield client


@pytest.fixture
def running_server(empty_store, server_settings):
    with ExitStack() as stack:
        def start(store: Store | None = None, settings: ServerSettings | None = None, **overrides):
            base = settings or server_settings
            if overrides:
                base = base.model_copy(update=overrides)
            return stack.enter_context(serve_in_thread(base, store or empty_store))

        yield start
