"""The CapabilityStatement: exactly the interactions, types and search parameters served.

The server is FHIR R4 (4.0.1): every type R4 and the R4B validation models share is listed
(``validation.served_types``); there is no catch-all entry. Types with type-specific search
parameters (``search_params``) list them with their modifiers; ``rest.searchParam`` holds
what every type takes (``_id``, ``_lastUpdated`` and the result parameters). Limits (page size, included resources, parameters per search) are in
``rest.documentation``.
"""

from __future__ import annotations

from functools import cache

import orjson

from .patch import PATCH_TYPE
from .search import MAX_OFFSET, MAX_PARAMS, MAX_SORT_KEYS, MAX_VALUES, SUPPORTED_SUMMARY
from .search_params import SearchParam, documented_types, params_for
from .validation import MAX_JSON_DEPTH, served_types

FHIR_VERSION = "4.0.1"
_TYPE_INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance",
                      "create", "search-type"]
_MODIFIERS = {
    "string": "modifiers :exact :contains :missing",
    "token": "modifiers :not :missing; values code, system|code, |code, system|",
    "reference": "modifiers :[type] :missing; values id, Type/id or an absolute URL; no chains",
    "date": "modifier :missing; prefixes eq ne lt gt le ge sa eb ap",
    "quantity": "modifier :missing; prefixes eq ne lt gt le ge sa eb ap; number|system|code",
}
_COMMON_PARAMS = [
    {"name": "_id", "type": "token", "documentation": "Logical id (comma = OR)"},
    {"name": "_lastUpdated", "type": "date",
     "documentation": "meta.lastUpdated with prefixes eq ne lt gt le ge sa eb ap"},
]
_RESULT_PARAMS = [
    ("_count", "number", "Page size, clamped to the server maximum; 0 = the total only"),
    ("_offset", "number", f"Paging offset (used in next/previous links), at most {MAX_OFFSET}"),
    ("_sort", "string", f"Comma-separated sort keys ('-' for descending), at most {MAX_SORT_KEYS}"),
    ("_total", "token", "none | estimate | accurate"),
    ("_totalMethod", "token", "alias of _total (fhirpy); count = accurate"),
    ("_summary", "token", " | ".join(SUPPORTED_SUMMARY)),
    ("_elements", "string", "Comma-separated top-level elements (mandatory ones are kept)"),
    ("_include", "string", "Type:param[:Target] for reference parameters"),
    ("_revinclude", "string", "Type:param[:Target] for reference parameters"),
]


def _param(p: SearchParam) -> dict:
    return {"name": p.name, "type": p.kind, "documentation": _MODIFIERS[p.kind]}


@cache
def _referrers() -> dict[str, list[str]]:
    """Target type -> the ``Source:param`` reference parameters that can point to it."""
    documented = documented_types()
    out: dict[str, list[str]] = {}
    for source in documented:
        for p in params_for(source).values():
            if p.kind != "reference":
                continue
            for target in p.targets or documented:
                out.setdefault(target, []).append(f"{source}:{p.name}")
    return {k: sorted(v) for k, v in out.items()}


def _resource(rtype: str) -> dict:
    own = params_for(rtype).values()
    out = {
        "type": rtype,
        "interaction": [{"code": code} for code in _TYPE_INTERACTIONS],
        "versioning": "versioned",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "not-supported",
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
    }
    if own:
        out["searchParam"] = [_param(p) for p in own]
    refs = [f"{rtype}:{p.name}" for p in own if p.kind == "reference"]
    if refs:
        out["searchInclude"] = refs
    if rtype in _referrers():
        out["searchRevInclude"] = _referrers()[rtype]
    return out


@cache
def capability_statement(max_count: int, max_include: int, token: bool) -> dict:
    rest: dict = {
        "mode": "server",
        "documentation": (
            f"FHIR R4 (4.0.1), JSON only (Accept: application/fhir+json; XML is 406/415). "
            f"Search pages hold at most {max_count} entries (_count is clamped) and at most "
            f"{max_include} resources added by _include/_revinclude (more is a 400 asking for a "
            f"smaller _count). A search takes at most {MAX_PARAMS} parameters and {MAX_VALUES} "
            f"comma-separated values per parameter; request bodies nest at most {MAX_JSON_DEPTH} "
            "levels. Unknown search parameters, modifiers and chains are rejected with 400 unless "
            "the request has 'Prefer: handling=lenient'. read and search honour _summary (true | "
            "data | count | false) and _elements (the elements R4 requires are kept). patch takes "
            f"JSON Patch ({PATCH_TYPE}; in a Bundle as a Binary). Conditional create: "
            "If-None-Exist, request.ifNoneExist. Version-aware update/patch: If-Match, "
            "request.ifMatch. Writes honour 'Prefer: return=minimal | representation | "
            "OperationOutcome'. Not supported: type- and system-level history, "
            "operations ($validate, $everything…), chained and _has searches, conditional "
            "update/delete."
        ),
        "resource": [_resource(rtype) for rtype in served_types()],
        "interaction": [{"code": "transaction"}, {"code": "batch"}],
        # the parameters every type takes (R4: rest.searchParam applies to all resources)
        "searchParam": [*_COMMON_PARAMS, *({"name": n, "type": t, "documentation": d}
                                           for n, t, d in _RESULT_PARAMS)],
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
        "patchFormat": [PATCH_TYPE],
        "rest": [rest],
    }


@cache
def capability_bytes(max_count: int, max_include: int, token: bool) -> bytes:
    return orjson.dumps(capability_statement(max_count, max_include, token),
                        option=orjson.OPT_SORT_KEYS)
