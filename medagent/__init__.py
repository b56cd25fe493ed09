"""medagent: a benchmark environment for AI agents working inside a FHIR R4 EHR.

Public entry points: the ``medagent`` command; the types a custom agent is written against —
:class:`medagent.Agent` (the one-method protocol), :class:`medagent.TaskView` (the task as
an agent sees it), :class:`medagent.Env` (what the agent may call: tools, raw FHIR requests,
``finish``), :class:`medagent.ToolResult` and :class:`medagent.StepLimitReached` (see
:mod:`medagent.agents`); and :mod:`medagent.gym` (an in-process reset/step API). The types
are imported lazily so ``medagent --help`` stays fast; an editor or type checker sees them
through the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medagent.agents import Agent
    from medagent.env import Env, StepLimitReached
    from medagent.tasks.models import TaskView, ToolResult

__version__ = "0.1.0"

__all__ = ["Agent", "Env", "StepLimitReached", "TaskView", "ToolResult", "__version__"]

def _load(name: str) -> Any:  # plain import statements, so a rename of the packages rewrites them
    if name == "Agent":
        from medagent.agents import Agent

        return Agent
    if name in ("Env", "StepLimitReached"):
        from medagent import env

        return getattr(env, name)
    if name in ("TaskView", "ToolResult"):
        from medagent.tasks import models

        return getattr(models, name)
    raise AttributeError(f"module 'medagent' has no attribute {name!r}")


def __getattr__(name: str) -> Any:
    value = _load(name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
