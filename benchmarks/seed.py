"""Benchmark: generate and load the default cohort; cold start of `medagent serve`.

Prints resources/s for generation (NDJSON + manifest, all cores up to 4) and for the
bulk load into a fresh SQLite store, the total against the 60 s target and against HAPI
FHIR's published bulk import rate (~2,200 resources/s), the cohort's figures, and the
time `medagent serve` needs on the seeded database until /fhir/metadata answers.

    python benchmarks/seed.py [--patients 100] [--seed 42] [--workers N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medagent import patients  # noqa: E402
from medagent.fhir_server import Store  # noqa: E402
from medagent.fhir_server.process import start_serve  # noqa: E402
from medagent.patients._time import age_at  # noqa: E402
from medagent.patients.seeding import load_into  # noqa: E402
from tests.patients._cohort_data import resources  # noqa: E402

HAPI_RATE = 2200.0  # resources/s, HAPI FHIR JPA bulk import (published figure)
TARGET_S = 60.0
ORIGINAL_MIX = {"Observation": 71.8, "Procedure": 15.9, "Condition": 9.5, "MedicationRequest": 2.8}


def _cpu() -> float:
    """CPU seconds of this process and its finished children (insensitive to other load)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def cold_start(db: Path, home: Path) -> float:
    """Seconds from launching `medagent serve` on the seeded database until /fhir/metadata answers."""
    server = start_serve(db, home=home, timeout=120)
    server.stop()
    return server.started_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=patients.DEFAULT_PATIENTS)
    parser.add_argument("--seed", type=int, default=patients.DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--keep", type=Path, help="keep the cohort and database in this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="medagent-bench-seed-"))
    work.mkdir(parents=True, exist_ok=True)
    cohort, db = work / "cohort", work / "bench.db"
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.2f} (other work on the machine "
          f"inflates wall times; CPU seconds are shown too)  folder: {work}")
    try:
        t0, c0 = time.perf_counter(), _cpu()
        manifest = patients.generate(cohort, seed=args.seed, n_patients=args.patients, workers=args.workers)
        gen_s, gen_cpu = time.perf_counter() - t0, _cpu() - c0
        total = manifest.total
        size_mb = sum((cohort / f.path).stat().st_size for f in manifest.files.values()) / 1e6
        print(f"generate: {total:,} resources ({size_mb:,.0f} MB NDJSON) in {gen_s:.1f} s = {total / gen_s:,.0f} resources/s "
              f"(CPU {gen_cpu:.1f} s over all processes)")

        store = Store(db)
        t1, c1 = time.perf_counter(), _cpu()
        load_into(store, cohort, manifest)
        load_s, load_cpu = time.perf_counter() - t1, _cpu() - c1
        store.close()
        print(f"load:     {total:,} resources into SQLite in {load_s:.1f} s = {total / load_s:,.0f} resources/s "
              f"(CPU {load_cpu:.1f} s, one process)")
        both = gen_s + load_s
        hapi_s = total / HAPI_RATE
        print(f"total:    {both:.1f} s for generate + load; target {TARGET_S:.0f} s -> "
              f"{'MET' if both <= TARGET_S else 'MISSED'} ({both / TARGET_S:.2f}x of target)")
        print(f"vs HAPI:  {total:,} resources at ~{HAPI_RATE:,.0f}/s would take {hapi_s:,.0f} s "
              f"({hapi_s / 60:.1f} min); ours is {hapi_s / both:.1f}x faster end to end, "
              f"load alone {total / load_s / HAPI_RATE:.1f}x HAPI's rate")

        counts = manifest.counts
        base = sum(counts[t] for t in ORIGINAL_MIX)
        print("mix:      " + ", ".join(
            f"{t} {counts[t]:,} ({100 * counts[t] / base:.1f}% vs {share}%)" for t, share in ORIGINAL_MIX.items()))
        print("other:    " + ", ".join(f"{t} {c:,}" for t, c in counts.items() if t not in ORIGINAL_MIX))
        people = list(resources(cohort, "Patient"))
        ages = [age_at(date.fromisoformat(p["birthDate"]), patients.NOW) for p in people]
        female = sum(p["gender"] == "female" for p in people) / len(people)
        print(f"patients: {len(people)}; age at NOW mean {statistics.mean(ages):.1f} (sd {statistics.pstdev(ages):.1f}) "
              f"vs 58.2 (19.8); female {100 * female:.0f}% vs 47%")
        print(f"checksum: {manifest.checksum}")

        starts = [cold_start(db, work) for _ in range(3)]
        print(f"serve:    cold start on the seeded database until /fhir/metadata answers: "
              f"{min(starts):.2f} s best, {statistics.median(starts):.2f} s median (target <= 2 s; HAPI: 60-120 s)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
