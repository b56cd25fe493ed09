"""`medagent mcp`: serve the task suite over MCP; every finished task is a trial in --out."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    p = sub.add_parser(
        "mcp",
        help="serve the task suite over MCP (any MCP-capable agent; extra [mcp])",
        description=(
            "Serve the suite over MCP (stdio by default; streamable HTTP on 127.0.0.1 with --port). "
            "Tools: list_tasks, start_task(task_id) (returns the instruction and a trial handle), the "
            "nine FHIR tools and finish(answer). Each started task runs on its own FHIR session; "
            "finish grades it and appends it to the run folder --out, which medagent view, report, "
            "submit and leaderboard verify read like a bench run."
        ),
    )
    p.add_argument("--suite", default="mab-v1", help="suite id or path of a suite file (default mab-v1)")
    p.add_argument("--tasks", nargs="+", metavar="ID|CATEGORY", help="task ids, category numbers, query or action")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="run folder (default runs/<time>-mcp); an existing one of the same settings is continued")
    p.add_argument("--epochs", type=int, default=1, help="trials each task may have (default 1)")
    p.add_argument("--max-steps", type=int, default=8, help="tool calls per trial (default 8)")
    p.add_argument("--agent", default="mcp", help="agent name recorded in run.json (default mcp)")
    p.add_argument("--model", help="model name recorded in run.json (the model behind the MCP client)")
    p.add_argument("--port", type=int, metavar="PORT",
                   help="serve streamable HTTP on http://127.0.0.1:PORT/mcp instead of stdio (0: any free port)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    import anyio

    from medagent.adapters import require

    require("mcp", "mcp")
    from medagent.adapters.mcp_server import open_run, serve_http, serve_stdio
    from medagent.bench.config import BenchConfig
    from medagent.bench.folder import default_out_dir

    out = args.out or default_out_dir(BenchConfig(agent=args.agent, model=args.model))
    run_folder = open_run(args.suite, out, tasks=args.tasks, epochs=args.epochs, max_steps=args.max_steps,
                          agent=args.agent, model=args.model)
    if args.port is None:
        print(f"medagent mcp: serving {run_folder.suite.id} on stdio; run folder {out}", file=sys.stderr, flush=True)
        anyio.run(serve_stdio, run_folder)
    else:
        def ready(url: str) -> None:
            print(f"medagent mcp: serving {run_folder.suite.id} on {url}; run folder {out}", file=sys.stderr, flush=True)

        anyio.run(lambda: serve_http(run_folder, args.port, ready=ready))
    return 0
