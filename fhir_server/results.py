"""Executing a compiled :class:`~medagent.fhir_server.search.Search` against the store.

Everything returned is stored JSON bytes; nothing is parsed here. A page is bounded: at
most ``max_include`` resources are added by ``_include``/``_revinclude`` (more is a 400 that
says how to ask: a smaller ``_count`` or a direct search), and the bodies read for one page
may not exceed ``max_bytes`` (checked while reading, so an oversized page is refused before
it is assembled).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from .errors import FhirError
from .search import Include, Search, visible
from .store import Store


@dataclass(slots=True)
class SearchResult:
    matches: list[tuple[str, bytes]]  # (id, body) of this page, in order
    total: int | None
    has_next: bool
    included: list[tuple[str, str, bytes]] = field(default_factory=list)  # (type, id, body)


def _where(search: Search, session: str) -> tuple[str, list]:
    vis, vis_args = visible("r", session)
    clauses = ["r.type=?", vis, *search.where]
    return " AND ".join(clauses), [search.rtype, *vis_args, *search.args]


class _Budget:
    """What one page may still hold: included resources and body bytes."""

    def __init__(self, max_include: int | None, max_bytes: int | None) -> None:
        self.max_include = max_include
        self.includes = max_include
        self.bytes = max_bytes

    def spend(self, body: bytes | None) -> None:
        if self.bytes is None or body is None:
            return
        self.bytes -= len(body)
        if self.bytes < 0:
            raise FhirError(400, "This page of results is larger than the server's reply limit; "
                            "ask for a smaller _count (or fewer _include/_revinclude).",
                            code="too-costly")

    def include(self, search: Search, inc: Include) -> None:
        if self.includes is None:
            return
        self.includes -= 1
        if self.includes < 0:
            reverse = inc in search.revincludes
            raise FhirError(400, f"This page would include more than {self.max_include} resources "
                            f"({'_revinclude' if reverse else '_include'}="
                            f"{inc.source_type}:{inc.param.name}); ask for a smaller _count, or "
                            f"search {inc.source_type} directly"
                            + (f" ({inc.source_type}?{inc.param.name}=<id>)" if reverse else ""),
                            code="too-costly")


def run_search(store: Store, search: Search, session: str, max_include: int | None = None,
               max_bytes: int | None = None) -> SearchResult:
    """One page of ``search``; ``max_include``/``max_bytes`` bound it (None = unbounded)."""
    conn = store.conn()
    where, args = _where(search, session)
    if search.summary == "count":
        total = conn.execute(f"SELECT count(*) FROM resources r WHERE {where}", args).fetchone()[0]
        return SearchResult([], total, False)
    budget = _Budget(max_include, max_bytes)
    rows = _page(conn, search, where, args, budget)
    has_next = len(rows) > search.count
    rows = rows[: search.count]
    if search.total == "none":
        total = None
    elif not has_next and (rows or search.offset == 0):
        total = search.offset + len(rows)
    else:
        total = conn.execute(f"SELECT count(*) FROM resources r WHERE {where}", args).fetchone()[0]
    result = SearchResult([(r[1], r[2]) for r in rows], total, has_next)
    if rows and (search.includes or search.revincludes):
        seen = {(search.rtype, r[1]) for r in rows}
        rids = [r[0] for r in rows]
        ids = [r[1] for r in rows]
        for inc in search.includes:
            _include(store, inc, rids, session, seen, result.included, search, budget)
        for inc in search.revincludes:
            _revinclude(store, inc, search.rtype, ids, session, seen, result.included, search,
                        budget)
    return result


def _page(conn: sqlite3.Connection, search: Search, where: str, args: list,
          budget: _Budget) -> list[tuple]:
    """``(rid, id, body)`` of the page plus one row (to know whether a next page exists).

    With ``_sort`` keys the page is chosen on row ids first and the bodies are read after:
    sorting whole rows would copy every matching body into SQLite's sorter.
    """
    order = ", ".join([*search.order, "r.rid"])
    limits = [search.count + 1, search.offset]
    if not search.order:
        return _read(budget, conn.execute(
            f"SELECT r.rid, r.id, r.body FROM resources r WHERE {where} ORDER BY {order} "
            "LIMIT ? OFFSET ?", [*args, *limits]))
    rids = [r[0] for r in conn.execute(
        f"SELECT r.rid FROM resources r WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
        [*args, *search.order_args, *limits])]
    if not rids:
        return []
    found = {r[0]: r for r in _read(budget, conn.execute(
        f"SELECT rid, id, body FROM resources WHERE rid IN ({_marks(len(rids))})", rids))}
    return [found[rid] for rid in rids if rid in found]  # (a row deleted in between)


def _read(budget: _Budget, cursor: sqlite3.Cursor) -> list[tuple]:
    """The rows of ``cursor``, charging each body to the page's byte budget as it is read."""
    rows = []
    for row in cursor:
        budget.spend(row[2])
        rows.append(row)
    return rows


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _include(store: Store, inc: Include, rids: list[int], session: str,
             seen: set, out: list, search: Search, budget: _Budget) -> None:
    conn = store.conn()
    if inc.param.is_patient:
        targets = [("Patient", p) for (p,) in conn.execute(
            f"SELECT DISTINCT patient FROM resources WHERE rid IN ({_marks(len(rids))}) "
            "AND patient IS NOT NULL ORDER BY patient", rids)]
    else:
        targets = conn.execute(
            f"SELECT DISTINCT rtype, rid_ FROM idx_ref WHERE param=? AND rid IN ({_marks(len(rids))}) "
            "ORDER BY rtype, rid_", [inc.param.pid, *rids]).fetchall()
    for rtype, rid in targets:
        if (inc.target and rtype != inc.target) or (rtype, rid) in seen:
            continue
        cur = store.current(rtype, rid, session)
        if cur is not None and not cur.deleted:
            budget.include(search, inc)
            budget.spend(cur.body)
            seen.add((rtype, rid))
            out.append((rtype, rid, cur.body))


def _revinclude(store: Store, inc: Include, rtype: str, ids: list[str], session: str,
                seen: set, out: list, search: Search, budget: _Budget) -> None:
    vis, vis_args = visible("r", session)
    if inc.param.is_patient:
        if rtype != "Patient":
            return
        cond, cond_args = f"r.patient IN ({_marks(len(ids))})", ids
    else:
        cond = (f"r.rid IN (SELECT rid FROM idx_ref WHERE param=? AND rtype=? "
                f"AND rid_ IN ({_marks(len(ids))}))")
        cond_args = [inc.param.pid, rtype, *ids]
    rows = store.conn().execute(  # a cursor: read only as far as the budget allows
        f"SELECT r.id, r.body FROM resources r WHERE r.type=? AND {vis} AND {cond} ORDER BY r.rid",
        [inc.source_type, *vis_args, *cond_args],
    )
    for rid, body in rows:
        if (inc.source_type, rid) not in seen:
            budget.include(search, inc)
            budget.spend(body)
            seen.add((inc.source_type, rid))
            out.append((inc.source_type, rid, body))
