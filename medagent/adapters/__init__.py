"""Adapters that run medagent from the tools its users already use.

- :mod:`medagent.adapters.mcp_server` — ``medagent mcp``: the suite over MCP (stdio or
  streamable HTTP), every finished task a trial in a run folder (extra ``[mcp]``);
- :mod:`medagent.adapters.inspect_task` — ``inspect eval medagent/mab_v1`` (extra ``[inspect]``);
- :mod:`medagent.adapters.verifiers_env` — a verifiers ``Taskset`` for ``vf-eval`` /
  ``vf-validate`` (extra ``[verifiers]``).

Each is a thin layer over what the runner already has: sessions (``medagent.bench.backends``),
tools and step limits (``env.TrialEnv``), grading (``tasks.grade``) and the trial record
(``runner.TrialRunner``), reached through :mod:`medagent.adapters._remote`. Agents get only
the public task view (``tasks.TaskView``); the answer key never leaves the process.

Third-party libraries are imported lazily, inside the adapter modules, so neither the
base install nor ``import medagent`` pays for them; :func:`require` turns a missing
extra into one line saying what to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]

# extra → the distribution it installs (what the error message names)
_EXTRAS = {"mcp": "mcp", "inspect": "inspect-ai", "verifiers": "verifiers"}


def require(extra: str, module: str) -> ModuleType:
    """Import ``module`` of the ``extra``'s library, or raise a one-line ConfigError."""
    from medagent.errors import ConfigError

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"this needs {_EXTRAS[extra]}, which is not installed ({exc.name or module}): "
            f'pip install "medagent[{extra}]"'
        ) from None
