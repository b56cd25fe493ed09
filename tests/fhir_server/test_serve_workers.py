"""``medagent serve --workers 2``: two server processes over one database; a session made
through one connection is used, written and read through many fresh connections (spread
over both workers), and every write is in the log and durable."""

from __future__ import annotations

from pathlib import Path

import httpx

from medagent.fhir_server import Store
from medagent.fhir_server.process import start_serve


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_two_workers_share_sessions_and_writes(seeded_db_copy):
    server = start_serve(seeded_db_copy, "--no-seed", "--workers", "2")
    try:
        workers = [p for p in _children(server.proc.pid)
                   if "spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]
        assert len(workers) == 2, workers
        before = {p: _cpu_ticks(p) for p in workers}
        root = server.base_url[: -len("/fhir")]
        fresh = {"limits": httpx.Limits(max_keepalive_connections=0)}  # a new connection per request
        with httpx.Client(**fresh, timeout=10) as http:
            session = http.post(f"{root}/sessions").json()
            base = session["base_url"]
            patient = http.get(f"{server.base_url}/Patient", params={"_count": "1"}).json()["entry"][0]["resource"]["id"]
            ids = []
            for i in range(12):
                obs = {"resourceType": "Observation", "status": "final", "code": {"text": f"WORKERS-{i}"},
                       "subject": {"reference": f"Patient/{patient}"}}
                reply = http.post(f"{base}/Observation", json=obs)
                assert reply.status_code == 201, reply.text
                ids.append(reply.json()["id"])
            for _ in range(3):  # every write visible through every connection, whichever worker answers
                for i, rid in enumerate(ids):
                    got = http.get(f"{base}/Observation/{rid}")
                    assert got.status_code == 200 and got.json()["code"]["text"] == f"WORKERS-{i}"
            log = http.get(f"{root}/sessions/{session['id']}/log").json()
            entries = log.get("entries", log) if isinstance(log, dict) else log
            assert [e["id"] for e in entries] == ids
            shared = http.get(f"{server.base_url}/Observation/{ids[0]}")
            assert shared.status_code == 404  # the baseline never sees a session's writes
        busy = [p for p in workers if _cpu_ticks(p) > before[p]]
        assert len(busy) == 2, "both workers answered requests"
    finally:
        server.stop()
    store = Store(seeded_db_copy)  # durable: the session and its 12 writes are in the file after the stop
    try:
        assert store.conn().execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
        assert store.conn().execute("SELECT COUNT(*) FROM write_log").fetchone()[0] == 12
    finally:
        store.close()
