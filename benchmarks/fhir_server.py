"""Benchmark of the FHIR server: req/s and p50/p95 latency per interaction.

    python benchmarks/fhir_server.py [--patients 100] [--concurrency 32] [--seconds 3]
                                     [--db PATH] [--workers 1] [--server-workers 1,2,4]

Seeds a database (``patients.seed_store``; a stand-in loader with comparable
Observation-heavy data if the cohort package is unavailable), then measures

- in-process (``FhirService.dispatch``, one thread): read-by-id, Observation search by
  patient+code, Patient search by name+birthdate, create; baseline = the raw SQLite lookup
  of one resource row by id (the floor any read can reach);
- over HTTP (``medagent serve`` in a subprocess; keep-alive HTTP/1.1 client connections in
  ``--workers`` processes, ``--concurrency`` requests in flight): the same four plus the baseline
  ``GET /fhir/metadata`` (the cheapest request through the whole HTTP stack).

With ``--server-workers 1,2,N`` the HTTP part runs once per server process count
(``medagent serve --workers K``): GET metadata and the mixed searches, each also as a ratio
to the one-worker GET metadata of the same run (the bare-HTTP baseline).

Ratios are printed against the baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medagent.fhir_server import FhirService, ServerSettings, Store  # noqa: E402
from medagent.fhir_server.process import start_serve  # noqa: E402

LABS = [("MG", "19123-9"), ("GLU", "2345-7"), ("K", "2823-3"), ("A1C", "4548-4"),
        ("CR", "2160-0"), ("NA", "2951-2")]


# -- data -----------------------------------------------------------------------------------
def _stand_in(n_patients: int) -> list[bytes]:
    """Comparable data when the cohort package is not importable: ~300 labs per patient."""
    rng = random.Random(7)
    lines = []
    for i in range(n_patients):
        pid = f"S{i:07d}"
        lines.append(orjson.dumps({
            "resourceType": "Patient", "id": pid, "gender": rng.choice(["male", "female"]),
            "birthDate": f"{rng.randint(1930, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "name": [{"family": rng.choice(["Smith", "Jones", "Garcia", "Nguyen"]) + str(i),
                      "given": [rng.choice(["Ann", "Bob", "Cruz", "Dee"])]}],
            "identifier": [{"system": "urn:medagent:mrn", "value": pid}]}))
        for k in range(300):
            local, loinc = LABS[k % len(LABS)]
            lines.append(orjson.dumps({
                "resourceType": "Observation", "id": f"{pid}-o{k}", "status": "final",
                "code": {"coding": [{"system": "urn:medagent:lab", "code": local},
                                    {"system": "http://loinc.org", "code": loinc}], "text": local},
                "subject": {"reference": f"Patient/{pid}"},
                "effectiveDateTime": f"2023-{1 + k % 11:02d}-{1 + k % 28:02d}T08:00:00+00:00",
                "valueQuantity": {"value": round(rng.uniform(1, 200), 1), "unit": "mg/dL"}}))
    return lines


def seed(db: Path, n_patients: int) -> tuple[Store, str]:
    store = Store(db)
    if store.count() > 0:
        return store, "existing database"
    try:
        from medagent import patients
    except ImportError:
        n = store.bulk_load(_stand_in(n_patients))
        return store, f"stand-in loader ({n} resources)"
    manifest = patients.seed_store(store, n_patients=n_patients)
    return store, f"patients.seed_store ({manifest.total} resources)"


def workload(store: Store, n: int = 400) -> dict[str, list[tuple[str, str, list, bytes | None]]]:
    """Requests per operation: (method, path, params, body), drawn from the stored data."""
    conn = store.conn()
    rng = random.Random(1)
    pats = [orjson.loads(b) for (b,) in conn.execute(
        "SELECT body FROM resources WHERE type='Patient' AND session='' AND deleted=0")]
    obs = [r[0] for r in conn.execute(
        "SELECT id FROM resources WHERE type='Observation' AND session='' LIMIT 5000")]
    codes = [r[0] for r in conn.execute(
        "SELECT DISTINCT t.code FROM idx_token t JOIN resources r ON r.rid=t.rid "
        "WHERE r.type='Observation' AND t.system='urn:medagent:lab' LIMIT 20")] or ["MG"]
    out: dict[str, list] = {"read": [], "search_obs": [], "search_obs_sorted": [],
                            "search_patient": [], "create": []}
    for _ in range(n):
        p = rng.choice(pats)
        out["read"].append(("GET", f"Observation/{rng.choice(obs)}", [], None))
        code = rng.choice(codes)
        out["search_obs"].append(("GET", "Observation", [("patient", p["id"]), ("code", code)],
                                  None))
        out["search_obs_sorted"].append(("GET", "Observation", [  # as the agent's lab tool asks
            ("patient", p["id"]), ("code", code), ("_sort", "-date"), ("_count", "50")], None))
        out["search_patient"].append(("GET", "Patient", [
            ("family", p["name"][0]["family"]), ("birthdate", p["birthDate"])], None))
        out["create"].append(("POST", "Observation", [], orjson.dumps({
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "urn:medagent:lab", "code": "MG"}], "text": "MG"},
            "subject": {"reference": f"Patient/{p['id']}"},
            "effectiveDateTime": "2023-11-13T10:15:00+00:00",
            "valueQuantity": {"value": 1.8, "unit": "mg/dL"}})))
    return out


# -- measurement ----------------------------------------------------------------------------
def stats(latencies: list[float], wall: float) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    return {"n": len(ms), "rps": len(ms) / wall, "p50": statistics.median(ms),
            "p95": ms[int(len(ms) * 0.95) - 1]}


def in_process(service: FhirService, reqs: list, seconds: float,
               session: str | None = None) -> dict:
    lat: list[float] = []
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        method, path, params, body = reqs[i % len(reqs)]
        t = time.perf_counter()
        resp = service.dispatch(method, path, params, body, {}, session)
        lat.append(time.perf_counter() - t)
        assert resp.status < 300, resp.body[:300]
        i += 1
    return stats(lat, time.perf_counter() - start)


def raw_sqlite(store: Store, reqs: list, seconds: float) -> dict:
    conn = store.conn()
    lat: list[float] = []
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        rtype, rid = reqs[i % len(reqs)][1].split("/")
        t = time.perf_counter()
        conn.execute("SELECT body FROM resources WHERE type=? AND id=? AND session=''",
                     (rtype, rid)).fetchone()
        lat.append(time.perf_counter() - t)
        i += 1
    return stats(lat, time.perf_counter() - start)


def _raw_request(host: str, prefix: str, method: str, path: str, params: list,
                 body: bytes | None) -> bytes:
    target = f"{prefix}{path}" + (f"?{urlencode(params)}" if params else "")
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"
    if body is not None:
        head += f"Content-Type: application/fhir+json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + (body or b"")


async def _http_worker(base: str, reqs: list, concurrency: int, seconds: float) -> list[float]:
    """Keep-alive HTTP/1.1 connections over real sockets, one request in flight each.

    A deliberately lean client: on a 2-core machine httpx's async client spends more CPU per
    request than the server does, so it would measure itself instead of the server.
    """
    url = urlsplit(base)
    host, port, prefix = url.hostname, url.port, url.path
    raw = [_raw_request(f"{host}:{port}", prefix, *r) for r in reqs]
    lat: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def loop() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                i = next(counter) % len(raw)
                t = time.perf_counter()
                writer.write(raw[i])
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                data = await reader.readexactly(length)
                lat.append(time.perf_counter() - t)
                if status >= 300:
                    raise RuntimeError(f"{reqs[i][0]} {reqs[i][1]}: {status} {data[:200]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return lat


def _worker_main(args: tuple) -> list[float]:
    return asyncio.run(_http_worker(*args))


def over_http(base: str, reqs: list, concurrency: int, seconds: float, workers: int) -> dict:
    per = max(1, concurrency // workers)
    start = time.perf_counter()
    if workers == 1:
        lat = _worker_main((base, reqs, per, seconds))
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_worker_main, [(base, reqs, per, seconds)] * workers)
        lat = [x for part in parts for x in part]
    return stats(lat, time.perf_counter() - start)


def row(name: str, s: dict, base: dict | None, key: str) -> str:
    ratio = ""
    if base is not None:
        ratio = (f"{s['rps'] / base['rps']:6.2f}x rps of baseline" if key == "rps"
                 else f"{s['p50'] / base['p50']:6.1f}x p50 of baseline")
    return (f"  {name:<34} {s['rps']:>9.0f} req/s   p50 {s['p50']:7.3f} ms   "
            f"p95 {s['p95']:7.3f} ms   {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=1, help="client processes for HTTP load")
    parser.add_argument("--db", type=Path, help="database to (seed and) use; default: a temp file")
    parser.add_argument("--server-workers", default="1", metavar="K,K,…",
                        help="server processes (medagent serve --workers K) to measure, e.g. 1,2,4")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="medagent-bench-")
    db = args.db or Path(tmp.name) / "bench.db"
    t0 = time.perf_counter()
    store, how = seed(db, args.patients)
    print(f"database {db}: {store.count()} resources, {how}, {time.perf_counter() - t0:.1f} s")
    service = FhirService(store, ServerSettings(db=db))
    reqs = workload(store)
    names = {"read": "read Observation by id", "search_obs": "search Observation patient+code",
             "search_obs_sorted": "  same, _sort=-date (agent tool)",
             "search_patient": "search Patient family+birthdate", "create": "create Observation"}

    print(f"\nin-process (FhirService.dispatch, 1 thread, {args.seconds:.0f} s each)")
    for op in reqs:  # warm-up (model classes, caches)
        for r in reqs[op][:20]:
            service.dispatch(r[0], r[1], r[2], r[3], {})
    base = raw_sqlite(store, reqs["read"], args.seconds)
    print(row("baseline: raw SQLite row by id", base, None, "p50"))
    session = service.create_session()  # writes go to a session: the baseline stays as seeded
    for op, reqlist in reqs.items():
        print(row(names[op], in_process(service, reqlist, args.seconds, session), base, "p50"))

    bare: dict | None = None
    for k in (int(x) for x in args.server_workers.split(",")):
        server = start_serve(db, "--no-seed", "--workers", str(k))
        url = server.base_url + "/"
        try:
            print(f"\nover HTTP, {k} server process(es) (medagent serve started in {server.started_s:.2f} s; "
                  f"{args.workers} client process(es), {args.concurrency} in flight, {args.seconds:.0f} s each)")
            meta = over_http(url, [("GET", "metadata", [], None)], args.concurrency, args.seconds,
                             args.workers)
            bare = bare or meta  # one worker's GET metadata: the bare-HTTP baseline of the run
            print(row("baseline: GET metadata", meta, None if k == 1 else bare, "rps"))
            session_url = f"{url.rstrip('/').removesuffix('/fhir')}/sessions/{session}/fhir/"
            for op, reqlist in reqs.items():
                s = over_http(session_url if op == "create" else url, reqlist, args.concurrency,
                              args.seconds, args.workers)
                print(row(names[op], s, meta, "rps") + f"   {s['rps'] / bare['rps']:5.2f}x 1-worker metadata")
        finally:
            server.stop()
    service.delete_session(session)
    store.close()


if __name__ == "__main__":
    main()
