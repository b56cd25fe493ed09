"""Benchmark: `medagent seed --fhir-url` the first time (every resource PUT over HTTP) against
the second time (the cohort marker and counts match: nothing is sent), and the WAL that a
clean shutdown of `medagent serve` leaves behind.

Without --fhir-url the target is a fresh `medagent serve --no-sessions --no-seed` on an empty
database (a plain FHIR server); with --fhir-url, any FHIR R4 server (e.g. sekmet-fhir).

    python benchmarks/seed_http.py [--patients 5] [--seed 1] [--profile mab-v1] [--fhir-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medagent import patients  # noqa: E402
from medagent.fhir_server.process import start_serve  # noqa: E402
from medagent.cli import main as medagent  # noqa: E402


def _seed(url: str, profile: str, seed: int, n: int) -> tuple[float, str]:
    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = medagent(["seed", "--profile", profile, "--seed", str(seed), "--patients", str(n),
                         "--fhir-url", url])
    if code != 0:
        raise SystemExit(f"medagent seed failed with {code}")
    return time.perf_counter() - started, out.getvalue().strip()


def _wal(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default="mab-v1")
    parser.add_argument("--fhir-url", help="any FHIR R4 server (default: a fresh medagent serve --no-sessions)")
    args = parser.parse_args()
    manifest = patients.Manifest.load(patients.ensure_cohort(args.seed, args.patients, args.profile))
    print(f"cohort seed {args.seed}, {args.patients} patients: {manifest.total:,} resources")
    server = db = None
    url = args.fhir_url
    if url is None:
        db = Path(tempfile.mkdtemp(prefix="medagent-bench-seed-http-")) / "plain.db"
        server = start_serve(db, "--no-seed", "--no-sessions", timeout=120)
        url = server.base_url
    try:
        first, _ = _seed(url, args.profile, args.seed, args.patients)
        again, said = _seed(url, args.profile, args.seed, args.patients)
    finally:
        if server is not None:
            wal_running = _wal(db)
            server.proc.send_signal(signal.SIGTERM)
            server.proc.wait(60)
            server.stop()
    print(f"first load over HTTP: {first:8.1f} s  ({manifest.total / first:,.0f} resources/s)")
    print(f"again (marker skip):  {again:8.1f} s  -> {first / again:,.0f}x faster")
    print(f"  {said}")
    if db is not None:
        print(f"WAL while serving: {wal_running:,} bytes; after SIGTERM: {_wal(db):,} bytes "
              f"(database {db.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
