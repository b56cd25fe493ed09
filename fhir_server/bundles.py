"""Bundle assembly by concatenating stored JSON bytes (resources are not re-parsed,
except when ``_elements`` or ``_summary=data`` asks for a subset)."""

from __future__ import annotations

import uuid
from functools import cache
from urllib.parse import urlencode

import orjson

from .dates import now_iso
from .results import SearchResult
from .search import Search
from .validation import model_class

_SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
              "code": "SUBSETTED", "display": "Resource encoded in summary mode"}
_ALWAYS = ("resourceType", "id", "meta")


def dumps(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def bundle(btype: str, entries: list[bytes], total: int | None = None,
           links: list[tuple[str, str]] | None = None) -> bytes:
    """A Bundle whose ``entry`` items are already-serialised JSON objects."""
    head = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": btype,
            "meta": {"lastUpdated": now_iso()}}
    if total is not None:
        head["total"] = total
    if links:
        head["link"] = [{"relation": rel, "url": url} for rel, url in links]
    out = dumps(head)
    if not entries:
        return out
    return out[:-1] + b',"entry":[' + b",".join(entries) + b"]}"


def entry(full_url: str | None, body: bytes | None, **extra: object) -> bytes:
    """One Bundle entry: ``fullUrl``, the stored ``resource`` bytes and extra members."""
    parts = []
    if full_url is not None:
        parts.append(b'"fullUrl":' + dumps(full_url))
    if body is not None:
        parts.append(b'"resource":' + body)
    for key, value in extra.items():
        parts.append(dumps(key) + b":" + dumps(value))
    return b"{" + b",".join(parts) + b"}"


def subset(body: bytes, elements: list[str] | None, summary: str) -> bytes:
    """Apply ``_elements`` / ``_summary=true|data`` to one stored resource."""
    if elements is None and summary not in ("data", "true"):
        return body
    resource = orjson.loads(body)
    if summary == "true":
        elements = summary_elements(resource.get("resourceType", ""))
    if elements is not None:
        keep = {*_ALWAYS, *elements, *mandatory_elements(resource.get("resourceType", ""))}
        resource = {k: v for k, v in resource.items() if k in keep or (k[:1] == "_" and k[1:] in keep)}
    else:
        resource.pop("text", None)
    meta = resource.setdefault("meta", {})
    meta["tag"] = [*meta.get("tag", []), _SUBSETTED]
    return dumps(resource)


@cache
def mandatory_elements(resource_type: str) -> frozenset[str]:
    """The top-level elements R4 requires (min 1), kept by ``_elements`` as the spec asks."""
    cls = model_class(resource_type)
    if cls is None:
        return frozenset()
    out = set()
    for name, field in cls.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if not extra.get("element_property"):
            continue
        if field.is_required() or extra.get("element_required") or extra.get("one_of_many_required"):
            out.add(field.alias or name)
    return frozenset(out)


@cache
def summary_elements(resource_type: str) -> frozenset[str]:
    """The top-level elements R4 marks as part of the summary (``_summary=true``)."""
    cls = model_class(resource_type)
    if cls is None:
        return frozenset()
    return frozenset(
        field.alias or name for name, field in cls.model_fields.items()
        if isinstance(field.json_schema_extra, dict)
        and field.json_schema_extra.get("summary_element_property"))


def searchset(base: str, search: Search, result: SearchResult) -> bytes:
    """The searchset Bundle of one page, with self/first/previous/next links."""
    query = urlencode([*search.link_params, ("_count", str(search.count))])
    url = f"{base}/{search.rtype}?{query}"

    def page(offset: int) -> str:
        return f"{url}&_offset={offset}" if offset else url

    links = [("self", page(search.offset))]
    if search.summary != "count":
        links.append(("first", page(0)))
        if search.offset > 0:
            links.append(("previous", page(max(0, search.offset - search.count))))
        if result.has_next:
            links.append(("next", page(search.offset + search.count)))
    match_tail = b',"search":{"mode":"match"}}'
    prefix = f"{base}/{search.rtype}/"
    entries = [
        b'{"fullUrl":' + dumps(prefix + rid) + b',"resource":'
        + subset(body, search.elements, search.summary) + match_tail
        for rid, body in result.matches
    ]
    include = {"mode": "include"}
    entries.extend(entry(f"{base}/{rtype}/{rid}", body, search=include)
                   for rtype, rid, body in result.included)
    return bundle("searchset", entries, result.total, links)
