"""Index rows extracted from a resource (a plain dict), for the search index tables.

Pure Python on dicts, no model validation: this is the bulk-load hot path.
Rows are tuples without the resource's row id (the store adds it):

- token:     (param_id, system, code)   (a missing system is '', never NULL: the
  index tables are WITHOUT ROWID, whose primary-key columns cannot hold NULL)
- string:    (param_id, normalised, exact)
- date:      (param_id, lo_ms, hi_ms)
- reference: (param_id, target_type, target_id)
- quantity:  (param_id, value, system, code)   (missing system/code are '')
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cache

from .dates import value_range
from .search_params import TELECOM_SYSTEM, SearchParam, params_for

_STRING_PARTS = {
    "name": ("text", "family", "given", "prefix", "suffix"),
    "address": ("text", "line", "city", "district", "state", "postalCode", "country"),
}


def normalise(text: str) -> str:
    """Case- and accent-insensitive form of a string, for string search."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(slots=True)
class IndexRows:
    patient: str | None = None
    token: list[tuple] = field(default_factory=list)
    string: list[tuple] = field(default_factory=list)
    date: list[tuple] = field(default_factory=list)
    reference: list[tuple] = field(default_factory=list)
    quantity: list[tuple] = field(default_factory=list)


def _values(value, rest: tuple[str, ...]) -> list:
    values = value if isinstance(value, list) else [value]
    for key in rest:
        nxt = []
        for v in values:
            if isinstance(v, dict):
                x = v.get(key)
                if x is None:
                    continue
                if isinstance(x, list):
                    nxt.extend(x)
                else:
                    nxt.append(x)
        values = nxt
    return values


@cache
def _plan(resource_type: str) -> dict[str, list[tuple[SearchParam, tuple[str, ...]]]]:
    """Top-level element name -> the parameters (and the rest of their path) that read it."""
    plan: dict[str, list] = {}
    for param in params_for(resource_type).values():
        for path in param.paths:
            plan.setdefault(path[0], []).append((param, path[1:]))
    return plan


def split_reference(ref: str) -> tuple[str, str] | None:
    """``"Patient/S1"`` (or an absolute URL, or a versioned reference) → ``("Patient", "S1")``."""
    parts = ref.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-2][:1].isupper():
        return None
    return parts[-2], parts[-1]


def _tokens(param: SearchParam, value, out: list) -> None:
    key = param.pid
    if isinstance(value, str):
        out.append((key, "", value))
    elif isinstance(value, bool):
        out.append((key, "", "true" if value else "false"))
    elif isinstance(value, dict):
        coding = value.get("coding")
        if coding is not None:
            for c in coding:
                if isinstance(c, dict) and "code" in c:
                    out.append((key, c.get("system") or "", str(c["code"])))
        elif "code" in value:
            out.append((key, value.get("system") or "", str(value["code"])))
        elif "value" in value:
            system = value.get("system") or ""
            wanted = TELECOM_SYSTEM.get(param.name)
            if wanted is None or system == wanted:
                out.append((key, system, str(value["value"])))


def _strings(param: SearchParam, value, out: list) -> None:
    if isinstance(value, str):
        out.append((param.pid, normalise(value), value))
    elif isinstance(value, dict):
        for part in _STRING_PARTS.get(param.paths[0][-1], ()):
            x = value.get(part)
            for s in x if isinstance(x, list) else (x,):
                if isinstance(s, str):
                    out.append((param.pid, normalise(s), s))


def extract(resource: dict) -> IndexRows:
    """All index rows of ``resource`` for the search parameters of its type."""
    rows = IndexRows()
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        rows.patient = resource.get("id")
    plan = _plan(rtype)
    for top, element in resource.items():
        users = plan.get(top)
        if users is None:
            continue
        for param, rest in users:
            _extract_param(param, _values(element, rest), rows)
    return rows


def _extract_param(param: SearchParam, values: list, rows: IndexRows) -> None:
    kind = param.kind
    for value in values:
        if kind == "token":
            _tokens(param, value, rows.token)
        elif kind == "string":
            _strings(param, value, rows.string)
        elif kind == "date":
            rng = value_range(value)
            if rng is not None:
                rows.date.append((param.pid, rng[0], rng[1]))
        elif kind == "reference":
            ref = value.get("reference") if isinstance(value, dict) else None
            target = split_reference(ref) if isinstance(ref, str) else None
            if target is None or (param.targets and target[0] not in param.targets):
                continue
            if param.is_patient:
                if rows.patient is None:
                    rows.patient = target[1]
                continue
            rows.reference.append((param.pid, target[0], target[1]))
        elif kind == "quantity" and isinstance(value, dict):
            number = value.get("value")
            if isinstance(number, int | float) and not isinstance(number, bool):
                code = value.get("code") or value.get("unit") or ""
                rows.quantity.append((param.pid, float(number), value.get("system") or "", code))
