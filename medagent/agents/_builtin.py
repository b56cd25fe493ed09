"""Model-free built-in agents: ``oracle`` (reference solutions) and ``null`` (does nothing)."""

from __future__ import annotations

from typing import Any


class OracleAgent:
    """Runs the task's reference solution through the env's tools; scores 100% by design."""

    uses_model = False

    async def run(self, task: Any, env: Any) -> None:
        import tasks

        answer = await tasks.get_category(task.category).solve(task, env)
        env.finish(answer)


class NullAgent:
    """Answers nothing and writes nothing: the floor every graded suite is measured against."""

    uses_model = False

    async def run(self, task: Any, env: Any) -> None:
        return None
