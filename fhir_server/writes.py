"""Write interactions: create (incl. conditional), update (incl. create-on-update), delete.

A write validates outside the store's write lock, then, inside one write transaction,
reads the visible current version, refuses a ``subject``/``patient`` naming a Patient that
is not here (``references.py``; a transaction checks after all its entries), stores the new version with ``meta.versionId`` and
``meta.lastUpdated`` set, and appends the session's write-log entry (sessions only).
What is stored is the client's JSON with those two meta fields set, keys sorted.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from .bundles import dumps
from .dates import now_iso
from .errors import FhirError
from .references import check_patient_references
from .results import run_search
from .search import parse_search
from .store import Current, lu_ms
from .validation import check_id, validate_resource

if TYPE_CHECKING:
    from .service import Ctx, FhirResponse, FhirService


def _prepare(data: dict, rtype: str) -> None:
    meta = data.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise FhirError(400, "meta must be a JSON object", code="invalid",
                        expression=[f"{rtype}.meta"])
    data["meta"] = {**(meta or {}), "versionId": "1", "lastUpdated": now_iso()}
    validate_resource(data, rtype)


def commit(service: FhirService, ctx: Ctx, interaction: str, method: str, url: str,
           status: int, rtype: str, rid: str, resource: dict | None,
           previous: Current | None) -> tuple[bytes | None, int, int]:
    """Store one new version and log it; call inside ``store.write()``. -> (body, version, lu)."""
    store = service.store
    version = previous.version + 1 if previous is not None else 1
    now = now_iso()
    lu = lu_ms(now)
    body = None
    if resource is not None:
        resource["meta"]["versionId"] = str(version)
        resource["meta"]["lastUpdated"] = now
        body = dumps(resource)
    conn = store.conn()
    store.save(conn, ctx.session, rtype, rid, version, lu, resource, body, previous)
    if ctx.session:
        store.log_write(conn, ctx.session, {
            "interaction": interaction, "method": method, "url": url, "status": status,
            "resourceType": rtype, "id": rid, "versionId": str(version), "resource": resource,
        })
    return body, version, lu


def conditional_match(service: FhirService, ctx: Ctx, rtype: str, query: str) -> Current | None:
    """The one resource matching an ``If-None-Exist`` query, None if none; 412 if several."""
    search = parse_search(rtype, parse_qsl(query.lstrip("?"), keep_blank_values=True), 2, 2)
    search.total = "none"
    result = run_search(service.store, search, ctx.session)
    if len(result.matches) > 1:
        raise FhirError(412, f"If-None-Exist '{query}' matches more than one {rtype}",
                        code="duplicate")
    if not result.matches:
        return None
    return service.store.current(rtype, result.matches[0][0], ctx.session)


def create(service: FhirService, ctx: Ctx, rtype: str, data: dict, if_none_exist: str | None,
           url: str, assigned_id: str | None = None, check_refs: bool = True) -> FhirResponse:
    from .service import resource_response

    _prepare(data, rtype)
    rid = assigned_id or str(uuid.uuid4())
    data["id"] = rid
    with service.store.write():
        if if_none_exist:
            existing = conditional_match(service, ctx, rtype, if_none_exist)
            if existing is not None:
                return resource_response(200, existing.body, existing.version, existing.lu)
        previous = service.store.current(rtype, rid, ctx.session)
        if previous is not None and not previous.deleted:
            raise FhirError(409, f"{rtype}/{rid} already exists", code="duplicate")
        if check_refs:
            check_patient_references(service, ctx, rtype, data)
        body, version, lu = commit(service, ctx, "create", "POST", url, 201, rtype, rid, data,
                                   previous)
    return resource_response(201, body, version, lu,
                             location=f"{ctx.base}/{rtype}/{rid}/_history/{version}")


def _if_match(value: str) -> int:
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise FhirError(400, f"Invalid If-Match header {value!r} (expected W/\"<version>\")",
                        code="invalid")
    return int(text)


def update(service: FhirService, ctx: Ctx, rtype: str, rid: str, data: dict,
           if_match: str | None, url: str, check_refs: bool = True) -> FhirResponse:
    from .service import resource_response

    body_id = data.get("id")
    if body_id is None:
        raise FhirError(400, f"The {rtype} in the body has no id; an update needs id {rid!r}",
                        code="required", expression=[f"{rtype}.id"])
    if body_id != rid:
        raise FhirError(400, f"The id in the body ({body_id!r}) does not match the URL ({rid!r})",
                        code="invalid", expression=[f"{rtype}.id"])
    check_id(rid)
    _prepare(data, rtype)
    wanted = _if_match(if_match) if if_match else None
    with service.store.write():
        previous = service.store.current(rtype, rid, ctx.session)
        exists = previous is not None and not previous.deleted
        if wanted is not None and (not exists or previous.version != wanted):
            have = f"version {previous.version}" if exists else "no current version"
            raise FhirError(412, f"If-Match version {wanted} does not match {rtype}/{rid} "
                            f"({have})", code="conflict")
        if check_refs:
            check_patient_references(service, ctx, rtype, data)
        status = 200 if exists else 201
        body, version, lu = commit(service, ctx, "update", "PUT", url, status, rtype, rid, data,
                                   previous)
    location = f"{ctx.base}/{rtype}/{rid}/_history/{version}"
    return resource_response(status, body, version, lu, location=location)


def delete(service: FhirService, ctx: Ctx, rtype: str, rid: str, url: str) -> FhirResponse:
    from .service import json_response

    with service.store.write():
        previous = service.store.current(rtype, rid, ctx.session)
        if previous is None:
            raise FhirError(404, f"Resource {rtype}/{rid} is not known", code="not-found")
        if previous.deleted:
            message = f"{rtype}/{rid} was already deleted"
        else:
            commit(service, ctx, "delete", "DELETE", url, 200, rtype, rid, None, previous)
            message = f"Successfully deleted {rtype}/{rid}"
    return json_response(200, {"resourceType": "OperationOutcome", "issue": [
        {"severity": "information", "code": "informational", "diagnostics": message}]})
