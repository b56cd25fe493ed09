"""Gymnasium environments over the task suites (for RL and agent research; extra ``[gym]``).

    import gymnasium
    import medagent.gym                              # registers the ids below
    env = gymnasium.make("medagent/mab-edge-v1-task4_3", max_steps=8)
    obs, info = env.reset(seed=0)                    # obs: JSON text {"task": <TaskView>, "tools": [...]}
    obs, reward, terminated, truncated, info = env.step(
        '{"name": "search_lab_observations", "arguments": {"patient": "S1234567", "code": "MG"}}')
    obs, reward, terminated, truncated, info = env.step({"name": "finish", "arguments": {"answer": [1.8]}})
    env.close()

Ids (registered when this module is imported, for every bundled suite):

- ``medagent/<suite>`` (e.g. ``medagent/mab-edge-v1``): one task per episode, chosen in
  ``reset(options={"task_id": "task4_3"})``, else drawn from the suite with the env's
  ``np_random`` (so ``reset(seed=s)`` picks the same task for the same ``s``);
- ``medagent/<suite>-<task>`` (e.g. ``medagent/mab-edge-v1-task4_3``): always that task.

``gymnasium.make("medagent.gym:medagent/mab-edge-v1")`` imports this module first.
``medagent.gym.make(suite, task_id=None, max_steps=8, service=None)`` builds the same env
directly (``suite`` may be a path or a ``tasks.Suite``; ``service`` a ``FhirService``).

- Spaces: ``observation_space`` and ``action_space`` are ``gymnasium.spaces.Text`` of printable
  ASCII (observations are compact JSON with ``\\uXXXX`` escapes). An action is JSON text
  ``{"name": <tool>, "arguments": {...}}``; a dict of that shape or a ``(name, arguments)``
  pair is accepted too. ``finish`` with ``{"answer": [...]}`` ends the episode.
- A tool call's observation is ``{"tool", "ok", "status", "content"}``; bad arguments, an
  unknown tool or text that is not an action come back as ``ok: false`` observations (one
  step each, as a model's mistake would be), never as exceptions.
- ``reward`` is 0 until ``finish``, then 1.0 if ``tasks.grade`` passes the answer and the
  session's writes, else 0.0 (``info["grade"]`` holds the checks, ``info["writes"]`` the
  write log). ``terminated`` is True after ``finish``; ``truncated`` when the step limit is
  reached without it. Every tool call and ``finish`` is a step (the original's 8 rounds
  include ``FINISH``): with ``max_steps=8`` a policy has 7 tool calls and then must finish.
- ``reset`` returns ``(obs, info)`` with ``info = {"task_id", "max_steps", "tools"}``.
- No HTTP: calls go straight to ``FhirService.dispatch``, in a fresh server session per
  ``reset()`` (episodes never see each other's writes; the shared baseline is never written).
- ``env.task`` is the current task's public view (``tasks.TaskView``). The full task (the
  answer key) is not reachable from the env: it lives with the grading step
  (:mod:`medagent.gym_episode`).

For many episodes at once on one store see :mod:`medagent.gym_vector`.
"""

from __future__ import annotations

import asyncio
import difflib
import string
from typing import Any

try:
    import gymnasium
    from gymnasium import spaces
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError("medagent.gym needs gymnasium: pip install 'medagent[gym]'") from exc

from medagent.gym_episode import ACTION_MAX_CHARS, OBS_MAX_CHARS, Episode, EnvStateError

__all__ = ["MedEnv", "EnvStateError", "make", "register_envs", "env_ids", "NAMESPACE"]

NAMESPACE = "medagent"
CHARSET = frozenset(chr(c) for c in range(32, 127))  # printable ASCII: what ``dumps`` emits


def text_space(max_length: int) -> spaces.Text:
    return spaces.Text(max_length=max_length, min_length=0, charset=CHARSET)


def _load_suite(suite: Any) -> Any:
    from medagent import tasks

    return tasks.load_suite(suite) if isinstance(suite, str) else suite


def _check_task(suite: Any, task_id: str | None) -> Any:
    from medagent.tasks.errors import UnknownTaskError

    if task_id is None:
        return None
    by_id = {t.id: t for t in suite.tasks}
    if task_id not in by_id:
        close = difflib.get_close_matches(str(task_id), list(by_id), n=3)
        hint = (f" Did you mean {', '.join(close)}?" if close
                else f" Its tasks are {suite.tasks[0].id} … {suite.tasks[-1].id}.")
        raise UnknownTaskError(f"task {task_id!r} is not in suite {suite.id}.{hint}")
    return by_id[task_id]


class MedEnv(gymnasium.Env[str, Any]):
    """One episode at a time of a suite's tasks (a fixed task, or one chosen per reset)."""

    metadata = {"render_modes": []}

    def __init__(self, suite: Any = "mab-edge-v1", task_id: str | None = None, *, max_steps: int = 8,
                 service: Any = None, render_mode: str | None = None) -> None:
        if render_mode is not None:
            raise ValueError("medagent envs have no render modes")
        suite = _load_suite(suite)
        self.suite_id = suite.id
        self._fixed = _check_task(suite, task_id).id if task_id is not None else None
        if service is None:
            from medagent.embedded import open_service

            service = open_service(suite)
        self.max_steps = max_steps
        self.observation_space = text_space(OBS_MAX_CHARS)
        self.action_space = text_space(ACTION_MAX_CHARS)
        self.render_mode = None
        # the full tasks live with the episode's hidden state, not on the env
        from medagent.tasks.toolsets import tools_of

        self._episode = Episode(service, suite.tasks if self._fixed is None else [_check_task(suite, task_id)],
                                max_steps=max_steps, tools=tools_of(suite))  # the suite's own tool set
        self._loop: asyncio.AbstractEventLoop | None = asyncio.new_event_loop()

    @property
    def task(self) -> Any:
        """The current task's public view (``tasks.TaskView``); before the first reset, the
        fixed task's (None for a suite env)."""
        task = self._episode.task
        if task is None and self._fixed is not None:
            return self._episode.view(self._fixed)
        return task

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self._episode.tools

    def _run(self, coro: Any) -> Any:
        if self._loop is None:
            coro.close()
            raise EnvStateError("the env is closed")
        return self._loop.run_until_complete(coro)

    def _pick(self, options: dict[str, Any] | None) -> str:
        wanted = (options or {}).get("task_id") or self._fixed
        if wanted is not None:
            if self._fixed is not None and wanted != self._fixed:
                from medagent.tasks.errors import UnknownTaskError

                raise UnknownTaskError(f"this env is for task {self._fixed}, not {wanted!r}; "
                                       f"use medagent/{self.suite_id} to choose the task per reset")
            return wanted
        ids = self._episode.task_ids
        return ids[int(self.np_random.integers(len(ids)))]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start a new episode in a fresh server session; ``(observation, info)``."""
        super().reset(seed=seed)
        task_id = self._pick(options)
        obs = self._run(self._episode.begin(task_id))
        return obs, {"task_id": task_id, "max_steps": self.max_steps, "tools": self.tools}

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        return self._run(self._episode.step(action))

    def close(self) -> None:
        if self._loop is not None:
            self._loop.run_until_complete(self._episode.end())
            self._loop.close()
            self._loop = None

    def __enter__(self) -> MedEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make(suite: Any = "mab-edge-v1", task_id: str | None = None, *, max_steps: int = 8,
         service: Any = None) -> MedEnv:
    """A :class:`MedEnv` of ``suite`` (id, path or ``tasks.Suite``), fixed to ``task_id`` if given."""
    return MedEnv(suite, task_id, max_steps=max_steps, service=service)


def _suite_task_ids() -> dict[str, list[str]]:
    """Bundled suite id → its task ids, read from the suite files (no checksum work)."""
    from importlib import resources

    import orjson

    ids: dict[str, list[str]] = {}
    folder = resources.files("medagent.tasks") / "suites"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".jsonl"):
            continue
        suite_id = entry.name[: -len(".jsonl")]
        lines = entry.read_bytes().splitlines()
        ids[suite_id] = [orjson.loads(line)["id"] for line in lines if line.strip()]
    return ids


def env_ids(suite_id: str, task_ids: list[str]) -> list[str]:
    return [f"{NAMESPACE}/{suite_id}", *(f"{NAMESPACE}/{suite_id}-{tid}" for tid in task_ids)]


def register_envs() -> list[str]:
    """Register ``medagent/<suite>`` and ``medagent/<suite>-<task>`` for every bundled suite."""
    registered: list[str] = []
    for suite_id, task_ids in _suite_task_ids().items():
        specs = [(f"{NAMESPACE}/{suite_id}", None), *((f"{NAMESPACE}/{suite_id}-{t}", t) for t in task_ids)]
        for env_id, task_id in specs:
            if env_id not in gymnasium.registry:
                gymnasium.register(env_id, entry_point="medagent.gym:MedEnv",
                                   kwargs={"suite": suite_id, "task_id": task_id})
            registered.append(env_id)
    return registered


register_envs()
