"""The HTTP face of the server: a FastAPI app whose FHIR routes are thin wrappers over
``FhirService.dispatch`` (so in-process callers get the same bytes), and
``serve_in_thread()`` for tests and harnesses.

Routes: ``/fhir/...`` (the baseline), ``POST /sessions`` → 201 ``{"id", "base_url"}``,
``GET /sessions/{id}/log``, ``DELETE /sessions/{id}``, ``/sessions/{id}/fhir/...``.
The log is paged: ``?since=SEQ&_count=N`` selects entries after ``SEQ``; a page holds at
most ``max_log_entries`` entries and ``max_reply_bytes`` bytes, and a
``Link: <...>; rel="next"`` header names the next page while there is one.
With ``settings.token`` set, every request on every route needs
``Authorization: Bearer <token>`` (the scheme is case-insensitive); an empty token is none.
With ``settings.sessions`` false only ``/fhir/...`` is served (a plain FHIR server).

URLs written into replies (``Location``, ``fullUrl``, paging links, a session's
``base_url``) start with :func:`request_root`: the configured ``public_url``; else, from a
``trusted_proxies`` address, its ``X-Forwarded-Proto``/``X-Forwarded-Host``; else the
address the server is bound to (``settings.host``; the port and address of the connection);
and only when that is a wildcard (``0.0.0.0``, as in the Docker image, where the container's
own address is not the one clients reach) the ``Host`` the client used, as
``http://host:port`` after a strict syntax check. ``X-Forwarded-*`` from anyone else is ignored.
"""

from __future__ import annotations

import asyncio
import hmac
import sqlite3
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .bundles import dumps
from .errors import FhirError, FhirServerError, StoreError
from .responses import FhirResponse, outcome_response
from .service import FhirService
from .settings import ServerSettings
from .store import Store

log = logging.getLogger("medagent.fhir_server")

_HOST_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
                      r"(?::[0-9]{1,5})?$")
_WILDCARDS = ("0.0.0.0", "::", "")


def _host_port(host: str, port: int | None) -> str:
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{host}:{port}" if port and port != 80 else host  # http's default port is implied


def request_root(scope: Scope, headers: dict[str, str], settings: ServerSettings) -> str:
    """The root URL (scheme://host[:port]) replies to this request are written with."""
    if settings.public_url:
        return settings.public_url
    client = scope.get("client")
    if client and client[0] in settings.trusted_proxies:
        proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        host = headers.get("x-forwarded-host", "").split(",")[0].strip()
        if proto in ("http", "https") and _HOST_RE.match(host):
            return f"{proto}://{host}"
    server = scope.get("server")  # the connection's local address (never a wildcard)
    if server and settings.host not in _WILDCARDS:  # bound to one address: that one
        return f"http://{_host_port(server[0], server[1])}"
    host = headers.get("host", "")
    if _HOST_RE.match(host):  # bound to all: the name the client reached us by
        return f"http://{host}"
    if server:
        return f"http://{_host_port(server[0], server[1])}"
    return settings.root_url


class Auth:
    """The one token rule of every route: ``Authorization: Bearer <token>`` when a token is set."""

    def __init__(self, token: str | None) -> None:
        self.token = token.encode() if token else None

    def allows(self, header: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, given = (header or "").strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), self.token)


def _log_params(query) -> tuple[int, int | None]:  # noqa: ANN001 - starlette QueryParams
    """``since`` (a seq, default 0) and ``_count`` (default: the server's page size) of a log request."""
    out: list[int | None] = []
    for name, default in (("since", 0), ("_count", None)):
        values = query.getlist(name)
        if not values:
            out.append(default)
            continue
        if len(values) > 1 or not values[0].isdigit() or len(values[0]) > 15 or (name == "_count" and int(values[0]) == 0):
            raise FhirError(400, f"Invalid {name} {values[-1]!r} for the session log: expected one "
                            f"{'positive ' if name == '_count' else ''}whole number.", code="invalid")
        out.append(int(values[0]))
    unknown = sorted(set(query.keys()) - {"since", "_count"})
    if unknown:
        raise FhirError(400, f"Unknown parameter {unknown[0]!r} for the session log (use since and _count).",
                        code="invalid")
    return out[0], out[1]


def _send(resp: FhirResponse) -> Response:
    return Response(resp.body, status_code=resp.status, headers=resp.headers)


def _error(status: int, message: str, code: str) -> Response:
    return _send(outcome_response(FhirError(status, message, code=code)))


def _fhir_target(path: str) -> tuple[str, str | None] | None:
    """``(path relative to the FHIR base, session)`` for a FHIR URL path, else None."""
    if path == "/fhir" or path.startswith("/fhir/"):
        return path[6:], None
    if path.startswith("/sessions/"):
        parts = path.split("/", 4)  # '', 'sessions', id, 'fhir', rest
        if len(parts) >= 4 and parts[3] == "fhir" and parts[2]:
            return (parts[4] if len(parts) == 5 else ""), parts[2]
    return None


class FhirRoutes:
    """The FHIR routes (``/fhir/...`` and ``/sessions/{id}/fhir/...``) as a thin pure-ASGI
    layer over ``FhirService.dispatch``; every other path goes on to the FastAPI router.

    Pure ASGI rather than FastAPI route functions: the request needs no parsing beyond the
    query string and body, and skipping the framework's per-request work is measurably
    faster on the hot search path (see benchmarks/fhir_server.py).
    """

    def __init__(self, app: ASGIApp, service: FhirService, settings: ServerSettings) -> None:
        self.app = app
        self.service = service
        self.settings = settings
        self.limit = settings.max_body_bytes
        self.auth = Auth(settings.token)
        self.threads = settings.threads
        self.sessions = settings.sessions
        self._limiters: dict[int, CapacityLimiter] = {}

    def _limiter(self) -> CapacityLimiter:
        """The worker-thread limit of the running event loop (a limiter binds to one loop)."""
        key = id(asyncio.get_running_loop())
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = CapacityLimiter(self.threads)
        return limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = _fhir_target(scope["path"]) if scope["type"] == "http" else None
        if target is None or (target[1] is not None and not self.sessions):
            await self.app(scope, receive, send)
            return
        path, session = target
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"]
        resp = None
        if not self.auth.allows(headers.get("authorization")):
            resp = _unauthorized()
        body = None
        if resp is None and method in ("POST", "PUT", "PATCH"):
            body = await _read_body(receive, headers.get("content-length"), self.limit)
            if isinstance(body, FhirResponse):
                resp, body = body, None
        if resp is None:
            params = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            root = request_root(scope, headers, self.settings)
            try:
                resp = await to_thread.run_sync(
                    self.service.dispatch, method, path, params, body, headers, session, root,
                    limiter=self._limiter())
            except Exception:  # a bug: logged with its traceback, answered the FHIR way
                log.exception("unhandled error in %s %s", method, scope["path"])
                resp = outcome_response(FhirError(
                    500, "Internal server error (details are in the server log).",
                    code="exception"))
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers.items()]
        raw_headers.append((b"content-length", str(len(resp.body)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": resp.body})


def _unauthorized() -> FhirResponse:
    resp = outcome_response(FhirError(
        401, "Authentication required: send 'Authorization: Bearer <token>'.", code="login"))
    resp.headers["www-authenticate"] = "Bearer"
    return resp


async def _read_body(receive: Receive, declared: str | None, limit: int) -> bytes | FhirResponse:
    def too_large(size: str) -> FhirResponse:
        return outcome_response(FhirError(
            413, f"The request body has {size} bytes; the limit is {limit}.", code="too-costly"))

    if declared is not None and declared.isdigit() and int(declared) > limit:
        return too_large(declared)
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return too_large(f"more than {limit}")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def create_app(settings: ServerSettings | None = None, store: Store | None = None) -> FastAPI:
    """The FastAPI application serving ``store`` (opened from ``settings.db`` if not given)."""
    settings = settings or ServerSettings()
    store = store if store is not None else Store(settings.db)
    service = FhirService(store, settings)
    auth = Auth(settings.token)
    app = FastAPI(title="medagent FHIR server", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    app.state.store = store

    def unauthorized(request: Request) -> Response | None:
        return None if auth.allows(request.headers.get("authorization")) else _send(_unauthorized())

    app.add_middleware(FhirRoutes, service=service, settings=settings)

    async def guarded(request: Request, fn, *args) -> tuple[object, Response | None]:  # noqa: ANN001
        """Check the token, then run ``fn(*args)`` in a worker thread: (result, error reply)."""
        denied = unauthorized(request)
        if denied is not None:
            return None, denied
        try:
            return await to_thread.run_sync(fn, *args), None
        except FhirError as exc:
            return None, _send(outcome_response(exc))
        except (StoreError, sqlite3.Error):
            log.exception("storage error in %s %s", request.method, request.url.path)
            return None, _error(500, "Internal storage error (details are in the server log).",
                                "exception")

    @app.post("/sessions")
    async def create_session(request: Request) -> Response:
        sid, error = await guarded(request, service.create_session)
        if error is not None:
            return error
        headers = {k.lower(): v for k, v in request.headers.items()}
        base = request_root(request.scope, headers, settings)
        return Response(dumps({"id": sid, "base_url": f"{base}/sessions/{sid}/fhir"}),
                        status_code=201, media_type="application/json")

    @app.get("/sessions/{sid}/log")
    async def session_log(request: Request, sid: str) -> Response:
        """A page of the write log (``?since=SEQ&_count=N``); ``Link: rel="next"`` when more."""
        try:
            since, count = _log_params(request.query_params)
        except FhirError as exc:
            return unauthorized(request) or _send(outcome_response(exc))
        page, error = await guarded(request, service.log_page, sid, since, count)
        if error is not None:
            return error
        body, after = page
        headers = {}
        if after is not None:
            root = request_root(request.scope, {k.lower(): v for k, v in request.headers.items()}, settings)
            more = f"{root}/sessions/{sid}/log?since={after}" + (f"&_count={count}" if count else "")
            headers["link"] = f'<{more}>; rel="next"'
        return Response(body, media_type="application/json", headers=headers)

    @app.delete("/sessions/{sid}")
    async def delete_session(request: Request, sid: str) -> Response:
        _, error = await guarded(request, service.delete_session, sid)
        return error or Response(status_code=204)

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        log.error("storage error in %s %s: %s", request.method, request.url.path, exc)
        return _error(500, "Internal storage error (details are in the server log).", "exception")

    if not settings.sessions:  # a plain FHIR server: no session API at all
        app.router.routes[:] = [r for r in app.router.routes
                                if not getattr(r, "path", "").startswith("/sessions")]
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
                            access_log=False, lifespan="off", proxy_headers=False)
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


__all__ = ["FhirRoutes", "RunningServer", "create_app", "serve_in_thread"]
