"""Agents: the ``Agent`` protocol, the built-in agents and how ``--agent`` finds one.

An agent is any object with one async method, typed with this package's public types (an
editor completes ``view.`` and ``env.``)::

    from medagent import Env, TaskView

    class MyAgent:
        async def run(self, view: TaskView, env: Env) -> None:
            result = await env.call("search_patients", {"name": "..."})   # a tool call
            env.finish([...])                                           # the answer

The contract:

- ``view`` is a :class:`TaskView` (``tasks.TaskView``): ``id``, ``category``, ``kind``,
  ``instruction`` and ``context`` (``view.as_dict()`` gives them as a dict) — everything
  the task states, and nothing of the answer key. ``view.expected``, ``view.branch`` and
  ``view.patient`` raise ``AttributeError`` (the trial is recorded as an ``error``). Only
  the built-in reference solver (``oracle``, see :func:`reads_full_task`) is given the whole
  ``tasks.Task``; its runs are marked ``"reference_agent": true`` in ``run.json``.
- ``env`` is an :class:`Env` (``medagent.env.Env``, a ``typing.Protocol``; the runner hands
  out a ``medagent.env.TrialEnv``): ``env.tools`` (schemas) and ``env.tool_set`` (the
  ``tasks.Tool`` objects), ``await env.call(name, args)``, ``await env.request(...)`` (raw
  FHIR for text protocols; a path relative to the session's base — one that would leave
  the session is refused), ``env.finish(answer)``, ``env.pass_turn()``, ``env.end(reason)``,
  ``env.llm`` (the model client, or None), ``env.usage``, ``env.messages`` (the transcript
  to record) and read-only metadata (``env.task``, ``env.max_steps``, ``env.steps``,
  ``env.answer``, ``env.finished``). Nothing else: the FHIR server, other sessions and the
  baseline are not reachable through ``env``.
- Every tool call, raw request, ``finish`` and tool-less model turn is one step; at
  ``env.max_steps`` (default 8, the original's rounds, ``finish`` included) the trial ends
  (:class:`StepLimitReached` is raised; let it propagate). The trial also ends when ``run``
  returns, or at the time limit.

One agent object is made per trial (``Class()``), so ``run`` may keep state on ``self``.

``--agent`` accepts a built-in name (:data:`BUILTIN`), ``module:Class`` (``module`` is
imported as ``python -m`` would, the current folder searched too; it may also be a path
to a ``.py`` file), or a name registered in the entry-point group
``medagent.agents``::

    [project.entry-points."medagent.agents"]
    mine = "my_package.agents:MyAgent"
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from medagent.env import Env, StepLimitReached
from medagent.errors import ConfigError
from medagent.tasks.models import TaskView, ToolResult

__all__ = ["Agent", "BUILTIN", "ENTRY_POINT_GROUP", "Env", "StepLimitReached", "TaskView", "ToolResult",
           "load_agent", "known_agents", "needs_model", "reads_full_task"]

ENTRY_POINT_GROUP = "medagent.agents"


@runtime_checkable
class Agent(Protocol):
    """One async method: act on ``view`` through ``env`` and call ``env.finish(answer)``."""

    async def run(self, view: TaskView, env: Env) -> None: ...


# name -> "module:Class"; imported lazily so `medagent --help` stays fast.
BUILTIN: dict[str, str] = {
    "react": "medagent.agents._react:ReactAgent",
    "text": "medagent.agents._text:TextAgent",
    "oracle": "medagent.agents._builtin:OracleAgent",
    "blind": "medagent.agents._builtin:BlindAgent",
    "null": "medagent.agents._builtin:NullAgent",
}


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_agents() -> list[str]:
    return sorted({*BUILTIN, *_entry_points()})


def _import_module(name: str) -> Any:
    if name.endswith(".py") or "/" in name:
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"agent module {name}: no such file")
        spec = importlib.util.spec_from_file_location(f"medagent_user_agent_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        assert spec.loader is not None
        spec.loader.exec_module(module)
        return module
    cwd = os.getcwd()
    if cwd not in sys.path:  # as `python -m` does: `--agent examples.custom_agent:LookupAgent` from the project folder
        sys.path.append(cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"agent module {name!r} cannot be imported ({exc})") from None


def _resolve(spec: str) -> Any:
    if spec in BUILTIN:
        spec = BUILTIN[spec]
    elif ":" not in spec:
        eps = _entry_points()
        if spec not in eps:
            raise ConfigError(
                f"unknown agent {spec!r}; known agents: {', '.join(known_agents())} "
                "(or give module:Class)"
            )
        return eps[spec].load()
    module_name, _, attr = spec.rpartition(":")
    module = _import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"agent {spec!r}: {module_name} has no attribute {attr!r}") from None


def load_agent(spec: str) -> Callable[[], Agent]:
    """A factory making one agent per trial; a bad spec raises one-line ``ConfigError``."""
    target = _resolve(spec)
    factory = target if callable(target) else None
    if factory is None:
        raise ConfigError(f"agent {spec!r} is neither a class nor a factory")
    try:
        probe = factory()
    except TypeError as exc:
        raise ConfigError(f"agent {spec!r} cannot be made without arguments ({exc})") from None
    run = getattr(probe, "run", None)
    if run is None or not inspect.iscoroutinefunction(run):
        raise ConfigError(f"agent {spec!r} has no `async def run(self, view, env)` method")
    return factory


def needs_model(factory: Callable[[], Agent]) -> bool | None:
    """Whether the agent calls a model: its ``uses_model`` attribute (built-ins set it).

    None (not declared) means "maybe": the runner gives such an agent a model client
    when ``--model`` is given and none otherwise.
    """
    value = getattr(factory, "uses_model", None)
    return None if value is None else bool(value)


def reads_full_task(factory: Callable[[], Agent]) -> bool:
    """Whether the agent is given the whole ``tasks.Task`` (answer key included): only the
    built-in reference solver. No attribute or name of another agent can ask for it."""
    from medagent.agents._builtin import OracleAgent

    return factory is OracleAgent
