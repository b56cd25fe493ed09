"""A Gymnasium-style, in-process environment for one task (for RL and agent research).

    from medagent import gym
    env = gym.make("mab-v1", "task4_3", max_steps=8)
    obs = env.reset()                    # {"task_id", "instruction", "context", "tools"}
    obs, reward, terminated, truncated, info = env.step(
        {"name": "search_lab_observations", "arguments": {"patient": "S1234567", "code": "MG"}})
    obs, reward, terminated, truncated, info = env.step({"name": "finish", "arguments": {"answer": [1.8]}})
    env.close()

- An action is a tool call ``{"name": ..., "arguments": {...}}`` (or a ``(name, arguments)``
  pair); ``finish`` with ``{"answer": [...]}`` ends the episode.
- A tool call's observation is ``{"tool", "ok", "status", "content"}``; bad arguments come
  back as ``ok: False`` observations, not exceptions.
- ``reward`` is 0 until ``finish``, then 1.0 if ``tasks.grade`` passes the answer and the
  session's writes, else 0.0 (``info["grade"]`` holds the checks). ``terminated`` is True
  after ``finish``; ``truncated`` is True when the step limit is reached without it.
- No HTTP: calls go straight to ``FhirService.dispatch`` through ``LocalFhirClient``, in a
  fresh server session per ``reset()`` (so episodes never see each other's writes).
- ``env.task`` is the task's public view (``tasks.TaskView``: id, category, kind,
  instruction, context) — what a policy may see. The full task (the answer key) stays
  private to the grading step.
- Every tool call and ``finish`` is a step (the original's 8 rounds include ``FINISH``):
  with ``max_steps=8`` a policy has 7 tool calls and then must finish.
- Unlike Gymnasium, ``reset()`` returns the observation alone (there is no ``info``).
"""

from __future__ import annotations

import asyncio
import difflib
from typing import Any

from medagent.env import StepLimitReached, TrialEnv
from medagent.errors import MedagentError
from medagent.results import to_jsonable

__all__ = ["MedEnv", "EnvStateError", "make"]


class EnvStateError(MedagentError):
    """``step`` before ``reset`` or after the episode ended."""


def _load_suite(suite: Any) -> Any:
    import tasks

    return tasks.load_suite(suite) if isinstance(suite, str) else suite


def make(suite: Any = "mab-edge-v1", task_id: str | None = None, *, max_steps: int = 8, service: Any = None) -> MedEnv:
    """An environment for ``task_id`` of ``suite`` (a suite id, path or ``tasks.Suite``)."""
    from tasks.errors import UnknownTaskError

    suite = _load_suite(suite)
    by_id = {t.id: t for t in suite.tasks}
    if task_id not in by_id:
        close = difflib.get_close_matches(str(task_id), list(by_id), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else f" Its tasks are {suite.tasks[0].id} … {suite.tasks[-1].id}."
        raise UnknownTaskError(f"task {task_id!r} is not in suite {suite.id}.{hint}")
    if service is None:
        from medagent.embedded import open_service

        service = open_service(suite)
    from tasks.toolsets import tools_of

    return MedEnv(by_id[task_id], service, max_steps=max_steps, tools=tools_of(suite))


class MedEnv:
    def __init__(self, task: Any, service: Any, *, max_steps: int = 8, tools: Any = None) -> None:
        from medagent.runner_backends import LocalBackend

        self.task = task.view()  # what a policy may see; the answer key stays in _task
        self._task = task
        self.max_steps = max_steps
        self.tool_set = tools  # the suite's tools (None: the nine of mab-v1)
        self._backend = LocalBackend(service)  # the runner's own session open/close
        self._loop = asyncio.new_event_loop()
        self._env: TrialEnv | None = None
        self._session: str | None = None
        self._done = False

    def _end_session(self) -> list[dict[str, Any]]:
        writes: list[dict[str, Any]] = []
        if self._session is not None:
            writes = self._loop.run_until_complete(self._backend.close(self._session))
            self._session = None
        return writes

    def reset(self) -> dict[str, Any]:
        """Start a new episode in a fresh server session; returns the first observation."""
        self._end_session()
        self._session, client = self._loop.run_until_complete(self._backend.open())
        self._env = TrialEnv(self._task, client, max_steps=self.max_steps, tools=self.tool_set)
        self._done = False
        return {
            "task_id": self.task.id,
            "instruction": self.task.instruction,
            "context": self.task.context,
            "tools": self._env.tools,
        }

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._env is None or self._done:
            raise EnvStateError("call reset() before step() (the episode has not started or has ended)")
        name, args = (action if isinstance(action, tuple) else (action.get("name"), action.get("arguments")))
        args = args or {}
        env = self._env
        try:
            result = self._loop.run_until_complete(env.call(name, args))
        except StepLimitReached:
            return self._end(terminated=False)
        if env.finished:
            return self._end(terminated=True)
        obs = {"tool": name, "ok": result.ok, "status": result.status, "content": result.content}
        if env.steps >= env.max_steps:
            self._done = True
            writes = self._end_session()
            return obs, 0.0, False, True, {"steps": env.steps, "writes": writes}
        return obs, 0.0, False, False, {"steps": env.steps}

    def _end(self, *, terminated: bool) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        import tasks

        self._done = True
        writes = self._end_session()
        info: dict[str, Any] = {"steps": self._env.steps, "writes": writes}
        reward = 0.0
        if terminated:
            grade = tasks.grade(self._task, self._env.answer, writes)
            info["grade"] = to_jsonable(grade)
            reward = 1.0 if grade.passed else 0.0
        return {"answer": self._env.answer}, reward, terminated, not terminated, info

    def close(self) -> None:
        self._end_session()
        if not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> MedEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
