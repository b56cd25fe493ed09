"""The FHIR server's resource bounds, measured on a real `medagent serve` process (127.0.0.1).

    python benchmarks/fhir_limits.py soak [--bursts 6] [--idle 11] [--patients 20]
    python benchmarks/fhir_limits.py revinclude [--patients 100] [--count 100]

``soak``: bursts of concurrent requests separated by idle gaps longer than the worker
threads' idle timeout (anyio retires a worker after 10 s), so every burst runs on new
threads. Prints the server's open file descriptors, RSS and virtual memory after each
burst; with owned connections they stay flat (a leaked SQLite connection per retired thread
adds fds and a 2 GiB mmap reservation each). Baseline: the values after the first burst.

``revinclude``: ``Patient?_revinclude=Observation:patient&_count=N`` on a stand-in cohort
(300 Observations per patient): status, reply size, time and the server's RSS before/after,
next to the baseline ``Patient?_count=N`` (the same page without includes) and the bounded
way to ask (``_count`` small enough to stay under ``max_include``).

Both seed a stand-in database (``benchmarks/fhir_server.py``'s loader) in a temporary
folder; nothing is sent anywhere but 127.0.0.1, and every loop is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medagent.fhir_server import Store  # noqa: E402
from medagent.fhir_server.process import start_serve  # noqa: E402


def _stand_in(n_patients: int) -> list[bytes]:
    """benchmarks/fhir_server.py's stand-in cohort (loaded by path: the name clashes)."""
    spec = importlib.util.spec_from_file_location(
        "bench_fhir_server", Path(__file__).with_name("fhir_server.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._stand_in(n_patients)


def _status(pid: int) -> dict[str, int]:
    """Open fds, RSS and virtual memory (KiB) of a process, from /proc."""
    out = {"fds": len(list(Path(f"/proc/{pid}/fd").iterdir()))}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmSize"):
            out[key] = int(value.split()[0])
    return out


def _seed(db: Path, patients: int) -> int:
    store = Store(db)
    try:
        return store.bulk_load(_stand_in(patients))
    finally:
        store.close()


def _burst(base: str, ids: list[str], concurrency: int, per_client: int) -> int:
    done: list[int] = []

    def client_loop(k: int) -> None:
        with httpx.Client(timeout=60) as client:
            for i in range(per_client):
                pid = ids[(k * per_client + i) % len(ids)]
                resp = client.get(f"{base}/Observation", params={"patient": pid, "_count": "20"})
                done.append(resp.status_code)

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(1 for s in done if s == 200)


@contextlib.contextmanager
def _served(name: str, patients: int) -> Iterator[tuple[Any, int]]:
    """A ``medagent serve`` subprocess over a fresh stand-in database of ``patients``
    patients in a temporary folder: yields (server, resources loaded); stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"medagent-{name}-") as tmp:
        db = Path(tmp) / f"{name}.db"
        n = _seed(db, patients)
        server = start_serve(db, "--no-seed", home=tmp)
        try:
            yield server, n
        finally:
            server.stop()


def soak(args: argparse.Namespace) -> None:
    with _served("soak", args.patients) as (server, n):
        pid = server.proc.pid
        ids = [f"S{i:07d}" for i in range(args.patients)]
        print(f"soak: {n} resources, {args.bursts} bursts of {args.concurrency}x"
              f"{args.requests} searches, {args.idle:g} s idle between (server pid {pid})")
        print(f"{'burst':>5} {'ok':>6} {'fds':>5} {'RSS MiB':>8} {'VM MiB':>8}")
        rows = []
        for b in range(1, args.bursts + 1):
            ok = _burst(server.base_url, ids, args.concurrency, args.requests)
            st = _status(pid)
            rows.append(st)
            print(f"{b:>5} {ok:>6} {st['fds']:>5} {st['VmRSS'] / 1024:>8.1f} "
                  f"{st['VmSize'] / 1024:>8.1f}")
            if b < args.bursts:
                time.sleep(args.idle)
        first, last = rows[0], rows[-1]
        print(f"last/first burst: fds x{last['fds'] / first['fds']:.2f}, RSS "
              f"x{last['VmRSS'] / first['VmRSS']:.2f}, VM x{last['VmSize'] / first['VmSize']:.2f}")


def revinclude(args: argparse.Namespace) -> None:
    with _served("revinclude", args.patients) as (server, n):
        pid = server.proc.pid
        print(f"revinclude: {n} resources ({args.patients} patients x 300 Observations)")
        print(f"{'request':<58} {'status':>6} {'bytes':>11} {'s':>6} {'RSS MiB before->after':>22}")
        asks = [
            ("baseline", {"_count": str(args.count)}),
            ("revinclude", {"_revinclude": "Observation:patient", "_count": str(args.count)}),
            ("bounded", {"_revinclude": "Observation:patient", "_count": "3"}),
        ]
        with httpx.Client(timeout=600) as client:
            for name, params in asks:
                before = _status(pid)["VmRSS"]
                started = time.perf_counter()
                resp = client.get(f"{server.base_url}/Patient", params=params)
                took = time.perf_counter() - started
                after = _status(pid)["VmRSS"]
                query = "&".join(f"{k}={v}" for k, v in params.items())
                print(f"{name + ': Patient?' + query:<58} {resp.status_code:>6} "
                      f"{len(resp.content):>11,} {took:>6.2f} "
                      f"{before / 1024:>10.1f}->{after / 1024:<8.1f}")
                if resp.status_code >= 400:
                    print(f"    {resp.json()['issue'][0]['diagnostics']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("soak", help="fds and memory across bursts on retiring worker threads")
    p.add_argument("--bursts", type=int, default=6)
    p.add_argument("--idle", type=float, default=11.0, help="seconds between bursts (> 10)")
    p.add_argument("--patients", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--requests", type=int, default=20, help="searches per client per burst")
    p.set_defaults(func=soak)
    p = sub.add_parser("revinclude", help="a page with _revinclude: size, time, RSS")
    p.add_argument("--patients", type=int, default=100)
    p.add_argument("--count", type=int, default=100)
    p.set_defaults(func=revinclude)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
