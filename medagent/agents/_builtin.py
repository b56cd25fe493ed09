"""Model-free built-in agents: ``oracle`` (reference solutions), ``blind`` (the best policy
that reads nothing) and ``null`` (does nothing)."""

from __future__ import annotations

from typing import Any

from medagent.env import Env
from medagent.tasks.models import Task, TaskView, ToolResult


class OracleAgent:
    """Runs the task's reference solution through the env's tools; scores 100% by design.

    The one agent given the whole ``tasks.Task`` (the solutions read ``params``); its runs
    are reference runs, not entries (``reference_agent`` in run.json)."""

    uses_model = False

    async def run(self, task: Task | TaskView, env: Env) -> None:  # given the full Task (reads_full_task)
        from medagent import tasks

        answer = await tasks.get_category(task.category).solve(task, env)
        env.finish(answer)


class BlindAgent:
    """The best policy that makes no read: it sees only the public task view (the
    instruction) and may write. Its score is what the suite gives away for free; the suite
    header records it as ``baselines.blind`` (``tasks.baselines``)."""

    uses_model = False

    async def run(self, view: TaskView, env: Env) -> None:
        from medagent import tasks

        view = view.view() if hasattr(view, "view") else view  # a full Task given by a caller: its view
        env.finish(await tasks.get_category(view.category).blind(view, _WritesOnly(env)))


class _WritesOnly:
    """The env with every read tool refused (a blind policy that tried one would be a bug)."""

    def __init__(self, env: Env) -> None:
        self._env = env

    async def call(self, name: str, args: dict[str, Any]) -> ToolResult:
        from medagent import tasks

        known = {t.name: t for t in getattr(self._env, "tool_set", None) or tasks.TOOLS}
        tool = known.get(name)
        if tool is None or tool.kind != "write":
            raise tasks.SolveError(f"the blind agent may not call {name!r} (it makes no reads)")
        return await self._env.call(name, args)


class NullAgent:
    """Answers nothing and writes nothing: the floor every graded suite is measured against."""

    uses_model = False

    async def run(self, view: TaskView, env: Env) -> None:
        return None
