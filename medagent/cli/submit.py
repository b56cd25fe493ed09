"""`medagent submit DIR -o FILE`: pack a run folder into one verifiable submission file."""

from __future__ import annotations

import argparse
from pathlib import Path

from medagent.cli.leaderboard import add_suite_option, suite_kwargs, verified_line


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    parser = sub.add_parser(
        "submit",
        help="pack a run folder into a leaderboard submission file",
        description="Pack a run (run.json, trials.jsonl, summary.json) into one JSON file "
        "(gzip when FILE ends in .gz) with metadata, every trial and the scores, then verify it "
        "(replay its FHIR requests and re-grade it, as `medagent leaderboard verify` does).",
    )
    parser.add_argument("run_dir", metavar="DIR", type=Path, help="the run folder")
    parser.add_argument("-o", "--output", metavar="FILE", type=Path, required=True,
                        help="submission file to write (.json or .json.gz)")
    parser.add_argument("--gzip", action="store_true", help="compress even if FILE does not end in .gz")
    parser.add_argument("--provider", help="provider name to record (default: from run.json)")
    parser.add_argument("--no-verify", action="store_true",
                        help="write the file without verifying it first (e.g. an incomplete run)")
    add_suite_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from medagent.cli.leaderboard import BASELINE_NOTE
    from medagent.leaderboard import is_baseline, pack_run, verify_submission, write_submission

    doc = pack_run(args.run_dir, provider=args.provider)
    console = Console(stderr=True)
    if not args.no_verify:
        verified = verify_submission(doc, **suite_kwargs(args))
        console.print(f"verified: {verified_line(verified)}", markup=False, highlight=False, soft_wrap=True)
    elif is_baseline(doc["metadata"], doc["run"]):
        console.print(f"agent {doc['metadata']['agent']}: {BASELINE_NOTE}", markup=False, highlight=False)
    path = write_submission(doc, args.output, compress=True if args.gzip else None)
    print(f"{path}  {doc['digest']}")
    return 0
