"""The CapabilityStatement: exactly the interactions and search parameters served."""

from __future__ import annotations

from functools import cache

import orjson

from .search import SUPPORTED_SUMMARY
from .search_params import documented_types, params_for

FHIR_VERSION = "4.0.1"
_TYPE_INTERACTIONS = ["read", "vread", "update", "delete", "history-instance", "create",
                      "search-type"]
_COMMON_PARAMS = [
    {"name": "_id", "type": "token", "documentation": "Logical id (comma = OR)"},
    {"name": "_lastUpdated", "type": "date",
     "documentation": "meta.lastUpdated with prefixes eq ne lt gt le ge sa eb ap"},
]
_RESULT_PARAMS = [
    ("_count", "number", "Page size, clamped to the server maximum"),
    ("_offset", "number", "Paging offset (used in next/previous links)"),
    ("_sort", "string", "Comma-separated sort keys; '-' for descending"),
    ("_total", "token", "none | estimate | accurate"),
    ("_totalMethod", "token", "alias of _total (fhirpy); count = accurate"),
    ("_summary", "token", " | ".join(SUPPORTED_SUMMARY)),
    ("_elements", "string", "Comma-separated top-level elements to return"),
    ("_include", "string", "Type:param[:Target] for reference parameters"),
    ("_revinclude", "string", "Type:param[:Target] for reference parameters"),
]


def _resource(rtype: str) -> dict:
    params = [*_COMMON_PARAMS]
    params.extend({"name": p.name, "type": p.kind} for p in params_for(rtype).values())
    params.extend({"name": n, "type": t, "documentation": d} for n, t, d in _RESULT_PARAMS)
    refs = [p.name for p in params_for(rtype).values() if p.kind == "reference"]
    out = {
        "type": rtype,
        "interaction": [{"code": code} for code in _TYPE_INTERACTIONS],
        "versioning": "versioned",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchParam": params,
    }
    if refs:
        out["searchInclude"] = [f"{rtype}:{name}" for name in refs]
    return out


@cache
def capability_statement(max_count: int, token: bool) -> dict:
    resources = [_resource(rtype) for rtype in documented_types()]
    resources.append({
        "type": "Resource",
        "documentation": "Any other R4 resource type: read, vread, create, update, delete, "
                         "history-instance, and search by _id and _lastUpdated.",
        "interaction": [{"code": code} for code in _TYPE_INTERACTIONS],
        "versioning": "versioned",
        "updateCreate": True,
        "conditionalCreate": True,
        "searchParam": [*_COMMON_PARAMS],
    })
    rest: dict = {
        "mode": "server",
        "documentation": f"Search pages hold at most {max_count} entries (_count is clamped). "
                         "Unknown search parameters are rejected with 400 unless the request "
                         "has 'Prefer: handling=lenient'.",
        "resource": resources,
        "interaction": [{"code": "transaction"}, {"code": "batch"}],
    }
    if token:
        rest["security"] = {"description": "Bearer token required (Authorization: Bearer <token>)"}
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2024-01-01",
        "kind": "instance",
        "software": {"name": "medagent fhir_server", "version": "0.1.0"},
        "implementation": {"description": "medagent FHIR R4 server with isolated sessions"},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [rest],
    }


@cache
def capability_bytes(max_count: int, token: bool) -> bytes:
    return orjson.dumps(capability_statement(max_count, token), option=orjson.OPT_SORT_KEYS)
