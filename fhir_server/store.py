"""SQLite storage: current resources, history, search index tables, sessions, write logs.

One row per (type, id, session) in ``resources`` holds the current version as normalised
JSON bytes with ``meta.versionId``/``meta.lastUpdated`` already inside, so reads and searches
serve it without re-parsing. ``session`` is ``''`` for the shared baseline; a session's
writes are rows with its id that shadow the baseline row of the same resource, so a
session costs nothing to create and is discarded by deleting its rows.

Threading: one connection per thread (WAL lets readers run beside the single writer);
writes are serialised by a lock and ``BEGIN IMMEDIATE``. The store owns every connection it
opens: one whose thread has ended (a retired worker thread) is closed as the thread's
local storage is cleared (and, as a backstop, when the next connection is opened), so file
descriptors and memory stay flat (``benchmarks/fhir_limits.py soak``). Durability: ``synchronous=NORMAL``
in WAL mode writes every committed transaction to the WAL file before the commit returns,
so a killed process (SIGKILL) loses nothing acknowledged; only an OS crash or power loss
could drop the last transactions.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import orjson

from .dates import date_range, now_iso
from .errors import StoreError, StoreFormatError
from .indexing import IndexRows, extract
from .search_params import KINDS, fingerprint

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources(
    rid INTEGER PRIMARY KEY, session TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,
    version INTEGER NOT NULL, lu INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
    patient TEXT, body BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS resources_key ON resources(type, id, session);
CREATE INDEX IF NOT EXISTS resources_session ON resources(session) WHERE session != '';
CREATE TABLE IF NOT EXISTS history(
    type TEXT NOT NULL, id TEXT NOT NULL, session TEXT NOT NULL, version INTEGER NOT NULL,
    lu INTEGER NOT NULL, deleted INTEGER NOT NULL, body BLOB,
    PRIMARY KEY(type, id, session, version)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS history_session ON history(session) WHERE session != '';
CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS write_log(
    session TEXT NOT NULL, seq INTEGER NOT NULL, entry BLOB NOT NULL,
    PRIMARY KEY(session, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_token(rid INTEGER, param INTEGER, system TEXT, code TEXT,
    patient TEXT, PRIMARY KEY(rid, param, code, system)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_string(rid INTEGER, param INTEGER, norm TEXT, exact TEXT,
    patient TEXT, PRIMARY KEY(rid, param, norm, exact)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_date(rid INTEGER, param INTEGER, lo INTEGER, hi INTEGER,
    patient TEXT, PRIMARY KEY(rid, param, lo, hi)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_ref(rid INTEGER, param INTEGER, rtype TEXT, rid_ TEXT,
    patient TEXT, PRIMARY KEY(rid, param, rid_, rtype)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_qty(rid INTEGER, param INTEGER, value REAL, system TEXT,
    code TEXT, patient TEXT, PRIMARY KEY(rid, param, value, code, system)) WITHOUT ROWID;
"""

# Index tables are keyed by the resource row id first (cheap appends, cheap deletes);
# these secondary indexes answer searches. They are dropped before a bulk load into an
# empty store and rebuilt after it.
_INDEXES = {
    "resources_patient": "resources(type, patient)",
    "idx_token_s": "idx_token(param, code, patient)",
    "idx_string_s": "idx_string(param, norm)",
    "idx_date_s": "idx_date(param, patient, lo)",
    "idx_ref_s": "idx_ref(param, rid_, patient)",
    "idx_qty_s": "idx_qty(param, patient, value)",
}
# The index table of each search parameter kind (also read by the search compiler).
INDEX_TABLE = {"token": "idx_token", "string": "idx_string", "date": "idx_date",
               "reference": "idx_ref", "quantity": "idx_qty"}
_INSERT = {
    "token": "INSERT OR IGNORE INTO idx_token VALUES (?,?,?,?,?)",
    "string": "INSERT OR IGNORE INTO idx_string VALUES (?,?,?,?,?)",
    "date": "INSERT OR IGNORE INTO idx_date VALUES (?,?,?,?,?)",
    "reference": "INSERT OR IGNORE INTO idx_ref VALUES (?,?,?,?,?)",
    "quantity": "INSERT OR IGNORE INTO idx_qty VALUES (?,?,?,?,?,?)",
}
_BATCH = 20_000


class _Owned:
    """A thread's connection, closed when the thread ends and its thread-local is cleared."""

    __slots__ = ("conn", "release")

    def __init__(self, conn: sqlite3.Connection, release) -> None:  # noqa: ANN001
        self.conn = conn
        self.release = release

    def __del__(self) -> None:
        try:
            self.release(self.conn)
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to release
            pass


class Current(NamedTuple):
    rid: int
    session: str
    version: int
    lu: int
    deleted: int
    body: bytes | None


def lu_ms(instant: str) -> int:
    return date_range(instant)[0]


def _index_params(rid: int, rows: IndexRows, out: dict[str, list]) -> None:
    p = rows.patient
    for kind in KINDS:
        for row in getattr(rows, kind):
            out[kind].append((rid, *row, p))


# The on-disk format: bump it whenever the schema or what the index rows hold changes, so a
# database written by another version is refused instead of answering searches wrongly.
# Format 1 (never recorded) stored NULL systems, which dropped token rows without a system.
STORE_FORMAT = "2"


class Store:
    """The SQLite database behind the FHIR server."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the database folder {self.path.parent}: {exc}") from exc
        self._local = threading.local()
        self._conns: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._conns_lock = threading.RLock()  # re-entrant: _Owned.__del__ may run anywhere
        self.write_lock = threading.RLock()
        conn = self.conn()
        try:
            conn.executescript(_SCHEMA)
            for name, target in _INDEXES.items():
                conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
            found = self._format(conn)
            params = self._search_params(conn)
            if found == STORE_FORMAT and params == fingerprint():
                self._drop_orphans(conn)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        if found != STORE_FORMAT:
            self.close()
            raise StoreFormatError(
                f"the database {self.path} was written by another medagent version (store format "
                f"{found}, this version reads {STORE_FORMAT}); delete it and seed again"
            )
        if params != fingerprint():
            self.close()
            raise StoreFormatError(
                f"the database {self.path} was indexed with another search-parameter table "
                f"(fingerprint {params}, this version {fingerprint()}); its searches would miss "
                "resources: delete it and seed again"
            )

    @staticmethod
    def _format(conn: sqlite3.Connection) -> str:
        """The database's store format; a new, empty database is stamped with the current one."""
        row = conn.execute("SELECT value FROM meta WHERE key='store_format'").fetchone()
        if row is not None:
            return row[0]
        if conn.execute("SELECT 1 FROM resources LIMIT 1").fetchone() is not None:
            return "1"  # written before formats were recorded
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('store_format', ?)", (STORE_FORMAT,))
        return STORE_FORMAT

    @staticmethod
    def _search_params(conn: sqlite3.Connection) -> str:
        """The fingerprint of the search-parameter table the index rows were written with.

        A store without one (written before it was recorded, or new) is stamped with this
        version's: format 2 stores of that time used the same table."""
        row = conn.execute("SELECT value FROM meta WHERE key='search_params'").fetchone()
        if row is not None:
            return row[0]
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('search_params', ?)", (fingerprint(),))
        return fingerprint()

    @staticmethod
    def _drop_orphans(conn: sqlite3.Connection) -> None:
        """Remove rows of sessions that no longer exist (left by a crash mid-delete)."""
        orphans = "SELECT DISTINCT session FROM resources WHERE session != '' AND session NOT IN " \
                  "(SELECT id FROM sessions)"
        if conn.execute(orphans + " LIMIT 1").fetchone() is None:
            return
        conn.execute("BEGIN IMMEDIATE")
        for (session,) in conn.execute(orphans).fetchall():
            Store._delete_rows(conn, session)
        conn.execute("COMMIT")

    # -- connections and transactions -------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        owned = getattr(self._local, "owned", None)
        if owned is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA mmap_size=2147418112")  # SQLite's default ceiling (2 GiB)
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA threads=2")
            owned = self._local.owned = _Owned(conn, self._release)
            with self._conns_lock:
                alive = []
                for thread, other in self._conns:
                    if thread.is_alive():
                        alive.append((thread, other))
                    else:  # its thread has ended without its local being cleared
                        other.close()
                alive.append((threading.current_thread(), conn))
                self._conns = alive
        return owned.conn

    def _release(self, conn: sqlite3.Connection) -> None:
        """Close the connection of a thread that has ended (its thread-local was cleared)."""
        with self._conns_lock:
            self._conns = [(t, c) for t, c in self._conns if c is not conn]
        conn.close()

    def open_connections(self) -> int:
        """How many SQLite connections the store holds open (for tests and the soak)."""
        with self._conns_lock:
            return len(self._conns)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (re-entrant: a nested call joins the outer one)."""
        with self.write_lock:
            conn = self.conn()
            if conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and truncate the WAL to zero bytes (for a
        clean shutdown: a large WAL is not left next to the database)."""
        try:
            self.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # busy (another process reads): SQLite checkpoints later

    def close(self) -> None:
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for _, conn in conns:
            conn.close()
        self._local = threading.local()

    # -- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, value))

    # -- resources ------------------------------------------------------------------------
    def current(self, rtype: str, rid: str, session: str) -> Current | None:
        """The visible row of ``rtype/rid``: the session's own row, else the baseline's."""
        row = self.conn().execute(
            "SELECT rid, session, version, lu, deleted, body FROM resources "
            "WHERE type=? AND id=? AND session IN ('', ?) ORDER BY session DESC LIMIT 1",
            (rtype, rid, session),
        ).fetchone()
        return Current(*row) if row else None

    def versions(self, rtype: str, rid: str, session: str) -> list[Current]:
        """Every visible version, newest first (the session's shadow the baseline's)."""
        conn = self.conn()
        rows = conn.execute(
            "SELECT 0, session, version, lu, deleted, body FROM resources "
            "WHERE type=? AND id=? AND session IN ('', ?) UNION ALL "
            "SELECT 0, session, version, lu, deleted, body FROM history "
            "WHERE type=? AND id=? AND session IN ('', ?)",
            (rtype, rid, session, rtype, rid, session),
        ).fetchall()
        best: dict[int, Current] = {}
        for row in rows:
            cur = Current(*row)
            if cur.version not in best or cur.session:
                best[cur.version] = cur
        if session and any(c.session for c in best.values()):
            first_own = min(v for v, c in best.items() if c.session)
            best = {v: c for v, c in best.items() if c.session or v < first_own}
        return [best[v] for v in sorted(best, reverse=True)]

    def save(
        self,
        conn: sqlite3.Connection,
        session: str,
        rtype: str,
        rid: str,
        version: int,
        lu: int,
        resource: dict | None,
        body: bytes | None,
        previous: Current | None,
    ) -> None:
        """Store a new version (``resource`` None = deleted). Call inside ``write()``."""
        rows = extract(resource) if resource is not None else IndexRows()
        deleted = 1 if resource is None else 0
        if previous is not None and previous.session == session:
            row_id = previous.rid
            conn.execute(
                "INSERT OR REPLACE INTO history VALUES (?,?,?,?,?,?,?)",
                (rtype, rid, session, previous.version, previous.lu, previous.deleted, previous.body),
            )
            conn.execute(
                "UPDATE resources SET version=?, lu=?, deleted=?, patient=?, body=? WHERE rid=?",
                (version, lu, deleted, rows.patient, body, row_id),
            )
            for table in INDEX_TABLE.values():
                conn.execute(f"DELETE FROM {table} WHERE rid=?", (row_id,))
        else:
            cur = conn.execute(
                "INSERT INTO resources(session, type, id, version, lu, deleted, patient, body) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (session, rtype, rid, version, lu, deleted, rows.patient, body),
            )
            row_id = cur.lastrowid
        out: dict[str, list] = {k: [] for k in _INSERT}
        _index_params(row_id, rows, out)
        for kind, params in out.items():
            if params:
                conn.executemany(_INSERT[kind], params)

    def log_write(self, conn: sqlite3.Connection, session: str, entry: dict) -> int:
        """Append ``entry`` (plus its ``seq``) to a session's write log; inside ``write()``."""
        seq = conn.execute(
            "SELECT coalesce(max(seq), 0) + 1 FROM write_log WHERE session=?", (session,)
        ).fetchone()[0]
        conn.execute("INSERT INTO write_log VALUES (?,?,?)",
                     (session, seq, orjson.dumps({"seq": seq, **entry}, option=orjson.OPT_SORT_KEYS)))
        return seq

    @staticmethod
    def has_session(conn: sqlite3.Connection, session: str) -> bool:
        return conn.execute("SELECT 1 FROM sessions WHERE id=?", (session,)).fetchone() is not None

    def delete_session(self, session: str) -> None:
        """Discard a session: its rows, their index rows and history, its write log.

        One write transaction; a write of the session checks inside its own transaction
        that the session still exists, so none can land after this (no orphan rows)."""
        if not session:
            raise StoreError("the baseline is not a session")
        with self.write() as conn:
            self._delete_rows(conn, session)

    @staticmethod
    def _delete_rows(conn: sqlite3.Connection, session: str) -> None:
        own = "SELECT rid FROM resources WHERE session=? AND session != ''"
        for table in INDEX_TABLE.values():
            conn.execute(f"DELETE FROM {table} WHERE rid IN ({own})", (session,))
        conn.execute("DELETE FROM resources WHERE session=? AND session != ''", (session,))
        conn.execute("DELETE FROM history WHERE session=? AND session != ''", (session,))
        conn.execute("DELETE FROM write_log WHERE session=?", (session,))
        conn.execute("DELETE FROM sessions WHERE id=?", (session,))

    # -- bulk load --------------------------------------------------------------------------
    def bulk_load(self, lines: Iterable[bytes]) -> int:
        """Load NDJSON lines into the baseline in one transaction; returns the count.

        Trusted input (the cohort generator): no model validation. Each line needs
        ``resourceType`` and ``id``; ``meta.versionId`` becomes "1" and
        ``meta.lastUpdated`` is kept when present, else set to now. All or nothing.
        """
        with self.write() as conn:
            empty = conn.execute("SELECT 1 FROM resources LIMIT 1").fetchone() is None
            if empty:
                for name in _INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
            try:
                count = self._bulk_insert(conn, lines, fast=empty)
            except (sqlite3.IntegrityError, ValueError, TypeError, KeyError) as exc:
                raise StoreError(f"bulk load failed, nothing loaded: {exc}") from exc
            if empty:
                for name, target in _INDEXES.items():
                    conn.execute(f"CREATE INDEX {name} ON {target}")
                conn.execute("ANALYZE")
        return count

    def _bulk_insert(self, conn: sqlite3.Connection, lines: Iterable[bytes], fast: bool) -> int:
        now = now_iso()
        now_ms = lu_ms(now)
        next_rid = (conn.execute("SELECT max(rid) FROM resources").fetchone()[0] or 0) + 1
        loads, dumps, sort = orjson.loads, orjson.dumps, orjson.OPT_SORT_KEYS
        count = 0
        res_rows: list[tuple] = []
        idx: dict[str, list] = {k: [] for k in _INSERT}
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                resource = loads(line)
                rtype, rid = resource["resourceType"], resource["id"]
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"line {lineno}: not a FHIR resource with an id ({exc})") from None
            meta = resource.get("meta")
            if not isinstance(meta, dict):
                meta = resource["meta"] = {}
            meta["versionId"] = "1"
            lu = meta.get("lastUpdated")
            if isinstance(lu, str):
                lu_val = lu_ms(lu)
            else:
                meta["lastUpdated"], lu_val = now, now_ms
            if fast:
                body = dumps(resource, option=sort)
                rows = extract(resource)
                res_rows.append(("", rtype, rid, 1, lu_val, 0, rows.patient, body, next_rid))
                _index_params(next_rid, rows, idx)
                next_rid += 1
            else:
                previous = self.current(rtype, rid, "")
                version = previous.version + 1 if previous else 1
                meta["versionId"] = str(version)
                body = dumps(resource, option=sort)
                self.save(conn, "", rtype, rid, version, lu_val, resource, body, previous)
            count += 1
            if len(res_rows) >= _BATCH:
                self._flush(conn, res_rows, idx)
        self._flush(conn, res_rows, idx)
        return count

    @staticmethod
    def _flush(conn: sqlite3.Connection, res_rows: list[tuple], idx: dict[str, list]) -> None:
        if res_rows:
            conn.executemany(
                "INSERT INTO resources(session, type, id, version, lu, deleted, patient, body, rid) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                res_rows,
            )
            res_rows.clear()
        for kind, rows in idx.items():
            if rows:
                conn.executemany(_INSERT[kind], rows)
                rows.clear()

    def load_ndjson_dir(self, directory: str | Path) -> int:
        """Bulk-load every ``*.ndjson`` file of ``directory`` (sorted by name) in one transaction."""
        files = sorted(Path(directory).glob("*.ndjson"))
        if not files:
            raise StoreError(f"no .ndjson files in {directory}")

        def lines() -> Iterator[bytes]:
            for path in files:
                with path.open("rb") as fh:
                    yield from fh

        return self.bulk_load(lines())

    def count(self, session: str = "") -> int:
        """Visible, not deleted resources in the baseline (or a session's own rows)."""
        return self.conn().execute(
            "SELECT count(*) FROM resources WHERE session=? AND deleted=0", (session,)
        ).fetchone()[0]
