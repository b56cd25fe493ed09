"""medagent: a benchmark environment for AI agents working inside a FHIR R4 EHR.

Public entry points: the ``medagent`` command, :class:`medagent.Agent` (the one-method
protocol a custom agent implements, see :mod:`medagent.agents`) and :mod:`medagent.gym`
(an in-process reset/step API). ``Agent`` is imported lazily so ``medagent --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Agent", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Agent":
        from medagent.agents import Agent

        return Agent
    raise AttributeError(f"module 'medagent' has no attribute {name!r}")
