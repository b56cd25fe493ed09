"""`medagent report DIR`: a self-contained HTML report of a run, and a short terminal table."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    parser = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run folder",
        description="Write one offline HTML file (summary, charts, failure reasons, every trial's "
        "trajectory) and print a short table in the terminal.",
    )
    parser.add_argument("run_dir", metavar="DIR", type=Path, help="the run folder")
    parser.add_argument("-o", "--output", metavar="FILE", type=Path,
                        help="HTML file to write (default: DIR/report.html)")
    parser.add_argument("--quiet", action="store_true", help="do not print the terminal table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from medagent.report import write_report
    from medagent.results import summary_of
    from medagent.results_view import print_summary
    from medagent.runfolder import read_run

    folder = read_run(args.run_dir)
    out = write_report(folder, args.output)
    if not args.quiet:
        print_summary(None, summary_of(folder))
    print(f"report written to {out}")
    return 0
