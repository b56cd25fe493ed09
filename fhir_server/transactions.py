"""Batch and transaction Bundles.

A transaction runs in one store write transaction: entries are processed in FHIR order
(DELETE, POST, PUT/PATCH, GET), ``urn:uuid:`` fullUrls of created resources are replaced by
their new ``Type/id`` everywhere in the Bundle's resources, patient references of created
and updated resources are checked once all entries are in (``references.py``; a PATCH
entry, processed after every POST and DELETE, is checked as it runs), and the first failing
entry rolls everything back (its OperationOutcome is the answer). A batch runs each entry on its own.
Both honour ``request.ifNoneExist`` (conditional create) and ``request.ifMatch``; a PATCH
entry carries a JSON Patch in a Binary resource (``contentType`` application/json-patch+json).
``Prefer: return=`` shapes every write entry's response like a single write's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import orjson

import medagent.fhir_server.writes as writes
from .bundles import bundle, entry
from .errors import FhirError
from .patch import patch_from_binary
from .references import check_patient_references
from .responses import CONTENT_TYPE, Ctx, FhirResponse, outcome_response, resource_response, \
    write_outcome
from .store import Store
from .validation import check_type

# Runs a GET entry (a read or search) through the service's router.
Reader = Callable[[Ctx, str, list], FhirResponse]

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_WRITES = ("POST", "PUT", "PATCH")
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 412: "Precondition Failed",
            413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity"}


def _optional_string(request: dict, key: str, where: str) -> str | None:
    value = request.get(key)
    if value is not None and not isinstance(value, str):
        raise FhirError(400, f"{where}.request.{key} must be a string, got {value!r}",
                        code="invalid", expression=[f"{where}.request.{key}"])
    return value


class _Entry:
    def __init__(self, index: int, raw: object) -> None:
        where = f"Bundle.entry[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
            raise FhirError(400, f"{where} has no request", code="required",
                            expression=[f"{where}.request"])
        request = raw["request"]
        self.index = index
        method, url = request.get("method"), request.get("url")
        self.method = method.upper() if isinstance(method, str) else ""
        self.url = url.lstrip("/") if isinstance(url, str) else ""
        if self.method not in _ORDER or not self.url:
            raise FhirError(400, f"{where}.request needs a method (GET POST PUT PATCH DELETE) "
                            "and a url", code="required", expression=[f"{where}.request"])
        self.full_url = raw.get("fullUrl")
        self.resource = raw.get("resource")
        self.if_none_exist = _optional_string(request, "ifNoneExist", where)
        self.if_match = _optional_string(request, "ifMatch", where)
        split = urlsplit(self.url)
        self.path = split.path.strip("/")
        self.params = parse_qsl(split.query, keep_blank_values=True)
        self.assigned_id: str | None = None
        self.existing = False
        self.operations = patch_from_binary(self.resource, where) if self.method == "PATCH" else None
        if self.method in ("POST", "PUT") and not isinstance(self.resource, dict):
            raise FhirError(400, f"{where} ({self.method}) has no resource", code="required",
                            expression=[f"{where}.resource"])

    def instance(self) -> tuple[str, str]:
        rtype, _, rid = self.path.partition("/")
        check_type(rtype)
        if not rid or "/" in rid:
            raise FhirError(400, f"Bundle.entry[{self.index}]: {self.method} needs a url "
                            f"Type/id, got {self.url!r}", code="invalid")
        return rtype, rid


def _rewrite(value: object, mapping: dict[str, str]) -> object:
    if isinstance(value, dict):
        return {k: (mapping.get(v, v) if k == "reference" and isinstance(v, str)
                    else _rewrite(v, mapping)) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    return value


def _run(store: Store, read: Reader, ctx: Ctx, e: _Entry, check_refs: bool = True) -> FhirResponse:
    if e.method == "POST":
        check_type(e.path)
        if e.existing:
            cur = store.current(e.path, e.assigned_id, ctx.session)
            return resource_response(200, cur.body, cur.version, cur.lu)
        # a transaction matched ifNoneExist up front (_assign_ids); a batch matches here
        if_none_exist = None if e.assigned_id else e.if_none_exist
        return writes.create(store, ctx, e.path, e.resource, if_none_exist, url=e.url,
                             assigned_id=e.assigned_id, check_refs=check_refs)
    if e.method == "PUT":
        rtype, rid = e.instance()
        return writes.update(store, ctx, rtype, rid, e.resource, e.if_match, url=e.url,
                             check_refs=check_refs)
    if e.method == "PATCH":
        rtype, rid = e.instance()
        return writes.patch(store, ctx, rtype, rid, e.operations, e.if_match, url=e.url)
    if e.method == "DELETE":
        rtype, rid = e.instance()
        return writes.delete(store, ctx, rtype, rid, url=e.url)
    return read(ctx, e.path, e.params)


def _response_entry(ctx: Ctx, method: str, resp: FhirResponse) -> bytes:
    status = f"{resp.status} {_REASONS.get(resp.status, '')}".strip()
    response: dict = {"status": status}
    for key in ("location", "etag"):
        if key in resp.headers:
            response[key] = resp.headers[key]
    if resp.status >= 400:
        response["outcome"] = orjson.loads(resp.body)
        return entry(None, None, response=response)
    location = resp.headers.get("location")
    full_url = location.split("/_history/")[0] if location else None
    body = resp.body or None
    if method in _WRITES and ctx.return_preference != "representation":
        if ctx.return_preference == "OperationOutcome":
            response["outcome"] = write_outcome(resp)
        body = None
    return entry(full_url, body, response=response)


def process_bundle(store: Store, read: Reader, ctx: Ctx, data: dict) -> FhirResponse:
    if data.get("resourceType") != "Bundle" or data.get("type") not in ("batch", "transaction"):
        raise FhirError(400, "POST to the base needs a Bundle of type batch or transaction",
                        code="invalid", expression=["Bundle.type"])
    raw_entries = data.get("entry") or []
    if not isinstance(raw_entries, list):
        raise FhirError(400, "Bundle.entry must be a list", code="structure",
                        expression=["Bundle.entry"])
    if data["type"] == "batch":
        out = []
        for i, raw in enumerate(raw_entries):
            method = ""
            try:
                e = _Entry(i, raw)
                method = e.method
                resp = _run(store, read, ctx, e)
            except FhirError as exc:
                resp = outcome_response(exc)
            out.append(_response_entry(ctx, method, resp))
        return FhirResponse(200, {"content-type": CONTENT_TYPE}, bundle("batch-response", out))
    entries = [_Entry(i, raw) for i, raw in enumerate(raw_entries)]
    responses: dict[int, FhirResponse] = {}
    with store.write():
        mapping = _assign_ids(store, ctx, entries)
        for e in entries:
            if isinstance(e.resource, dict) and e.method != "PATCH":
                e.resource = _rewrite(e.resource, mapping)
        for e in sorted(entries, key=lambda e: (_ORDER[e.method], e.index)):
            try:
                resp = _run(store, read, ctx, e, check_refs=False)
            except FhirError as exc:
                raise FhirError(exc.status, f"Transaction failed at Bundle.entry[{e.index}] "
                                f"({e.method} {e.url}); nothing was stored: {exc.diagnostics}",
                                code=exc.code, expression=exc.expression) from None
            if resp.status >= 400:
                raise FhirError(resp.status, f"Transaction failed at Bundle.entry[{e.index}] "
                                f"({e.method} {e.url}); nothing was stored", code="processing")
            responses[e.index] = resp
        for e in entries:  # references may point anywhere in the Bundle: check at the end
            if e.method in ("POST", "PUT") and not e.existing:
                check_patient_references(store, ctx, e.path.partition("/")[0], e.resource,
                                         where=f"Transaction refused, nothing was stored: "
                                         f"Bundle.entry[{e.index}] ")
    out = [_response_entry(ctx, e.method, responses[e.index]) for e in entries]
    return FhirResponse(200, {"content-type": CONTENT_TYPE}, bundle("transaction-response", out))


def _assign_ids(store: Store, ctx: Ctx, entries: list[_Entry]) -> dict[str, str]:
    """Ids for created resources (or the match of ``ifNoneExist``): urn:uuid -> Type/id."""
    mapping: dict[str, str] = {}
    for e in entries:
        if e.method == "POST":
            check_type(e.path)
            if e.if_none_exist:
                cur = writes.conditional_match(store, ctx, e.path, e.if_none_exist)
                if cur is not None:
                    e.existing = True
                    e.assigned_id = orjson.loads(cur.body)["id"]
            if e.assigned_id is None:
                e.assigned_id = str(uuid.uuid4())
            if isinstance(e.full_url, str) and e.full_url.startswith("urn:uuid:"):
                mapping[e.full_url] = f"{e.path}/{e.assigned_id}"
        elif e.method == "PUT" and isinstance(e.full_url, str) and e.full_url.startswith("urn:"):
            mapping[e.full_url] = e.path
    return mapping
