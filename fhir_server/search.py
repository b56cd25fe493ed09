"""Search: FHIR search parameters compiled to one SQL query over the index tables.

``parse_search()`` turns the request's ``(name, value)`` pairs into a :class:`Search`
(conditions, sort, page, result parameters); ``run_search()`` executes it for a session
and returns stored JSON bytes, never parsed resources.

Semantics (R4, as HAPI implements them): repeated parameters are ANDed, comma-separated
values are ORed; tokens ``code``, ``system|code``, ``|code``, ``system|``; strings match
by case- and accent-insensitive prefix, ``:exact`` and ``:contains``; dates and quantities
take the prefixes eq ne lt gt le ge sa eb ap and compare ranges (the precision of a value is
its range); references take ``ID``, ``Type/ID`` or an absolute URL. Results are ordered by
the ``_sort`` keys, then by row id, so paging by offset is deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .dates import date_range, now_iso, parse_search_date
from .errors import FhirError
from .indexing import normalise, split_reference
from .search_params import SearchParam, params_for
from .store import INDEX_TABLE
from .validation import known_type

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
# Parameters about the result set, not about matching.
RESULT_PARAMS = frozenset({
    "_count", "_offset", "_sort", "_total", "_totalMethod", "_summary", "_elements", "_include", "_revinclude",
    "_format", "_pretty",
})
SUPPORTED_SUMMARY = ("count", "true", "data", "false")
_SORT_EXPR = {"token": "min(code)", "string": "min(norm)", "date": "min(lo)",
              "reference": "min(rid_)", "quantity": "min(value)"}
_SPLIT = re.compile(r"(?<!\\),")
# Request limits (400 beyond them): name=value pairs per search, comma-separated values of
# one parameter, and _offset. SQLite refuses expressions deeper than 1000 terms.
MAX_PARAMS = 100
MAX_VALUES = 100
MAX_OFFSET = 1_000_000_000
MAX_SORT_KEYS = 10
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Include:
    source_type: str  # the resource type holding the reference
    param: SearchParam
    target: str | None


@dataclass(slots=True)
class Search:
    rtype: str
    where: list[str] = field(default_factory=list)
    args: list = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    order_args: list = field(default_factory=list)
    count: int = 50
    offset: int = 0
    total: str = "accurate"  # or "none"
    summary: str = "false"
    elements: list[str] | None = None
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    link_params: list[tuple[str, str]] = field(default_factory=list)


def visible(alias: str, session: str) -> tuple[str, list]:
    """SQL (and args) selecting the rows of ``alias`` a session sees, not deleted."""
    if not session:
        return f"{alias}.session='' AND {alias}.deleted=0", []
    return (
        f"{alias}.deleted=0 AND ({alias}.session=? OR ({alias}.session='' AND NOT EXISTS ("
        f"SELECT 1 FROM resources sh WHERE sh.type={alias}.type AND sh.id={alias}.id "
        f"AND sh.session=?)))",
        [session, session],
    )


def split_values(value: str) -> list[str]:
    return [v.replace("\\,", ",") for v in _SPLIT.split(value)]


def _bad(msg: str) -> FhirError:
    return FhirError(400, msg, code="invalid")


def _prefixed(value: str) -> tuple[str, str]:
    if len(value) > 2 and value[:2] in PREFIXES and (value[2].isdigit() or value[2] in "-."):
        return value[:2], value[2:]
    return "eq", value


def _range_sql(prefix: str, lo: int | float, hi: int | float, lo_col: str, hi_col: str,
               width: int | float) -> tuple[str, list]:
    """Range comparison of a stored ``[lo_col, hi_col)`` against the search ``[lo, hi)``."""
    eq = f"({lo_col}>=? AND {hi_col}<=?)"
    if prefix == "eq":
        return eq, [lo, hi]
    if prefix == "ne":
        return f"NOT {eq}", [lo, hi]
    if prefix == "gt":
        return f"{hi_col}>?", [hi]
    if prefix == "lt":
        return f"{lo_col}<?", [lo]
    if prefix == "ge":
        return f"({hi_col}>? OR {eq})", [hi, lo, hi]
    if prefix == "le":
        return f"({lo_col}<? OR {eq})", [lo, lo, hi]
    if prefix == "sa":
        return f"{lo_col}>=?", [hi]
    if prefix == "eb":
        return f"{hi_col}<=?", [lo]
    # ap: overlaps the search range widened by ``width`` on both sides
    return f"({lo_col}<? AND {hi_col}>?)", [hi + width, lo - width]


def _date_condition(value: str, lo_col: str, hi_col: str) -> tuple[str, list]:
    # an unencoded '+' of a time-zone offset arrives as a space (form decoding); HAPI too
    # reads it back as '+'
    prefix, text = _prefixed(value.replace(" ", "+"))
    lo, hi = parse_search_date(text)
    width = 0
    if prefix == "ap":  # the clock is only read for ap
        now = date_range(now_iso())[0]
        width = max(abs(now - lo) // 10, hi - lo, _DAY_MS)
    return _range_sql(prefix, lo, hi, lo_col, hi_col, width)


def _quantity_condition(value: str) -> tuple[str, list]:
    parts = value.split("|")
    if len(parts) not in (1, 3):
        raise _bad(f"Invalid quantity value: {value!r} (use [prefix]number[|system|code])")
    prefix, number = _prefixed(parts[0])
    try:
        dec = Decimal(number)
    except InvalidOperation:
        raise _bad(f"Invalid quantity value: {value!r}") from None
    if not dec.is_finite():
        raise _bad(f"Invalid quantity value: {value!r}")
    exponent = dec.as_tuple().exponent
    half = Decimal(5) * Decimal(10) ** (exponent - 1)
    n, lo, hi = float(dec), float(dec - half), float(dec + half)  # eq: within the precision
    sql, args = {
        "eq": ("(value>=? AND value<?)", [lo, hi]),
        "ne": ("NOT (value>=? AND value<?)", [lo, hi]),
        "gt": ("value>?", [n]), "sa": ("value>?", [n]),
        "lt": ("value<?", [n]), "eb": ("value<?", [n]),
        "ge": ("value>=?", [n]), "le": ("value<=?", [n]),
        "ap": ("(value>=? AND value<=?)", [n - abs(n) / 10, n + abs(n) / 10]),
    }[prefix]
    if len(parts) == 3:
        system, code = parts[1], parts[2]
        if system:
            sql, args = f"{sql} AND system=?", [*args, system]
        if code:
            sql, args = f"{sql} AND code=?", [*args, code]
    return f"({sql})", args


def _token_condition(value: str) -> tuple[str, list]:
    if "|" in value:
        system, _, code = value.partition("|")
        if not system and not code:
            raise _bad("Invalid token value '|'")
        if not system:
            return "(code=? AND system='')", [code]
        if not code:
            return "system=?", [system]
        return "(code=? AND system=?)", [code, system]
    return "code=?", [value]


def _string_condition(value: str, modifier: str) -> tuple[str, list]:
    if modifier == "exact":
        return "exact=?", [value]
    norm = normalise(value)
    if modifier == "contains":
        escaped = norm.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return "norm LIKE ? ESCAPE '\\'", [f"%{escaped}%"]
    return "(norm>=? AND norm<?)", [norm, norm + "\U0010ffff"]


def _reference_type(param: SearchParam, modifier: str) -> str | None:
    """The ``:Type`` modifier of a reference parameter: a resource type it can point to."""
    if not modifier:
        return None
    if "." in modifier:
        raise _bad(f"Chained search ({param.name}:{modifier}) is not supported; search "
                   f"{modifier.split('.')[0]} first, then {param.resource_type}?{param.name}=<id>")
    if not known_type(modifier) or (param.targets and modifier not in param.targets):
        allowed = ", ".join(param.targets) if param.targets else "a resource type"
        raise _bad(f"Unsupported modifier {param.name}:{modifier} ({param.key} references "
                   f"{allowed})")
    return modifier


def _reference_value(param: SearchParam, value: str, modifier: str) -> tuple[str | None, str]:
    rtype: str | None = _reference_type(param, modifier)
    target = split_reference(value)
    if target is not None:
        rtype, value = target
    if rtype and param.targets and rtype not in param.targets:
        raise _bad(f"{param.key} does not reference {rtype}")
    return rtype, value


# Token parameters whose values are shared by many resources (a poor place to start a search).
_BROAD_TOKENS = frozenset({"category", "status", "clinical-status", "verification-status", "intent",
                           "priority", "gender", "class", "active"})


def _selectivity_rank(param: SearchParam) -> int:
    """Lower is narrower: which index condition should drive a search."""
    if param.kind == "token":
        return 4 if param.name in _BROAD_TOKENS else 0
    return {"reference": 0, "string": 1, "quantity": 2, "date": 3}[param.kind]


@dataclass(slots=True)
class _Indexed:
    """A condition answered from an index table: ``WHERE param=? AND (…)`` over ``table``."""

    rank: int
    table: str
    sql: str
    args: list
    negate: bool


class _Compiler:
    def __init__(self, rtype: str) -> None:
        self.rtype = rtype
        self.params = params_for(rtype)
        self.search = Search(rtype)
        self.patient: str | None = None  # a single known patient: narrows the driving subquery
        self.conds: list[tuple[str, list]] = []
        self.indexed: list[_Indexed] = []

    def add(self, sql: str, args: list) -> None:
        self.conds.append((sql, args))

    def emit(self, search: Search) -> None:
        """WHERE clauses: the narrowest index condition drives (an IN list of row ids, narrowed
        to the patient when one is known); every other one is checked per candidate row with
        EXISTS on its table's primary key, so broad conditions (a category, a date range) are
        never materialised."""
        for sql, args in self.conds:
            search.where.append(sql)
            search.args.extend(args)
        positive = [c for c in self.indexed if not c.negate]
        driver = min(positive, key=lambda c: c.rank) if positive else None
        for cond in self.indexed:
            if cond is driver:
                narrow = self.patient is not None
                search.where.append(f"r.rid IN (SELECT rid FROM {cond.table} WHERE {cond.sql}"
                                    f"{' AND patient=?' if narrow else ''})")
                search.args.extend([*cond.args, self.patient] if narrow else cond.args)
            else:
                search.where.append(f"{'NOT ' if cond.negate else ''}EXISTS (SELECT 1 FROM "
                                    f"{cond.table} WHERE rid=r.rid AND {cond.sql})")
                search.args.extend(cond.args)

    def param(self, name: str) -> SearchParam:
        param = self.params.get(name)
        if param is None and "." in name and name.split(".")[0] in self.params:
            raise _bad(f"Chained search ({name}) is not supported; search the referenced type "
                       "first, then by its id")
        if param is None:
            raise _bad(f"Unknown search parameter {name!r} for resource type {self.rtype}")
        return param

    def compile(self, name: str, modifier: str, value: str) -> None:
        values = split_values(value)
        if any(v == "" for v in values):
            raise _bad(f"Empty value for search parameter {name!r}")
        if len(values) > MAX_VALUES:
            raise FhirError(400, f"{name} has {len(values)} values; at most {MAX_VALUES} are "
                            "served in one search", code="too-costly")
        if name == "_id":
            if modifier:
                raise _bad(f"Unsupported modifier _id:{modifier}")
            self.add(f"r.id IN ({','.join('?' * len(values))})", values)
            return
        if name == "_lastUpdated":
            if modifier:
                raise _bad(f"Unsupported modifier _lastUpdated:{modifier}")
            parts = [_date_condition(v, "r.lu", "(r.lu+1)") for v in values]
            self.add("(" + " OR ".join(p[0] for p in parts) + ")", [a for p in parts for a in p[1]])
            return
        param = self.param(name)
        if modifier == "missing":
            self._missing(param, values)
            return
        if param.is_patient:
            self._patient(param, values, modifier)
            return
        negate = False
        kind = param.kind
        if kind == "token" and modifier == "not":
            negate, modifier = True, ""
        if modifier and not (kind == "string" and modifier in ("exact", "contains")) and not (
            kind == "reference" and _reference_type(param, modifier)
        ):
            raise _bad(f"Unsupported modifier {name}:{modifier}")
        alts: list[str] = []
        args: list = [param.pid]
        for v in values:
            if kind == "token":
                sql, a = _token_condition(v)
            elif kind == "string":
                sql, a = _string_condition(v, modifier)
            elif kind == "date":
                sql, a = _date_condition(v, "lo", "hi")
            elif kind == "quantity":
                sql, a = _quantity_condition(v)
            else:
                rtype, rid = _reference_value(param, v, modifier)
                sql, a = ("(rid_=? AND rtype=?)", [rid, rtype]) if rtype else ("rid_=?", [rid])
            alts.append(sql)
            args.extend(a)
        self.indexed.append(_Indexed(_selectivity_rank(param), INDEX_TABLE[kind],
                                     f"param=? AND ({' OR '.join(alts)})", args, negate))

    def _patient(self, param: SearchParam, values: list[str], modifier: str) -> None:
        if modifier and _reference_type(param, modifier) != "Patient":
            raise _bad(f"Unsupported modifier {param.name}:{modifier}")
        ids = [_reference_value(param, v, "Patient")[1] for v in values]
        if len(ids) == 1 and self.patient is None:
            self.patient = ids[0]
        self.add(f"r.patient IN ({','.join('?' * len(ids))})", ids)

    def _missing(self, param: SearchParam, values: list[str]) -> None:
        if values not in (["true"], ["false"]):
            raise _bad(f"{param.name}:missing takes true or false")
        missing = values[0] == "true"
        if param.is_patient:
            self.add(f"r.patient IS {'' if missing else 'NOT '}NULL", [])
            return
        op = "NOT IN" if missing else "IN"
        self.add(f"r.rid {op} (SELECT rid FROM {INDEX_TABLE[param.kind]} WHERE param=?)", [param.pid])

    def sort(self, value: str) -> None:
        keys = [k.strip() for k in value.split(",")]
        if len(keys) + len(self.search.order) > MAX_SORT_KEYS:
            raise FhirError(400, f"_sort has more than {MAX_SORT_KEYS} keys", code="too-costly")
        for key in keys:
            desc = key.startswith("-")
            name = key.lstrip("-")
            if name == "_id":
                expr, args = "r.id", []
            elif name == "_lastUpdated":
                expr, args = "r.lu", []
            else:
                param = self.param(name)
                if param.is_patient:
                    expr, args = "r.patient", []
                else:
                    agg = _SORT_EXPR[param.kind]
                    if desc and param.kind == "date":
                        agg = "max(lo)"
                    expr = f"(SELECT {agg} FROM {INDEX_TABLE[param.kind]} WHERE rid=r.rid AND param=?)"
                    args = [param.pid]
            self.search.order.append(f"{expr} {'DESC' if desc else 'ASC'} NULLS LAST")
            self.search.order_args.extend(args)

    def include(self, value: str, reverse: bool) -> Include:
        parts = value.split(":")
        if len(parts) not in (2, 3):
            raise _bad(f"Invalid {'_revinclude' if reverse else '_include'} value {value!r}")
        source, name = parts[0], parts[1]
        target = parts[2] if len(parts) == 3 else None
        if target is not None and not known_type(target):
            raise _bad(f"Invalid {'_revinclude' if reverse else '_include'} value {value!r}: "
                       f"{target} is not a resource type")
        if not reverse and source != self.rtype:
            raise _bad(f"_include={value}: the source type must be {self.rtype}")
        param = params_for(source).get(name)
        if param is None or param.kind != "reference":
            raise _bad(f"_include/_revinclude: {source}:{name} is not a reference parameter")
        if reverse and param.targets and self.rtype not in param.targets:
            raise _bad(f"_revinclude={value}: {source}:{name} does not reference {self.rtype}")
        return Include(source, param, target)


def parse_search(rtype: str, params: list[tuple[str, str]], default_count: int, max_count: int,
                 lenient: bool = False) -> Search:
    """Compile the search parameters of a type-level search (raises 400 on bad input)."""
    comp = _Compiler(rtype)
    search = comp.search
    search.count = default_count
    if len(params) > MAX_PARAMS:
        raise FhirError(400, f"The search has {len(params)} parameters; at most {MAX_PARAMS} are "
                        "served", code="too-costly")
    for name, value in params:
        base, _, modifier = name.partition(":")
        if base in RESULT_PARAMS:
            _result_param(comp, base, value, max_count)
            if base not in ("_offset", "_count", "_format"):
                search.link_params.append((name, value))
            continue
        try:
            comp.compile(base, modifier, value)
        except FhirError:
            if lenient:
                continue
            raise
        search.link_params.append((name, value))
    comp.emit(search)
    if search.count == 0:  # _count=0: the number of matches only (no entries, no next page)
        search.summary = "count"
    return search


def _int(name: str, value: str, minimum: int, maximum: int | None = None) -> int:
    text = value.strip()
    if not text.isascii() or not text.lstrip("-").isdigit():
        raise _bad(f"{name} must be an integer, got {value!r}")
    if len(text) > 18:  # far beyond any limit; keeps int() and SQLite in range
        raise _bad(f"{name} is too large: {text[:20]}…")
    number = int(text)
    if number < minimum:
        raise _bad(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise _bad(f"{name} must be at most {maximum}, got {number}")
    return number


def _result_param(comp: _Compiler, name: str, value: str, max_count: int) -> None:
    search = comp.search
    if name == "_count":
        search.count = min(_int("_count", value, 0), max_count)
    elif name == "_offset":
        search.offset = _int("_offset", value, 0, MAX_OFFSET)
    elif name == "_sort":
        comp.sort(value)
    elif name in ("_total", "_totalMethod"):  # _totalMethod: fhirpy's spelling (count)
        if value not in ("none", "estimate", "accurate", "count"):
            raise _bad(f"_total must be none, estimate or accurate, got {value!r}")
        search.total = "none" if value == "none" else "accurate"
    elif name == "_summary":
        if value not in SUPPORTED_SUMMARY:
            raise _bad(f"_summary={value} is not supported (supported: {', '.join(SUPPORTED_SUMMARY)})")
        search.summary = value
    elif name == "_elements":
        search.elements = [e.strip() for e in value.split(",") if e.strip()]
    elif name == "_include":
        search.includes.append(comp.include(value, reverse=False))
    elif name == "_revinclude":
        search.revincludes.append(comp.include(value, reverse=True))
