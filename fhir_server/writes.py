"""Write interactions: create (incl. conditional), update (incl. create-on-update), patch,
delete.

A write validates outside the store's write lock, then, inside one write transaction,
checks that its session still exists (a deleted session gets no rows), reads the visible
current version, refuses a ``subject``/``patient`` naming a Patient that is not here
(``references.py``; a transaction checks after all its entries), stores the new version with ``meta.versionId`` and ``meta.lastUpdated``
set, and appends the session's write-log entry (sessions only). What is stored is the
client's JSON with those two meta fields set, keys sorted.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

import orjson

from .bundles import dumps
from .dates import now_iso
from .errors import FhirError
from .patch import apply_patch
from .references import check_patient_references
from .responses import Ctx, FhirResponse, information, json_response, resource_response
from .results import run_search
from .search import parse_search
from .store import Current, Store, lu_ms
from .validation import check_id, validate_resource


def _prepare(data: dict, rtype: str) -> None:
    meta = data.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise FhirError(400, "meta must be a JSON object", code="invalid",
                        expression=[f"{rtype}.meta"])
    data["meta"] = {**(meta or {}), "versionId": "1", "lastUpdated": now_iso()}
    validate_resource(data, rtype)


def commit(store: Store, ctx: Ctx, interaction: str, method: str, url: str,
           status: int, rtype: str, rid: str, resource: dict | None,
           previous: Current | None) -> tuple[bytes | None, int, int]:
    """Store one new version and log it; call inside ``store.write()``. -> (body, version, lu)."""
    conn = store.conn()
    if ctx.session and not store.has_session(conn, ctx.session):
        raise FhirError(404, f"Unknown session: {ctx.session!r} (deleted while this write ran; "
                        "nothing was stored)", code="not-found")
    version = previous.version + 1 if previous is not None else 1
    now = now_iso()
    lu = lu_ms(now)
    body = None
    if resource is not None:
        resource["meta"]["versionId"] = str(version)
        resource["meta"]["lastUpdated"] = now
        body = dumps(resource)
    store.save(conn, ctx.session, rtype, rid, version, lu, resource, body, previous)
    if ctx.session:
        store.log_write(conn, ctx.session, {
            "interaction": interaction, "method": method, "url": url, "status": status,
            "resourceType": rtype, "id": rid, "versionId": str(version), "resource": resource,
        })
    return body, version, lu


def conditional_match(store: Store, ctx: Ctx, rtype: str, query: str) -> Current | None:
    """The one resource matching an ``If-None-Exist`` query, None if none; 412 if several."""
    search = parse_search(rtype, parse_qsl(query.lstrip("?"), keep_blank_values=True), 2, 2)
    search.total = "none"
    result = run_search(store, search, ctx.session)
    if len(result.matches) > 1:
        raise FhirError(412, f"If-None-Exist '{query}' matches more than one {rtype}",
                        code="duplicate")
    if not result.matches:
        return None
    return store.current(rtype, result.matches[0][0], ctx.session)


def create(store: Store, ctx: Ctx, rtype: str, data: dict, if_none_exist: str | None,
           url: str, assigned_id: str | None = None, check_refs: bool = True) -> FhirResponse:
    _prepare(data, rtype)
    rid = assigned_id or str(uuid.uuid4())
    data["id"] = rid
    with store.write():
        if if_none_exist:
            existing = conditional_match(store, ctx, rtype, if_none_exist)
            if existing is not None:
                return resource_response(200, existing.body, existing.version, existing.lu)
        previous = store.current(rtype, rid, ctx.session)
        if previous is not None and not previous.deleted:
            raise FhirError(409, f"{rtype}/{rid} already exists", code="duplicate")
        if check_refs:
            check_patient_references(store, ctx, rtype, data)
        body, version, lu = commit(store, ctx, "create", "POST", url, 201, rtype, rid, data,
                                   previous)
    return resource_response(201, body, version, lu,
                             location=f"{ctx.base}/{rtype}/{rid}/_history/{version}")


def if_match_version(value: object) -> int:
    """The version an ``If-Match`` header / ``request.ifMatch`` names (``W/"3"``), or 400."""
    if not isinstance(value, str):
        raise FhirError(400, f"ifMatch must be a string such as W/\"1\", got {value!r}",
                        code="invalid")
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit() or len(text) > 18:
        raise FhirError(400, f"Invalid If-Match header {value!r} (expected W/\"<version>\")",
                        code="invalid")
    return int(text)


def update(store: Store, ctx: Ctx, rtype: str, rid: str, data: dict,
           if_match: str | None, url: str, interaction: str = "update",
           method: str = "PUT", check_refs: bool = True) -> FhirResponse:
    body_id = data.get("id")
    if body_id is None:
        raise FhirError(400, f"The {rtype} in the body has no id; an update needs id {rid!r}",
                        code="required", expression=[f"{rtype}.id"])
    if body_id != rid:
        raise FhirError(400, f"The id in the body ({body_id!r}) does not match the URL ({rid!r})",
                        code="invalid", expression=[f"{rtype}.id"])
    check_id(rid)
    _prepare(data, rtype)
    wanted = if_match_version(if_match) if if_match is not None else None
    with store.write():
        previous = store.current(rtype, rid, ctx.session)
        exists = previous is not None and not previous.deleted
        if wanted is not None and (not exists or previous.version != wanted):
            have = f"version {previous.version}" if exists else "no current version"
            raise FhirError(412, f"If-Match version {wanted} does not match {rtype}/{rid} "
                            f"({have})", code="conflict")
        if check_refs:
            check_patient_references(store, ctx, rtype, data)
        status = 200 if exists else 201
        body, version, lu = commit(store, ctx, interaction, method, url, status, rtype, rid,
                                   data, previous)
    location = f"{ctx.base}/{rtype}/{rid}/_history/{version}"
    return resource_response(status, body, version, lu, location=location)


def patch(store: Store, ctx: Ctx, rtype: str, rid: str, operations: list,
          if_match: str | None, url: str) -> FhirResponse:
    """JSON Patch of the current version, stored as an update (validated like one)."""
    check_id(rid)
    wanted = if_match_version(if_match) if if_match is not None else None
    with store.write():  # read, patch and store under one lock: no lost update
        cur = store.current(rtype, rid, ctx.session)
        if cur is None:
            raise FhirError(404, f"Resource {rtype}/{rid} is not known", code="not-found")
        if cur.deleted:
            raise FhirError(410, f"Resource {rtype}/{rid} was deleted (version {cur.version})",
                            code="deleted")
        if wanted is not None and cur.version != wanted:
            raise FhirError(412, f"If-Match version {wanted} does not match {rtype}/{rid} "
                            f"(version {cur.version})", code="conflict")
        patched = apply_patch(orjson.loads(cur.body), operations)
        if patched.get("resourceType") != rtype or patched.get("id") != rid:
            raise FhirError(422, "JSON Patch cannot change resourceType or id", code="processing")
        return update(store, ctx, rtype, rid, patched, f'W/"{cur.version}"', url,
                      interaction="patch", method="PATCH")


def delete(store: Store, ctx: Ctx, rtype: str, rid: str, url: str) -> FhirResponse:
    with store.write():
        previous = store.current(rtype, rid, ctx.session)
        if previous is None:
            raise FhirError(404, f"Resource {rtype}/{rid} is not known", code="not-found")
        if previous.deleted:
            message = f"{rtype}/{rid} was already deleted"
        else:
            commit(store, ctx, "delete", "DELETE", url, 200, rtype, rid, None, previous)
            message = f"Successfully deleted {rtype}/{rid}"
    return json_response(200, information(message))
