"""`medagent tasks`: browse, export and build task suites.

    medagent tasks list   [--suite ID|PATH] [--category N]
    medagent tasks show   TASK_ID [--suite ID|PATH]
    medagent tasks export [--suite ID|PATH] [--out FILE]
    medagent tasks build  --suite-id ID [--seed S] [--profile NAME] [--cohort-seed S]
                          [--patients N] [--per-category N] [--no-baselines] [--out DIR]

``--suite`` defaults to ``mab-edge-v1`` (``tasks.DEFAULT_SUITE``); a path names a suite file
(``<id>.jsonl`` next to its ``<id>.json`` header). ``build`` generates (or reuses) the
cohort of ``--profile`` (default ``edge-v1``, the cohort of the default suite), seeds the
embedded store with it, records the blind and oracle scores in the header (unless
``--no-baselines``) and writes both files, by default to ``$MEDAGENT_HOME/suites`` where
``--suite ID`` finds them (after the suites shipped with the package).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    parser = sub.add_parser("tasks", help="browse, export and build task suites",
                            description="Browse, export and build task suites.")
    verbs = parser.add_subparsers(dest="tasks_verb", metavar="VERB")

    def suite_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--suite", default="mab-edge-v1", help="suite id or path (default mab-edge-v1)")

    p = verbs.add_parser("list", help="a table of the suite's tasks")
    suite_arg(p)
    p.add_argument("--category", type=int, help="only this category (a number of the suite, e.g. 5 or 12)")
    p.set_defaults(func=run_list)

    p = verbs.add_parser("show", help="one task: instruction, context, expected answer")
    p.add_argument("task_id", metavar="TASK_ID", help="e.g. task5_12")
    suite_arg(p)
    p.set_defaults(func=run_show)

    p = verbs.add_parser("export", help="the suite as JSONL (one task per line)")
    suite_arg(p)
    p.add_argument("--out", help="output file (default: standard output)")
    p.set_defaults(func=run_export)

    p = verbs.add_parser("build", help="build a suite from a cohort (deterministic)")
    p.add_argument("--suite-id", required=True, help="id of the new suite, e.g. mab-private")
    p.add_argument("--seed", type=int, default=0, help="instance selection seed (default 0)")
    from .seed import profile_arg

    profile_arg(p)
    p.add_argument("--no-baselines", action="store_true",
                   help="do not run the blind and oracle policies (no baselines in the header)")
    p.add_argument("--cohort-seed", type=int, default=None,
                   help="cohort seed (default: the cohort generator's default)")
    p.add_argument("--patients", type=int, default=100, help="cohort size (default 100)")
    p.add_argument("--per-category", type=int, default=30, help="tasks per category (default 30)")
    p.add_argument("--out", help="output folder (default $MEDAGENT_HOME/suites, where --suite ID finds it)")
    p.set_defaults(func=run_build)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from medagent import tasks
    from medagent.tasks.text import short

    suite = tasks.load_suite(args.suite)
    rows = suite.tasks if args.category is None else suite.category(args.category)
    if args.category is not None and not rows:
        present = ", ".join(str(n) for n in sorted({t.category for t in suite.tasks}))
        raise tasks.UnknownTaskError(f"suite {suite.id} has no category {args.category} (its categories: {present})")
    console = Console()
    table = Table(title=f"{suite.id}: {len(rows)} tasks (checksum {suite.checksum[:12]})")
    columns = {"id": [t.id for t in rows], "cat": [str(t.category) for t in rows],
               "kind": [t.kind for t in rows], "branch": [t.branch for t in rows],
               "patient": [t.patient or "-" for t in rows]}
    used = 0
    for name, values in columns.items():
        width = max([len(name), *map(len, values)])
        used += width + 3
        table.add_column(name, no_wrap=True, min_width=width)
    room = max(20, console.width - used - 4)
    table.add_column("instruction", no_wrap=True)
    for i, t in enumerate(rows):
        table.add_row(*(values[i] for values in columns.values()), short(t.instruction, room))
    console.print(table)
    return 0


def run_show(args: argparse.Namespace) -> int:
    import orjson
    from rich.console import Console
    from rich.panel import Panel

    from medagent import tasks

    task = tasks.load_suite(args.suite).get(args.task_id)
    module = tasks.get_category(task.category)
    console = Console()
    console.print(Panel(
        f"[bold]{task.id}[/] — category {task.category} ({module.TITLE}), {task.kind}, "
        f"branch [cyan]{task.branch}[/], patient {task.patient or '-'}", expand=False))
    console.print("[bold]Instruction[/]", task.instruction, "", "[bold]Context[/]", task.context,
                  sep="\n", highlight=False)
    for label, value in (("Inputs", task.params), ("Expected", task.expected)):
        if value:
            console.print(f"\n[bold]{label}[/]")
            console.print(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode(), highlight=False)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from medagent import tasks
    from medagent.tasks._suite_io import tasks_jsonl

    data = tasks_jsonl(tasks.load_suite(args.suite).tasks)
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"medagent: wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def run_build(args: argparse.Namespace) -> int:
    from medagent import patients
    from medagent import tasks

    kwargs = {} if args.cohort_seed is None else {"seed": args.cohort_seed}
    cohort = patients.ensure_cohort(n_patients=args.patients, profile=args.profile, **kwargs)
    suite = tasks.build_suite(args.suite_id, args.seed, cohort, per_category=args.per_category)
    if not args.no_baselines:
        from medagent.embedded import open_service

        suite = tasks.with_baselines(suite, open_service(suite))
    from medagent.tasks._suite_io import user_suites_dir

    jsonl, header = tasks.write_suite(suite, Path(args.out) if args.out else user_suites_dir())
    print(f"medagent: {len(suite.tasks)} tasks → {jsonl} (checksum {suite.checksum[:12]}…), "
          f"header {header}", file=sys.stderr)
    if args.out is None:
        print(f"medagent: run it with: medagent bench --suite {suite.id}", file=sys.stderr)
    if suite.baselines:
        blind, oracle = suite.baselines["blind"]["overall"], suite.baselines["oracle"]["overall"]
        print(f"medagent: blind {blind:.1%}, oracle {oracle:.1%}", file=sys.stderr)
    return 0
