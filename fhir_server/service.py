"""``FhirService``: the FHIR interactions as Python calls.

``dispatch(method, path, params, body, headers, session)`` is the single entry point used
by the HTTP routers, by in-process clients and by batch/transaction processing, so every
caller gets the same bytes. ``path`` is relative to the FHIR base. The base URL written into
``fullUrl``/``Location``/paging links comes from the ``Host`` header (as HTTP clients send
it), else from ``ServerSettings.base_url``.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from urllib.parse import parse_qsl

import orjson

from . import writes
from .bundles import bundle, dumps, entry, searchset, subset
from .capability import capability_bytes
from .errors import FhirError, StoreError
from .results import run_search
from .search import parse_search
from .settings import ServerSettings
from .store import Store
from .validation import check_id, check_type, parse_json

JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json",
                          "application/json+fhir", "application/fhir json"})
CONTENT_TYPE = "application/fhir+json; charset=utf-8"


@dataclass(slots=True)
class FhirResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> object:
        return orjson.loads(self.body) if self.body else None


@dataclass(slots=True)
class Ctx:
    """Per-request context: the session ('' = baseline), the absolute FHIR base, headers."""

    session: str
    base: str
    headers: dict[str, str]

    @property
    def lenient(self) -> bool:
        return "handling=lenient" in self.headers.get("prefer", "").replace(" ", "")


def http_date(lu_ms: int) -> str:
    return formatdate(lu_ms / 1000, usegmt=True)


def resource_response(status: int, body: bytes, version: int, lu: int,
                      location: str | None = None) -> FhirResponse:
    headers = {"content-type": CONTENT_TYPE, "etag": f'W/"{version}"',
               "last-modified": http_date(lu)}
    if location is not None:
        headers["location"] = location
    return FhirResponse(status, headers, body)


def outcome_response(exc: FhirError) -> FhirResponse:
    return FhirResponse(exc.status, {"content-type": CONTENT_TYPE}, dumps(exc.operation_outcome()))


def json_response(status: int, value: object) -> FhirResponse:
    return FhirResponse(status, {"content-type": CONTENT_TYPE}, dumps(value))


class FhirService:
    """The FHIR REST interactions over a :class:`Store`, with sessions."""

    def __init__(self, store: Store, settings: ServerSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ServerSettings()

    # -- sessions -------------------------------------------------------------------------
    def create_session(self) -> str:
        sid = uuid.uuid4().hex
        with self.store.write() as conn:
            conn.execute("INSERT INTO sessions VALUES (?, datetime('now'))", (sid,))
        return sid

    def session_exists(self, sid: str) -> bool:
        row = self.store.conn().execute("SELECT 1 FROM sessions WHERE id=?", (sid,)).fetchone()
        return row is not None

    def _check_session(self, sid: str) -> None:
        if not self.session_exists(sid):
            raise FhirError(404, f"Unknown session: {sid!r}", code="not-found")

    def session_log(self, sid: str) -> list[dict]:
        self._check_session(sid)
        rows = self.store.conn().execute(
            "SELECT entry FROM write_log WHERE session=? ORDER BY seq", (sid,)).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def delete_session(self, sid: str) -> None:
        self._check_session(sid)
        self.store.delete_session(sid)

    # -- dispatch -------------------------------------------------------------------------
    def dispatch(self, method: str, path: str, params: list[tuple[str, str]] | None = None,
                 body: bytes | None = None, headers: dict[str, str] | None = None,
                 session: str | None = None) -> FhirResponse:
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        params = list(params or [])
        try:
            if session:
                self._check_session(session)
            for name, value in params:
                if name == "_format" and value.lower() not in JSON_FORMATS:
                    raise FhirError(406, f"Unsupported _format {value!r}: this server speaks "
                                    "JSON only (application/fhir+json).", code="not-supported")
            ctx = Ctx(session or "", self._base(headers, session), headers)
            return self.route(ctx, method.upper(), path.strip("/"), params, body)
        except FhirError as exc:
            return outcome_response(exc)
        except (sqlite3.Error, StoreError) as exc:
            return outcome_response(FhirError(500, f"Storage error: {exc}", code="exception"))

    def _base(self, headers: dict[str, str], session: str | None) -> str:
        host = headers.get("host")
        if host:
            root = f"{headers.get('x-forwarded-proto', 'http')}://{host}"
        else:
            root = self.settings.base_url.removesuffix("/fhir")
        return f"{root}/sessions/{session}/fhir" if session else f"{root}/fhir"

    def route(self, ctx: Ctx, method: str, path: str, params: list[tuple[str, str]],
              body: bytes | None) -> FhirResponse:
        parts = path.split("/") if path else []
        n = len(parts)
        if n == 0:
            if method == "POST":
                from .transactions import process_bundle

                return process_bundle(self, ctx, parse_json(body, self.settings.max_body_bytes))
            raise FhirError(400, "System-level interactions other than batch/transaction are "
                            "not supported.", code="not-supported")
        if parts[0] == "metadata" and n == 1:
            if method != "GET":
                raise _not_allowed(method, path)
            cap = capability_bytes(self.settings.max_count, bool(self.settings.token))
            return FhirResponse(200, {"content-type": CONTENT_TYPE}, cap)
        rtype = parts[0]
        check_type(rtype)
        if n == 1:
            if method == "GET":
                return self.search(ctx, rtype, params)
            if method == "POST":
                data = parse_json(body, self.settings.max_body_bytes)
                return writes.create(self, ctx, rtype, data, ctx.headers.get("if-none-exist"),
                                     url=rtype)
            raise _not_allowed(method, path)
        if n == 2 and parts[1] == "_search" and method == "POST":
            form = body.decode("utf-8", "replace") if body else ""
            return self.search(ctx, rtype, [*params, *parse_qsl(form, keep_blank_values=True)])
        rid = parts[1]
        check_id(rid)
        if n == 2:
            if method == "GET":
                return self.read(ctx, rtype, rid, params)
            if method == "PUT":
                data = parse_json(body, self.settings.max_body_bytes)
                return writes.update(self, ctx, rtype, rid, data, ctx.headers.get("if-match"),
                                     url=path)
            if method == "DELETE":
                return writes.delete(self, ctx, rtype, rid, url=path)
            raise _not_allowed(method, path)
        if parts[2] == "_history" and method == "GET" and n in (3, 4):
            if n == 3:
                return self.history(ctx, rtype, rid)
            return self.vread(ctx, rtype, rid, parts[3])
        raise FhirError(404, f"Unsupported path: {method} {path}", code="not-supported")

    # -- reads ----------------------------------------------------------------------------
    def read(self, ctx: Ctx, rtype: str, rid: str,
             params: list[tuple[str, str]] | None = None) -> FhirResponse:
        cur = self.store.current(rtype, rid, ctx.session)
        if cur is None:
            raise FhirError(404, f"Resource {rtype}/{rid} is not known", code="not-found")
        if cur.deleted:
            raise FhirError(410, f"Resource {rtype}/{rid} was deleted (version {cur.version})",
                            code="deleted")
        elements = [e.strip() for k, v in params or () if k == "_elements"
                    for e in v.split(",") if e.strip()]
        summary = next((v for k, v in params or () if k == "_summary"), "false")
        body = subset(cur.body, elements or None, summary)  # the stored bytes when neither applies
        return resource_response(200, body, cur.version, cur.lu)

    def vread(self, ctx: Ctx, rtype: str, rid: str, vid: str) -> FhirResponse:
        for cur in self.store.versions(rtype, rid, ctx.session):
            if str(cur.version) == vid:
                if cur.deleted:
                    raise FhirError(410, f"Version {vid} of {rtype}/{rid} is a deletion",
                                    code="deleted")
                return resource_response(200, cur.body, cur.version, cur.lu)
        raise FhirError(404, f"Version {vid} of {rtype}/{rid} is not known", code="not-found")

    def history(self, ctx: Ctx, rtype: str, rid: str) -> FhirResponse:
        versions = self.store.versions(rtype, rid, ctx.session)
        if not versions:
            raise FhirError(404, f"Resource {rtype}/{rid} is not known", code="not-found")
        entries = []
        for cur in versions:
            method = "DELETE" if cur.deleted else ("POST" if cur.version == 1 else "PUT")
            url = rtype if method == "POST" else f"{rtype}/{rid}"
            response = {"status": "200 OK" if not cur.deleted else "204 No Content",
                        "etag": f'W/"{cur.version}"', "lastModified": _iso(cur.lu)}
            entries.append(entry(f"{ctx.base}/{rtype}/{rid}", None if cur.deleted else cur.body,
                                 request={"method": method, "url": url}, response=response))
        links = [("self", f"{ctx.base}/{rtype}/{rid}/_history")]
        return FhirResponse(200, {"content-type": CONTENT_TYPE},
                            bundle("history", entries, len(entries), links))

    def search(self, ctx: Ctx, rtype: str, params: list[tuple[str, str]]) -> FhirResponse:
        s = self.settings
        search = parse_search(rtype, params, s.default_count, s.max_count, lenient=ctx.lenient)
        result = run_search(self.store, search, ctx.session)
        return FhirResponse(200, {"content-type": CONTENT_TYPE}, searchset(ctx.base, search, result))


def _iso(lu_ms: int) -> str:
    return datetime.fromtimestamp(lu_ms / 1000, UTC).isoformat(timespec="milliseconds")


def _not_allowed(method: str, path: str) -> FhirError:
    return FhirError(405, f"Method {method} is not allowed on {path or '/'}", code="not-supported")


__all__ = ["Ctx", "FhirResponse", "FhirService"]
