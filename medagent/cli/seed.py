"""`medagent seed`: generate (or reuse) a cohort and load it into the embedded store or,
with ``--fhir-url``, into any FHIR R4 server through transaction Bundles."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from patients.errors import CohortError


def int_arg(value: str, flag: str, minimum: int) -> int:
    """Parse a CLI integer; bad input becomes one readable ``CohortError`` line."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise CohortError(f"{flag} must be an integer, got {value!r}") from None
    if number < minimum:
        raise CohortError(f"{flag} must be at least {minimum}, got {number}")
    return number


def cohort_args(parser: argparse.ArgumentParser) -> None:
    from patients import DEFAULT_PATIENTS, DEFAULT_SEED

    parser.add_argument("--patients", default=str(DEFAULT_PATIENTS), metavar="N",
                        help=f"number of patients (default {DEFAULT_PATIENTS})")
    parser.add_argument("--seed", default=str(DEFAULT_SEED), metavar="S",
                        help=f"cohort seed, a non-negative integer (default {DEFAULT_SEED})")
    profile_arg(parser)


# The CLI's default cohort is the one of the default suite (mab-edge-v1); the library's
# default (patients.DEFAULT_PROFILE) stays mab-v1.
CLI_PROFILE = "edge-v1"


def profile_arg(parser: argparse.ArgumentParser) -> None:
    from patients import profiles

    parser.add_argument("--profile", default=CLI_PROFILE, metavar="NAME",
                        help=f"cohort profile: {', '.join(sorted(profiles()))} (default {CLI_PROFILE}, "
                             "the cohort of the default suite; mab-v1 for suite mab-v1)")


def parse_cohort(args: argparse.Namespace) -> tuple[int, int]:
    from patients.scenarios import MIN_PATIENTS

    return int_arg(args.seed, "--seed", 0), int_arg(args.patients, "--patients", MIN_PATIENTS)


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    parser = sub.add_parser(
        "seed", help="load the synthetic cohort into the FHIR database (or any FHIR server)",
        description="Generate (or reuse the cached) cohort and bulk-load it into the embedded "
        "store; a no-op when the database already holds it. With --fhir-url, load it into any "
        "FHIR R4 server through transaction Bundles (PUT, idempotent).",
    )
    cohort_args(parser)
    parser.add_argument("--db", type=Path, help="SQLite database (default: MEDAGENT_DB or $MEDAGENT_HOME/medagent.db)")
    parser.add_argument("--fhir-url", help="base URL of a FHIR R4 server to load instead of the database")
    parser.add_argument("--token", help="bearer token for --fhir-url")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seed, n = parse_cohort(args)
    started = time.perf_counter()
    if args.fhir_url:
        return _over_http(args, seed, n, started)
    from fhir_server import ServerSettings, Store
    from patients import seed_store

    db = args.db or ServerSettings().db
    store = Store(db)
    try:
        before = store.get_meta("cohort_checksum")
        manifest = seed_store(store, seed=seed, n_patients=n, profile=args.profile)
    finally:
        store.close()
    what = "already holds" if before == manifest.checksum else "now holds"
    print(f"{db} {what} cohort {args.profile} seed {seed}, {n} patients: {manifest.total:,} resources, "
          f"checksum {manifest.checksum[:16]} ({time.perf_counter() - started:.1f} s)")
    return 0


def _over_http(args: argparse.Namespace, seed: int, n: int, started: float) -> int:
    from patients import ensure_cohort
    from patients.http_load import load_over_http

    directory = ensure_cohort(seed, n, args.profile)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and time.perf_counter() - last[0] > 1:
            last[0] = time.perf_counter()
            print(f"\r{done:,}/{total:,} resources", end="", file=sys.stderr, flush=True)

    count = load_over_http(directory, args.fhir_url, token=args.token, progress=progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"loaded {count:,} resources (cohort {args.profile} seed {seed}, {n} patients) into {args.fhir_url} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0
