"""`medagent seed`: generate (or reuse) a cohort and load it into the embedded store or,
with ``--fhir-url``, into any FHIR R4 server through transaction Bundles.

The embedded store is the cohort's one default database (``medagent.embedded.cohort_db_path``,
shared with ``bench`` and ``serve``) unless ``--db``/``MEDAGENT_DB`` names another. Over HTTP
a server that already holds the cohort (its marker, ``patients.marker``, and matching
counts) is left alone unless ``--force``; the marker is written after the last resource.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from medagent.patients.errors import CohortError


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
    from medagent.patients import DEFAULT_PATIENTS, DEFAULT_SEED

    parser.add_argument("--patients", default=str(DEFAULT_PATIENTS), metavar="N",
                        help=f"number of patients (default {DEFAULT_PATIENTS})")
    parser.add_argument("--seed", default=str(DEFAULT_SEED), metavar="S",
                        help=f"cohort seed, a non-negative integer (default {DEFAULT_SEED})")
    profile_arg(parser)


# The CLI's default cohort is the one of the default suite (mab-edge-v1); the library's
# default (patients.DEFAULT_PROFILE) stays mab-v1.
CLI_PROFILE = "edge-v1"


def profile_arg(parser: argparse.ArgumentParser) -> None:
    from medagent.patients import profiles

    parser.add_argument("--profile", default=CLI_PROFILE, metavar="NAME",
                        help=f"cohort profile: {', '.join(sorted(profiles()))} (default {CLI_PROFILE}, "
                             "the cohort of the default suite; mab-v1 for suite mab-v1)")


def parse_cohort(args: argparse.Namespace) -> tuple[int, int]:
    from medagent.patients.scenarios import MIN_PATIENTS

    return int_arg(args.seed, "--seed", 0), int_arg(args.patients, "--patients", MIN_PATIENTS)


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    parser = sub.add_parser(
        "seed", help="load the synthetic cohort into the FHIR database (or any FHIR server)",
        description="Generate (or reuse the cached) cohort and bulk-load it into the embedded "
        "store; a no-op when the database already holds it. With --fhir-url, load it into any "
        "FHIR R4 server through transaction Bundles (PUT, idempotent).",
    )
    cohort_args(parser)
    parser.add_argument("--db", type=Path, help="SQLite database (default: MEDAGENT_DB, else the cohort's "
                                                "shared database $MEDAGENT_HOME/db/v<gen>-seed<S>-n<N>.db)")
    parser.add_argument("--fhir-url", help="base URL of a FHIR R4 server to load instead of the database")
    parser.add_argument("--token", help="bearer token for --fhir-url (default: MEDAGENT_TOKEN)")
    parser.add_argument("--force", action="store_true",
                        help="with --fhir-url: load even when the server already holds the cohort")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seed, n = parse_cohort(args)
    started = time.perf_counter()
    if args.fhir_url:
        return _over_http(args, seed, n, started)
    import os

    from medagent.fhir_server import ServerSettings, Store
    from medagent.patients import seed_store

    from medagent.embedded import cohort_db_path

    db = args.db or (ServerSettings().db if os.environ.get("MEDAGENT_DB") else cohort_db_path(seed, n, args.profile))
    store = Store(db)
    try:
        before = store.get_meta("cohort_checksum")
        manifest = seed_store(store, seed=seed, n_patients=n, profile=args.profile)
    finally:
        store.checkpoint()  # the load went through the WAL: fold it in, leave no large -wal file
        store.close()
    what = "already holds" if before == manifest.checksum else "now holds"
    print(f"{db} {what} cohort {args.profile} seed {seed}, {n} patients: {manifest.total:,} resources, "
          f"checksum {manifest.checksum[:16]} ({time.perf_counter() - started:.1f} s)")
    return 0


def _over_http(args: argparse.Namespace, seed: int, n: int, started: float) -> int:
    import httpx

    from medagent.fhir_server import ServerSettings
    from medagent.patients import Manifest, ensure_cohort
    from medagent.patients.http_load import load_over_http
    from medagent.patients.marker import check_server, marker_id, marker_resource

    directory = ensure_cohort(seed, n, args.profile)
    manifest = Manifest.load(directory)
    token = args.token or ServerSettings().token
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = args.fhir_url.rstrip("/")
    with httpx.Client(headers=headers, timeout=120.0) as http:
        check = check_server(http, base, manifest.checksum)
        if check.ok and not args.force:
            print(f"{args.fhir_url} already holds cohort {args.profile} seed {seed}, {n} patients (marker "
                  f"Basic/{marker_id(manifest.checksum)}, counts match): nothing loaded "
                  f"({time.perf_counter() - started:.1f} s; --force reloads)")
            return 0
        if check.marker is not None:
            print(f"medagent: reloading: {check.reason()}", file=sys.stderr)
            try:  # no marker while the load runs: an interrupted load is not taken for the cohort
                http.delete(f"{base}/Basic/{marker_id(manifest.checksum)}")
            except httpx.HTTPError:
                pass
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if sys.stderr.isatty() and time.perf_counter() - last[0] > 1:
                last[0] = time.perf_counter()
                print(f"\r{done:,}/{total:,} resources", end="", file=sys.stderr, flush=True)

        count = load_over_http(directory, args.fhir_url, token=token, progress=progress)
        if sys.stderr.isatty():
            print(file=sys.stderr)
        _put_marker(http, base, marker_resource(manifest))
        after = check_server(http, base, manifest.checksum)
    print(f"loaded {count:,} resources (cohort {args.profile} seed {seed}, {n} patients) into {args.fhir_url} "
          f"({time.perf_counter() - started:.1f} s)")
    if not after.ok:
        print(f"medagent: warning: after the load, {after.reason()}", file=sys.stderr)
    return 0


def _put_marker(http, base: str, marker: dict) -> None:  # noqa: ANN001 - httpx.Client
    import httpx

    from medagent.patients.errors import LoadError

    url = f"{base}/Basic/{marker['id']}"
    try:
        response = http.put(url, json=marker, headers={"Content-Type": "application/fhir+json"})
    except httpx.HTTPError as exc:
        raise LoadError(f"cannot write the cohort marker {url}: {exc}") from None
    if response.status_code not in (200, 201):
        raise LoadError(f"the FHIR server refused the cohort marker {url} (HTTP {response.status_code})")

