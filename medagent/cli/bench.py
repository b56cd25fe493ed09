"""`medagent bench`: run an agent on the task suite and write a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    p = sub.add_parser(
        "bench",
        help="run an agent on the task suite",
        description=(
            "Run an agent on the task suite. Without --fhir-url the embedded FHIR server runs "
            "in-process (seeded with the suite's cohort on first use). Results go to --out: "
            "run.json, trials.jsonl (one line per finished trial) and summary.json."
        ),
        epilog=(
            "Exit codes: 0 every trial completed; 1 the run finished but some trials are errors "
            "(see summary.json; --resume does not re-run them); 2 bad flags, settings or FHIR server; "
            "3 the model cannot be used (unreachable, key refused, unknown model): the run "
            "stopped, its finished trials are kept for --resume."
        ),
    )
    p.add_argument("--model", help="model name (needed by agents that call a model)")
    p.add_argument("--base-url", help="OpenAI-compatible API base URL (default: OpenAI)")
    p.add_argument("--api-key-env", metavar="NAME", help="environment variable holding the API key (default OPENAI_API_KEY)")
    p.add_argument("--temperature", type=float, help="sampling temperature (default 0, as the original)")
    p.add_argument("--max-tokens", type=int, metavar="N", help="output token limit per model turn "
                   "(sent as max_completion_tokens; --model-arg max_tokens=N for servers that want the old name)")
    p.add_argument("--seed", type=int, help="sampling seed, for providers that support it")
    p.add_argument("--reasoning-effort", metavar="LEVEL", help="reasoning effort (e.g. low, medium, high)")
    p.add_argument("--model-arg", action="append", metavar="KEY=VALUE", dest="model_arg",
                   help="any other request field, repeatable; VALUE is JSON or a string; null removes a default "
                        "(e.g. --model-arg top_p=0.9 --model-arg temperature=null)")
    p.add_argument("--agent", help="react (default), text, oracle, blind, null, module:Class or an entry-point name")
    p.add_argument("--suite", help="suite id or path of a suite file (default mab-edge-v1; mab-v1 is the "
                                   "original benchmark's shape, for comparison with the paper)")
    p.add_argument("--tasks", nargs="+", metavar="ID|CATEGORY", help="task ids, category numbers, query or action")
    p.add_argument("--concurrency", type=int, help="trials run at once (default 1)")
    p.add_argument("--epochs", type=int, help="runs of every task (default 1; pass^k is reported when > 1)")
    p.add_argument("--max-steps", type=int, help="rounds per trial: tool calls, finish and tool-less model turns "
                   "(default 8, the original's limit, finish included)")
    p.add_argument("--protocol", choices=["tools", "text"], help="native tool calls (default) or the original text protocol")
    p.add_argument("--fhir-url", metavar="URL|docker|embedded-http",
                   help="base URL of any FHIR R4 server holding the cohort (see --sessions); docker starts medagent's in a container; "
                        "embedded-http serves the embedded store on a local socket (default: in-process, no HTTP)")
    p.add_argument("--faults", choices=["none", "light", "heavy"],
                   help="FHIR fault profile of the agent's session: 429/503 with Retry-After, slow replies, "
                        "short first pages to follow (default none; grading never sees a fault)")
    p.add_argument("--sessions", choices=["auto", "on", "off"],
                   help="with --fhir-url: use the server's session API (on), or run trials one at a time "
                        "on the shared server and undo their writes (off); auto (default) probes /sessions")
    p.add_argument("--executor", choices=["local", "ray"],
                   help="where trials run: local (default, this process) or ray (a Ray cluster: extra [ray]; "
                        "--concurrency is then per worker; see docs/scaling.md)")
    p.add_argument("--ray-address", metavar="auto|HOST:PORT|ray://HOST:PORT",
                   help="the Ray cluster to use (default: start a local one for the run); the token of a "
                        "cluster with token authentication is read from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH "
                        "or ~/.ray/auth_token")
    p.add_argument("--ray-workers", type=int, metavar="N", help="Ray workers (default: one per node)")
    p.add_argument("--ray-cohort", choices=["seed", "ship"],
                   help="how each node gets its cohort replica: seed it from the generator (default) "
                        "or ship this machine's store through Ray's object store")
    p.add_argument("--out", type=Path, metavar="DIR", help="run folder (default runs/<time>-<agent>-<model>)")
    p.add_argument("--resume", type=Path, metavar="DIR", help="continue a killed run: skips its finished trials")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no results table")
    p.set_defaults(func=run)


_FLAGS = ("model", "base_url", "api_key_env", "agent", "suite", "tasks", "concurrency", "epochs",
          "max_steps", "protocol", "fhir_url", "temperature", "max_tokens", "seed", "reasoning_effort",
          "faults", "sessions", "executor", "ray_address", "ray_workers", "ray_cohort")


def config_from_args(args: argparse.Namespace):  # noqa: ANN201
    from medagent.errors import ConfigError
    from medagent.bench.config import BenchConfig, parse_model_args
    from medagent.runfolder import read_json

    given = {name: getattr(args, name) for name in _FLAGS if getattr(args, name) is not None}
    if args.model_arg:
        given["model_args"] = parse_model_args(args.model_arg)
    if args.resume is None:
        return BenchConfig(**given)
    if args.out is not None and args.out != args.resume:
        raise ConfigError("give either --out or --resume, not both")
    run_path = args.resume / "run.json"
    if not run_path.exists():
        raise ConfigError(f"--resume {args.resume}: not a run folder (no run.json)")
    stored = BenchConfig.from_run(read_json(run_path))
    for name, value in given.items():
        setattr(stored, name, value)
    stored.__post_init__()
    return stored


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from medagent.bench.run import run_bench

    config = config_from_args(args)
    console = Console(stderr=True)
    out = args.resume or args.out
    summary = run_bench(config, out, resume=args.resume is not None, console=console, progress=not args.quiet)
    return 0 if summary.get("n_trials") and not summary.get("errors") else 1
