"""FHIR clients the agent tools call: over HTTP, or in-process through ``FhirService``.

Both speak one small protocol (``FhirClient``): ``await client.request(method, path,
params=None, json=None) -> FhirReply(status, body)`` where ``path`` is relative to the FHIR
base (``"Observation"``, ``"Patient/S1234567"``), ``params`` is a mapping (a list value
repeats the parameter) or a list of pairs, and ``body`` is the parsed JSON reply (or the
text when it is not JSON). Every request/response pair is appended to ``client.requests``
(for trial records) as ``{"method", "path", "params", "body", "status", "response"}``.

A transport failure (no HTTP reply at all) raises ``FhirClientError``; HTTP error statuses
are replies, not exceptions.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import httpx
import orjson

from .errors import FhirClientError
from .models import FhirReply

Params = Mapping[str, Any] | Iterable[tuple[str, str]] | None
_FHIR_JSON = "application/fhir+json"


@runtime_checkable
class FhirClient(Protocol):
    requests: list[dict]

    async def request(
        self, method: str, path: str, params: Params = None, json: Any = None
    ) -> FhirReply: ...


def param_pairs(params: Params) -> list[tuple[str, str]]:
    """``{"code": "MG", "date": ["ge2023", "le2024"]}`` → ``[("code", "MG"), ("date", "ge2023"),
    ("date", "le2024")]``."""
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((str(key), _text(v)) for v in values)
    return pairs


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def decode_body(raw: bytes) -> Any:
    """A reply body as the clients record it: JSON when it parses, else text; None when empty."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


class _Recording:
    def __init__(self) -> None:
        self.requests: list[dict] = []

    def _record(self, method: str, path: str, pairs: list[tuple[str, str]], json: Any,
                reply: FhirReply) -> FhirReply:
        self.requests.append({
            "method": method, "path": path, "params": [list(p) for p in pairs],
            "body": json, "status": reply.status, "response": reply.body,
        })
        return reply


class HttpFhirClient(_Recording):
    """A FHIR client over HTTP (any FHIR R4 base URL, including a session's base URL)."""

    def __init__(self, base_url: str, token: str | None = None,
                 http: httpx.AsyncClient | None = None, timeout: float = 60.0) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self._own = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._headers = {"Accept": _FHIR_JSON}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    async def request(self, method: str, path: str, params: Params = None,
                      json: Any = None) -> FhirReply:
        method = method.upper()
        pairs = param_pairs(params)
        headers = dict(self._headers)
        content = None
        if json is not None:
            content = orjson.dumps(json)
            headers["Content-Type"] = _FHIR_JSON
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            resp = await self._http.request(method, url, params=pairs, content=content,
                                            headers=headers)
        except httpx.HTTPError as exc:
            raise FhirClientError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        reply = FhirReply(resp.status_code, decode_body(resp.content), dict(resp.headers))
        return self._record(method, path, pairs, json, reply)

    async def aclose(self) -> None:
        if self._own:
            await self._http.aclose()

    async def __aenter__(self) -> HttpFhirClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class LocalFhirClient(_Recording):
    """A FHIR client that calls ``FhirService.dispatch`` in-process (no HTTP, no socket).

    ``session`` is a server session id (``service.create_session()``) or None for the
    shared baseline.
    """

    def __init__(self, service: Any, session: str | None = None) -> None:
        super().__init__()
        self.service = service
        self.session = session

    async def request(self, method: str, path: str, params: Params = None,
                      json: Any = None) -> FhirReply:
        method = method.upper()
        pairs = param_pairs(params)
        headers = {"accept": _FHIR_JSON}
        body = None
        if json is not None:
            body = orjson.dumps(json)
            headers["content-type"] = _FHIR_JSON
        resp = self.service.dispatch(method, path.lstrip("/"), pairs, body, headers, self.session)
        if inspect.isawaitable(resp):
            resp = await resp
        reply = FhirReply(resp.status, decode_body(resp.body), dict(resp.headers or {}))
        return self._record(method, path, pairs, json, reply)
