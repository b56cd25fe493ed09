"""`medagent view DIR [TASK]`: a run's summary, or one trajectory, in the terminal."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    p = sub.add_parser("view", help="show a run's results or one trajectory")
    p.add_argument("dir", type=Path, metavar="DIR", help="a run folder written by medagent bench")
    p.add_argument("task", nargs="?", metavar="TASK", help="a task id (task5_12) or trial id (task5_12#2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from medagent.errors import ResultsError
    from medagent.results import summary_of
    from medagent.results_view import print_summary, print_trial, trials_table
    from medagent.runfolder import read_run

    folder = read_run(args.dir)
    console = Console()
    if args.task is None:
        print_summary(console, summary_of(folder))
        console.print(trials_table(folder.trials))
        return 0
    wanted = [t for t in folder.trials if args.task in (t.get("trial_id"), t.get("task_id"))]
    if not wanted:
        raise ResultsError(f"{args.dir}: no trial {args.task!r} in this run")
    for trial in wanted:
        print_trial(console, trial)
    return 0
