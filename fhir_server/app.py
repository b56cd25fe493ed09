"""The HTTP face of the server: a FastAPI app whose FHIR routes are thin wrappers over
``FhirService.dispatch`` (so in-process callers get the same bytes), and
``serve_in_thread()`` for tests and harnesses.

Routes: ``/fhir/...`` (the baseline), ``POST /sessions`` → 201 ``{"id", "base_url"}``,
``GET /sessions/{id}/log``, ``DELETE /sessions/{id}``, ``/sessions/{id}/fhir/...``.
With ``settings.token`` set, every request needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import Response

from .bundles import dumps
from .errors import FhirError, FhirServerError, StoreError
from .service import CONTENT_TYPE, FhirResponse, FhirService, outcome_response
from .settings import ServerSettings
from .store import Store

log = logging.getLogger("fhir_server")
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]


def _send(resp: FhirResponse) -> Response:
    return Response(resp.body, status_code=resp.status, headers=resp.headers)


def _error(status: int, message: str, code: str) -> Response:
    return _send(outcome_response(FhirError(status, message, code=code)))


async def _read_body(request: Request, limit: int) -> bytes | Response:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return _error(413, f"The request body has {declared} bytes; the limit is {limit}.",
                      "too-costly")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _error(413, f"The request body is over the limit of {limit} bytes.",
                          "too-costly")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: ServerSettings | None = None, store: Store | None = None) -> FastAPI:
    """The FastAPI application serving ``store`` (opened from ``settings.db`` if not given)."""
    settings = settings or ServerSettings()
    store = store if store is not None else Store(settings.db)
    service = FhirService(store, settings)
    token = settings.token
    app = FastAPI(title="medagent FHIR server", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    app.state.store = store

    def unauthorized(request: Request) -> Response | None:
        if token is None:
            return None
        given = request.headers.get("authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
            return None
        resp = _error(401, "Authentication required: send 'Authorization: Bearer <token>'.",
                      "login")
        resp.headers["www-authenticate"] = "Bearer"
        return resp

    async def fhir(request: Request, path: str, session: str | None) -> Response:
        denied = unauthorized(request)
        if denied is not None:
            return denied
        body = None
        if request.method in ("POST", "PUT", "PATCH"):
            body = await _read_body(request, settings.max_body_bytes)
            if isinstance(body, Response):
                return body
        params = parse_qsl(request.url.query, keep_blank_values=True)
        headers = dict(request.headers)
        resp = await to_thread.run_sync(
            service.dispatch, request.method, path, params, body, headers, session)
        return _send(resp)

    @app.api_route("/fhir", methods=_METHODS)
    @app.api_route("/fhir/{path:path}", methods=_METHODS)
    async def fhir_base(request: Request, path: str = "") -> Response:
        return await fhir(request, path, None)

    @app.api_route("/sessions/{sid}/fhir", methods=_METHODS)
    @app.api_route("/sessions/{sid}/fhir/{path:path}", methods=_METHODS)
    async def fhir_session(request: Request, sid: str, path: str = "") -> Response:
        return await fhir(request, path, sid)

    @app.post("/sessions")
    async def create_session(request: Request) -> Response:
        denied = unauthorized(request)
        if denied is not None:
            return denied
        sid = await to_thread.run_sync(service.create_session)
        base = str(request.base_url).rstrip("/")
        return Response(dumps({"id": sid, "base_url": f"{base}/sessions/{sid}/fhir"}),
                        status_code=201, media_type="application/json")

    @app.get("/sessions/{sid}/log")
    async def session_log(request: Request, sid: str) -> Response:
        denied = unauthorized(request)
        if denied is not None:
            return denied
        try:
            entries = await to_thread.run_sync(service.session_log, sid)
        except FhirError as exc:
            return _send(outcome_response(exc))
        return Response(dumps(entries), media_type="application/json")

    @app.delete("/sessions/{sid}")
    async def delete_session(request: Request, sid: str) -> Response:
        denied = unauthorized(request)
        if denied is not None:
            return denied
        try:
            await to_thread.run_sync(service.delete_session, sid)
        except FhirError as exc:
            return _send(outcome_response(exc))
        return Response(status_code=204)

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        return _error(500, f"Storage error: {exc}", "exception")

    return app


@dataclass(frozen=True, slots=True)
class RunningServer:
    """A server started by :func:`serve_in_thread`."""

    root_url: str  # http://127.0.0.1:PORT
    base_url: str  # http://127.0.0.1:PORT/fhir
    service: FhirService
    store: Store
    settings: ServerSettings


@contextmanager
def serve_in_thread(settings: ServerSettings | Store | None = None,
                    store: Store | None = None) -> Iterator[RunningServer]:
    """Run uvicorn on 127.0.0.1, a free port, in a background thread; stop it on exit.

    ``settings`` may be a ``ServerSettings`` or directly a ``Store`` (default settings).
    """
    import uvicorn

    if isinstance(settings, Store):
        settings, store = None, settings
    settings = settings or ServerSettings()
    own_store = store is None
    store = store if store is not None else Store(settings.db)
    app = create_app(settings, store)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fhir-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise FhirServerError("the FHIR server thread did not start")
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    root = f"http://127.0.0.1:{port}"
    try:
        yield RunningServer(root, f"{root}/fhir", app.state.service, store, settings)
    finally:
        server.should_exit = True
        thread.join(10)
        if own_store:
            store.close()


__all__ = ["CONTENT_TYPE", "RunningServer", "create_app", "serve_in_thread"]
