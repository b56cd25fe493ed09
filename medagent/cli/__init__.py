"""The ``medagent`` command.

Each verb lives in its own module under ``medagent.cli`` and exposes
``register(subparsers)``; the module adds its parser and sets ``func`` (a callable
taking the parsed ``argparse.Namespace`` and returning an exit code).

Errors from any package's hierarchy are printed as one readable line (no traceback)
and turn into their ``exit_code`` (2 unless the error says otherwise; 3 for a model that
cannot be used, see ``medagent.errors``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Verb modules, in the order they appear in ``medagent --help``.
_VERB_MODULES = (
    "serve",
    "seed",
    "export",
    "tasks_cmd",
    "bench",
    "mcp",
    "view",
    "report",
    "submit",
    "leaderboard",
)


def build_parser() -> argparse.ArgumentParser:
    from medagent import __version__

    parser = argparse.ArgumentParser(
        prog="medagent",
        description="A benchmark environment for AI agents working inside a FHIR R4 EHR.",
    )
    parser.add_argument("--version", action="version", version=f"medagent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _VERB_MODULES:
        module = importlib.import_module(f"medagent.cli.{name}")
        module.register(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from medagent.fhir_server.errors import FhirServerError
    from medagent.errors import MedagentError
    from medagent.patients.errors import PatientsError
    from medagent.tasks.errors import TaskError

    return (MedagentError, FhirServerError, PatientsError, TaskError)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except _user_errors() as exc:
        print(f"medagent: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        print("medagent: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # unreadable files, unreachable hosts, ports in use
        print(f"medagent: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
