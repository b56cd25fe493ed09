"""`medagent export`: write a cohort's FHIR Bulk Data NDJSON files and manifest to a folder."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from .seed import cohort_args, parse_cohort


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    parser = sub.add_parser(
        "export", help="write the synthetic cohort as FHIR NDJSON + manifest.json",
        description="Write one <ResourceType>.ndjson per type plus manifest.json (FHIR Bulk Data "
        "format) for the cohort of --seed/--patients; byte-identical for the same seed.",
    )
    parser.add_argument("--out", type=Path, required=True, help="destination folder")
    cohort_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from medagent.patients import Manifest, ensure_cohort
    from medagent.patients.manifest import MANIFEST

    seed, n = parse_cohort(args)
    source = ensure_cohort(seed, n, args.profile)
    manifest = Manifest.load(source)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for entry in manifest.files.values():
        shutil.copyfile(source / entry.path, out / entry.path)
    shutil.copyfile(source / MANIFEST, out / MANIFEST)
    print(f"wrote {manifest.total:,} resources in {len(manifest.files)} NDJSON files + {MANIFEST} "
          f"to {out} (checksum {manifest.checksum[:16]})")
    return 0
