"""Reference scores of a suite, recorded in its header when it is built.

- ``oracle``: the reference solutions (``solve``), which read the record through the tools;
  a suite on which they do not score 100 % is broken, and building it fails.
- ``blind``: the best policy that reads nothing — each category's ``blind(view, env)``
  sees only the public ``TaskView`` (the instruction) and may write. Its score is what a
  suite hands out for free; every run is shown beside it.

Both run in-process, each trial in its own server session, through this package's own
``LocalFhirClient`` and ``ClientToolEnv`` (the same path as the built-in agents), and are
graded with ``tasks.grade`` on the session's write log. Format (fractions 0–1, 4 decimals):
``{"blind": {"overall", "query", "action", "per_category": {"1": f, …}}, "oracle": {…}}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from .categories import get_category
from .clients import LocalFhirClient
from .env import ClientToolEnv
from .errors import SuiteError, TaskError
from .grading import grade
from .models import Grade, Suite, Task
from .toolsets import tools_of

Policy = Callable[[Task, Any], Awaitable[list]]


async def _oracle(task: Task, env: Any) -> list:
    return await get_category(task.category).solve(task, env)


async def _blind(task: Task, env: Any) -> list:
    return await get_category(task.category).blind(task.view(), env)


POLICIES: dict[str, Policy] = {"blind": _blind, "oracle": _oracle}


async def run_policy(service: Any, task: Task, policy: Policy, tools: tuple | None = None) -> Grade:
    """One trial of ``policy`` in a fresh session of ``service`` (a ``FhirService``)."""
    sid = service.create_session()
    try:
        try:
            env = ClientToolEnv(LocalFhirClient(service, sid), *(() if tools is None else (tools,)))
            answer = await policy(task, env)
        except TaskError:
            answer = None
        writes = service.session_log(sid)
    finally:
        service.delete_session(sid)
    return grade(task, answer, writes)


def score(tasks: list[Task], passed: list[bool]) -> dict[str, Any]:
    """``{"overall", "query", "action", "per_category"}`` as fractions (4 decimals)."""
    def frac(keep: Callable[[Task], bool]) -> float:
        marks = [ok for t, ok in zip(tasks, passed, strict=True) if keep(t)]
        return round(sum(marks) / len(marks), 4) if marks else 0.0

    categories = sorted({t.category for t in tasks})
    return {"overall": frac(lambda t: True), "query": frac(lambda t: t.kind == "query"),
            "action": frac(lambda t: t.kind == "action"),
            "per_category": {str(n): frac(lambda t, n=n: t.category == n) for n in categories}}


async def _grades(service: Any, tasks: list[Task], policy: Policy,
                  tools: tuple | None = None) -> list[Grade]:
    return [await run_policy(service, t, policy, tools) for t in tasks]


def compute_baselines(suite: Suite, service: Any) -> dict[str, Any]:
    """Blind and oracle scores of ``suite`` on ``service`` (which must hold its cohort)."""
    out: dict[str, Any] = {}
    for name in ("blind", "oracle"):
        grades = asyncio.run(_grades(service, suite.tasks, POLICIES[name], tools_of(suite)))
        if name == "oracle" and not all(g.passed for g in grades):
            failed = [t.id for t, g in zip(suite.tasks, grades, strict=True) if not g.passed]
            raise SuiteError(f"suite {suite.id}: the reference solutions fail {len(failed)} task(s) "
                             f"({', '.join(failed[:8])}): the suite or its cohort is broken")
        out[name] = score(suite.tasks, [g.passed for g in grades])
    return out


def with_baselines(suite: Suite, service: Any) -> Suite:
    return suite.model_copy(update={"baselines": compute_baselines(suite, service)})
