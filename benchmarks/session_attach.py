"""What keeping session rows out of the baseline file would cost every search (issue 12).

    python benchmarks/session_attach.py [--patients 10] [--repeat 200]

The Docker image keeps the seeded baseline on a volume (docs/docker.md). The alternative is
a read-only baseline (``immutable=1``, never copied into a container's writable layer) with
the session rows in a small database of their own, ``ATTACH``ed beside it. Every read then
has to see both: this script puts TEMP VIEWs named like the store's tables (``resources``,
``history``, the five ``idx_*`` tables) over ``base.X UNION ALL main.X`` on a connection
whose main database is an empty session database, and runs the same searches through the
unchanged ``FhirService`` on both layouts. Prints the median time per search and the ratio
against the single-file store (the baseline of the same run). Reads only: the writes would
need the store rewritten (rowids above the baseline's, qualified table names).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from medagent import patients  # noqa: E402
from medagent.fhir_server import FhirService, Store  # noqa: E402
from medagent.fhir_server.store import INDEX_TABLE  # noqa: E402

TABLES = ("resources", "history", *INDEX_TABLE.values())


class AttachedStore(Store):
    """The baseline read-only and attached; an empty session database as main; union views."""

    def __init__(self, base: Path, sessions: Path) -> None:
        self.base_path, self.views = base, False
        super().__init__(sessions)  # stamps the session database (no views yet)
        self.close()
        self.views = True

    def conn(self) -> sqlite3.Connection:
        fresh = getattr(self._local, "owned", None) is None
        conn = super().conn()
        if fresh and self.views:
            conn.execute(f"ATTACH DATABASE 'file:{self.base_path}?immutable=1' AS base")
            for table in TABLES:
                conn.execute(f"CREATE TEMP VIEW IF NOT EXISTS {table} AS "
                             f"SELECT * FROM base.{table} UNION ALL SELECT * FROM main.{table}")
        return conn


def searches(store: Store) -> list[tuple[str, list[tuple[str, str]]]]:
    conn = store.conn()
    mrn, body = conn.execute("SELECT id, body FROM resources WHERE type='Patient' LIMIT 1 OFFSET 3").fetchone()
    family = orjson.loads(body)["name"][0]["family"]
    return [
        ("Patient?identifier", [("identifier", mrn)]),
        ("Patient?family", [("family", family)]),
        ("Observation?patient&code&_sort=-date", [("patient", mrn), ("code", "MG"), ("_sort", "-date")]),
        ("Observation?patient&date=ge", [("patient", mrn), ("date", "ge2023-01-01"), ("_count", "100")]),
        ("MedicationRequest?patient", [("patient", mrn)]),
        ("Patient?_revinclude (count 2)", [("_revinclude", "MedicationRequest:patient"), ("_count", "2")]),
    ]


def time_search(service: FhirService, path: str, params, repeat: int) -> tuple[float, bytes]:
    times, body = [], b""
    for _ in range(repeat):
        t0 = time.perf_counter()
        resp = service.dispatch("GET", path.split("?")[0], params)
        times.append(time.perf_counter() - t0)
        body = resp.body
        assert resp.status == 200, (path, resp.status, resp.body[:300])
    return statistics.median(times), body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.db"
        plain = Store(base)
        patients.seed_store(plain, args.seed, args.patients, "mab-v1")
        plain.checkpoint()
        session_db = Path(tmp) / "sessions.db"
        attached = AttachedStore(base, session_db)
        one, two = FhirService(plain), FhirService(attached)
        print(f"{plain.count():,} baseline resources; median of {args.repeat} runs per search")
        print(f"{'search':42s} {'one file ms':>12s} {'attached ms':>12s} {'ratio':>7s}")
        for name, params in searches(plain):
            a, body_a = time_search(one, name, params, args.repeat)
            b, body_b = time_search(two, name, params, args.repeat)
            total_a, total_b = (len(orjson.loads(x).get("entry", [])) for x in (body_a, body_b))
            note = f"  ({total_a} entries)" if total_a == total_b else f"  (entries differ: {total_a} vs {total_b}!)"
            print(f"{name:42s} {a * 1000:12.2f} {b * 1000:12.2f} {b / a:7.2f}{note}")
        plain.close()
        attached.close()


if __name__ == "__main__":
    main()
