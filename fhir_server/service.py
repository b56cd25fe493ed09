"""``FhirService``: the FHIR interactions as Python calls.

``dispatch(method, path, params, body, headers, session, root=None)`` is the single entry
point used by the HTTP routers, by in-process clients and by batch/transaction processing,
so every caller gets the same bytes. ``path`` is relative to the FHIR base. The root URL
written into ``fullUrl``/``Location``/paging links is ``root`` (the HTTP layer passes the one
it trusts, see ``app.request_root``), else ``ServerSettings.root_url``; request headers such
as ``Host`` are never used for it here.

Sessions have a cap (``max_sessions``; then 429) and an idle expiry
(``session_idle_seconds``; an idle session is deleted, its URLs answer 404).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import orjson

import medagent.fhir_server.writes as writes
from .bundles import bundle, entry, searchset, subset
from .capability import capability_bytes
from .errors import FhirError, StoreError
from .patch import PATCH_TYPE, parse_patch
from .responses import (CONTENT_TYPE, Ctx, FhirResponse, apply_prefer, json_response,
                        outcome_response, resource_response)
from .results import run_search
from .search import parse_search
from .settings import ServerSettings
from .store import Store
from .transactions import process_bundle
from .validation import check_id, check_type, parse_json

log = logging.getLogger("medagent.fhir_server")

JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json",
                          "application/json+fhir", "application/fhir json"})
_ANY = frozenset({"*/*", "application/*"})
_FORM = "application/x-www-form-urlencoded"

__all__ = ["Ctx", "FhirResponse", "FhirService", "json_response", "outcome_response",
           "resource_response"]


def _media_types(header: str) -> list[str]:
    """The media types of an Accept / Content-Type header (parameters dropped, q=0 skipped)."""
    out = []
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media and not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000")
                             for p in params):
            out.append(media.lower())
    return out


def _check_formats(method: str, path: str, params: list[tuple[str, str]],
                   headers: dict[str, str], body: bytes | None) -> None:
    """406 for a response format other than JSON, 415 for a request body that is not JSON."""
    for name, value in params:
        if name == "_format" and value.lower() not in JSON_FORMATS:
            raise FhirError(406, f"Unsupported _format {value!r}: this server speaks "
                            "JSON only (application/fhir+json).", code="not-supported")
    accept = _media_types(headers.get("accept", ""))
    if accept and not any(m in JSON_FORMATS or m in _ANY for m in accept):
        raise FhirError(406, f"Cannot answer in {headers['accept']!r}: this server speaks JSON "
                        "only (Accept: application/fhir+json).", code="not-supported")
    declared = _media_types(headers.get("content-type", ""))
    if not body or not declared:
        return
    media = declared[0]
    if method == "PATCH":
        allowed = {PATCH_TYPE}
    elif path.endswith("_search"):
        allowed = {_FORM, *JSON_FORMATS}
    else:
        allowed = JSON_FORMATS
    if media not in allowed:
        raise FhirError(415, f"Unsupported Content-Type {media!r} for {method}: send "
                        f"{' or '.join(sorted(allowed & {PATCH_TYPE, _FORM, 'application/fhir+json'}))}",
                        code="not-supported")


class FhirService:
    """The FHIR REST interactions over a :class:`Store`, with sessions."""

    def __init__(self, store: Store, settings: ServerSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ServerSettings()
        self._used: dict[str, float] = {}  # session -> monotonic time of its last request
        self._used_lock = threading.Lock()

    # -- sessions -------------------------------------------------------------------------
    def create_session(self) -> str:
        self.expire_sessions()
        sid = uuid.uuid4().hex
        with self.store.write() as conn:
            (open_now,) = conn.execute("SELECT count(*) FROM sessions").fetchone()
            if open_now >= self.settings.max_sessions:
                open_now -= self._drop_stale(conn)
            if open_now >= self.settings.max_sessions:
                raise FhirError(429, f"{open_now} sessions are open, the limit is "
                                f"{self.settings.max_sessions}: delete finished sessions "
                                "(DELETE /sessions/{id}) and retry.", code="throttled")
            conn.execute("INSERT INTO sessions VALUES (?, datetime('now'))", (sid,))
        self._touch(sid)
        return sid

    def _drop_stale(self, conn: sqlite3.Connection) -> int:
        """At the cap: delete sessions this process never served (left by a process that
        ended without deleting them) created longer than ``session_idle_seconds`` ago."""
        with self._used_lock:
            known = set(self._used)
        cutoff = f"-{int(self.settings.session_idle_seconds)} seconds"
        stale = [sid for (sid,) in conn.execute(
            "SELECT id FROM sessions WHERE created < datetime('now', ?)", (cutoff,))
            if sid not in known]
        for sid in stale:
            self.store.delete_session(sid)  # joins this write transaction
        return len(stale)

    def _touch(self, sid: str) -> float | None:
        """Record a request of ``sid``; returns the time of its previous one (None if unseen)."""
        now = time.monotonic()
        with self._used_lock:
            previous = self._used.get(sid)
            self._used[sid] = now
        return previous

    def expire_sessions(self) -> list[str]:
        """Delete the sessions idle for longer than ``session_idle_seconds``; their ids."""
        limit = self.settings.session_idle_seconds
        now = time.monotonic()
        with self._used_lock:
            idle = [sid for sid, used in self._used.items() if now - used > limit]
        for sid in idle:
            self._forget(sid)
        return idle

    def _forget(self, sid: str) -> None:
        self.store.delete_session(sid)
        with self._used_lock:
            self._used.pop(sid, None)

    def session_exists(self, sid: str) -> bool:
        return self.store.has_session(self.store.conn(), sid)

    def _check_session(self, sid: str) -> None:
        if not self.session_exists(sid):
            raise FhirError(404, f"Unknown session: {sid!r}", code="not-found")
        previous = self._touch(sid)  # a session this process has not seen yet starts now
        if previous is not None and time.monotonic() - previous > self.settings.session_idle_seconds:
            self._forget(sid)
            raise FhirError(404, f"Unknown session: {sid!r} (expired after "
                            f"{self.settings.session_idle_seconds:g} s idle)", code="not-found")

    def session_log(self, sid: str) -> list[dict]:
        """The whole write log (in-process callers; over HTTP it is paged, see ``log_page``)."""
        self._check_session(sid)
        rows = self.store.conn().execute(
            "SELECT entry FROM write_log WHERE session=? ORDER BY seq", (sid,)).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def log_page(self, sid: str, since: int = 0, count: int | None = None) -> tuple[bytes, int | None]:
        """One page of the write log as a JSON array: the entries with ``seq > since``, at
        most ``count`` (clamped to ``max_log_entries``) and at most ``max_reply_bytes`` bytes
        (always at least one entry). -> (body, the seq to continue after, or None at the end)."""
        self._check_session(sid)
        limit = min(count or self.settings.max_log_entries, self.settings.max_log_entries)
        budget = self.settings.max_reply_bytes - 2
        rows = self.store.conn().execute(
            "SELECT seq, entry FROM write_log WHERE session=? AND seq>? ORDER BY seq LIMIT ?",
            (sid, since, limit + 1)).fetchall()
        parts: list[bytes] = []
        size, last = 0, since
        for seq, entry in rows[:limit]:
            if parts and size + len(entry) + 1 > budget:
                return b"[" + b",".join(parts) + b"]", last
            parts.append(entry)
            size += len(entry) + 1
            last = seq
        more = len(rows) > limit
        return b"[" + b",".join(parts) + b"]", (last if more else None)

    def delete_session(self, sid: str) -> None:
        if not self.session_exists(sid):
            raise FhirError(404, f"Unknown session: {sid!r}", code="not-found")
        self._forget(sid)

    # -- dispatch -------------------------------------------------------------------------
    def dispatch(self, method: str, path: str, params: list[tuple[str, str]] | None = None,
                 body: bytes | None = None, headers: dict[str, str] | None = None,
                 session: str | None = None, root: str | None = None) -> FhirResponse:
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        params = list(params or [])
        method = method.upper()
        path = path.strip("/")
        try:
            if session:
                self._check_session(session)
            _check_formats(method, path, params, headers, body)
            ctx = Ctx(session or "", self._base(root, session), headers)
            resp = self.route(ctx, method, path, params, body)
        except FhirError as exc:
            resp = outcome_response(exc)
        except RecursionError:  # a backstop: bodies deeper than MAX_JSON_DEPTH are refused first
            resp = outcome_response(FhirError(400, "The request nests too deeply.",
                                              code="too-costly"))
        except (sqlite3.Error, StoreError):
            # details go to the server log only: storage texts are not for clients
            log.exception("storage error in %s %s", method, path)
            resp = outcome_response(FhirError(
                500, "Internal storage error (details are in the server log).", code="exception"))
        limit = self.settings.max_reply_bytes
        if len(resp.body) > limit:
            resp = outcome_response(FhirError(
                400, f"The reply would be {len(resp.body)} bytes; the limit is {limit}. Ask "
                "for less (a smaller _count, fewer _include/_revinclude).", code="too-costly"))
        return resp

    def _base(self, root: str | None, session: str | None) -> str:
        root = (root or self.settings.root_url).rstrip("/")
        return f"{root}/sessions/{session}/fhir" if session else f"{root}/fhir"

    def route(self, ctx: Ctx, method: str, path: str, params: list[tuple[str, str]],
              body: bytes | None) -> FhirResponse:
        parts = path.split("/") if path else []
        n = len(parts)
        if n == 0:
            if method == "POST":
                data = parse_json(body, self.settings.max_body_bytes)
                return process_bundle(self.store, self._read_entry, ctx, data)
            raise FhirError(400, "System-level interactions other than batch/transaction are "
                            "not supported.", code="not-supported")
        if parts[0] == "metadata" and n == 1:
            if method != "GET":
                raise _not_allowed(method, path)
            cap = capability_bytes(self.settings.max_count, self.settings.max_include,
                                   bool(self.settings.token))
            return FhirResponse(200, {"content-type": CONTENT_TYPE}, cap)
        _unsupported_operation(parts)
        rtype = parts[0]
        check_type(rtype)
        if n == 1:
            if method == "GET":
                return self.search(ctx, rtype, params)
            if method == "POST":
                data = parse_json(body, self.settings.max_body_bytes)
                return apply_prefer(ctx, writes.create(
                    self.store, ctx, rtype, data, ctx.headers.get("if-none-exist"), url=rtype))
            raise _not_allowed(method, path)
        if n == 2 and parts[1] == "_search":
            if method != "POST":
                raise _not_allowed(method, path)
            form = body.decode("utf-8", "replace") if body else ""
            return self.search(ctx, rtype, [*params, *parse_qsl(form, keep_blank_values=True)])
        if parts[1] == "_history":
            raise FhirError(404, f"Type-level history ({rtype}/_history) is not supported; read "
                            f"one resource's history at {rtype}/<id>/_history.",
                            code="not-supported")
        rid = parts[1]
        check_id(rid)
        if n == 2:
            return self._instance(ctx, method, path, rtype, rid, params, body)
        if parts[2] == "_history" and method == "GET" and n in (3, 4):
            if n == 3:
                return self.history(ctx, rtype, rid)
            return self.vread(ctx, rtype, rid, parts[3])
        raise FhirError(404, f"Unsupported path: {method} {path}", code="not-supported")

    def _instance(self, ctx: Ctx, method: str, path: str, rtype: str, rid: str,
                  params: list[tuple[str, str]], body: bytes | None) -> FhirResponse:
        if method == "GET":
            return self.read(ctx, rtype, rid, params)
        if method == "PUT":
            data = parse_json(body, self.settings.max_body_bytes)
            return apply_prefer(ctx, writes.update(self.store, ctx, rtype, rid, data,
                                                   ctx.headers.get("if-match"), url=path))
        if method == "PATCH":
            if ctx.headers.get("content-type", "").split(";")[0].strip().lower() != PATCH_TYPE:
                raise FhirError(415, f"PATCH needs Content-Type {PATCH_TYPE} (JSON Patch); "
                                "FHIRPath Patch is not supported.", code="not-supported")
            if body is not None and len(body) > self.settings.max_body_bytes:
                parse_json(body, self.settings.max_body_bytes)  # the 413
            return apply_prefer(ctx, writes.patch(self.store, ctx, rtype, rid, parse_patch(body),
                                                  ctx.headers.get("if-match"), url=path))
        if method == "DELETE":
            return writes.delete(self.store, ctx, rtype, rid, url=path)
        raise _not_allowed(method, path)

    def _read_entry(self, ctx: Ctx, path: str, params: list[tuple[str, str]]) -> FhirResponse:
        """A GET entry of a batch/transaction."""
        return self.route(ctx, "GET", path, params, None)

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
        result = run_search(self.store, search, ctx.session, max_include=s.max_include,
                            max_bytes=s.max_reply_bytes)
        return FhirResponse(200, {"content-type": CONTENT_TYPE}, searchset(ctx.base, search, result))


def _unsupported_operation(parts: list[str]) -> None:
    """A clear 'not supported' for FHIR operations (``$validate``, ``$everything``…)."""
    op = next((p for p in parts if p.startswith("$")), None)
    if op is not None:
        raise FhirError(404, f"The operation {op} is not supported by this server (see "
                        "/metadata for what is).", code="not-supported")


def _iso(lu_ms: int) -> str:
    return datetime.fromtimestamp(lu_ms / 1000, UTC).isoformat(timespec="milliseconds")


def _not_allowed(method: str, path: str) -> FhirError:
    return FhirError(405, f"Method {method} is not allowed on {path or '/'}", code="not-supported")
