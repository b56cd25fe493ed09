"""One gym episode as an async object, without Gymnasium: the core of :mod:`medagent.gym`.

``Episode(service, tasks)`` runs episodes of ``tasks`` (full ``tasks.Task`` objects) one
after another on a ``FhirService``: ``await begin(task_id)`` opens a fresh server session and returns the first observation, ``await
step(action)`` runs one tool call (or ``finish``) and returns ``(obs, reward, terminated,
truncated, info)``, ``await end()`` drops the session. Observations are compact ASCII JSON
strings (so they fit a Gymnasium ``Text`` space); actions are JSON strings or dicts
``{"name": ..., "arguments": {...}}`` (or ``(name, arguments)`` pairs).

The full tasks (the answer keys) and the server are held in a module-level table keyed by
the episode, never as attributes: a policy handed the episode (or the Gymnasium env around
it) reaches only ``episode.task``, the ``tasks.TaskView``, and the tool calls. Each step's FHIR request/response record is dropped
once the step is done, so an open episode holds O(its steps + its writes) in memory, and
the server session is O(its writes) (an overlay on the shared baseline).
"""

from __future__ import annotations

import re
import weakref
from typing import Any

import orjson

from medagent.env import StepLimitReached, TrialEnv
from medagent.errors import MedagentError

__all__ = ["Episode", "EnvStateError", "OBS_MAX_CHARS", "ACTION_MAX_CHARS", "dumps"]

OBS_MAX_CHARS = 1 << 22  # 4 Mi characters: a page of the largest Bundle the server returns fits
ACTION_MAX_CHARS = 1 << 16


class EnvStateError(MedagentError):
    """``step`` before ``reset`` or after the episode ended."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def dumps(value: Any) -> str:
    """Compact JSON with only printable ASCII characters (``\\uXXXX`` escapes for the rest;
    outside strings JSON has none, so escaping every non-ASCII character is exact)."""
    text = orjson.dumps(value, default=str).decode()
    return text if text.isascii() else _NON_ASCII.sub(_escape, text)


class _Private:
    __slots__ = ("backend", "pool", "task", "env", "client", "session", "done")

    def __init__(self, backend: Any, pool: dict[str, Any]) -> None:
        self.backend = backend
        self.pool = pool
        self.task: Any = None
        self.env: TrialEnv | None = None
        self.client: Any = None
        self.session: str | None = None
        self.done = True


_PRIVATE: weakref.WeakKeyDictionary[Episode, _Private] = weakref.WeakKeyDictionary()


def parse_action(action: Any) -> tuple[str | None, Any, str | None]:
    """``(name, arguments, error)`` of an action (JSON text, dict or pair)."""
    if isinstance(action, bytes | bytearray):
        action = action.decode("utf-8", "replace")
    if isinstance(action, str):
        try:
            action = orjson.loads(action)
        except orjson.JSONDecodeError:
            return None, None, f"the action is not JSON: {action[:120]!r}"
    if isinstance(action, tuple | list) and len(action) == 2 and isinstance(action[0], str):
        return action[0], action[1] or {}, None
    if isinstance(action, dict) and isinstance(action.get("name"), str):
        args = action.get("arguments")
        return action["name"], ({} if args is None else args), None
    return None, None, 'an action is {"name": <tool>, "arguments": {...}}'


class Episode:
    """Episodes of one task at a time on ``service``, each in its own server session."""

    __slots__ = ("max_steps", "task_ids", "tool_set", "__weakref__")

    def __init__(self, service: Any, tasks: Any, *, max_steps: int = 8, tools: Any = None) -> None:
        from medagent.bench.backends import LocalBackend

        pool = {t.id: t for t in tasks}
        self.max_steps = max_steps
        self.tool_set = tools  # the suite's tools (tasks.toolsets.tools_of); None: the nine of mab-v1
        self.task_ids: tuple[str, ...] = tuple(pool)
        _PRIVATE[self] = _Private(LocalBackend(service), pool)  # the runner's own session open/close

    def view(self, task_id: str) -> Any:
        """The public view (``tasks.TaskView``) of one of this episode's tasks."""
        return _PRIVATE[self].pool[task_id].view()

    @property
    def task(self) -> Any:
        """The current task's public view (``tasks.TaskView``), or None before the first episode."""
        task = _PRIVATE[self].task
        return task.view() if task is not None else None

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tool schemas offered (the suite's set, ``finish`` included)."""
        env = _PRIVATE[self].env
        if env is not None:
            return env.tools
        if self.tool_set:
            from medagent.tasks.toolsets import schemas_of

            return schemas_of(tuple(self.tool_set))
        from medagent.env import default_tools

        return default_tools()[1]

    @property
    def steps(self) -> int:
        env = _PRIVATE[self].env
        return env.steps if env is not None else 0

    @property
    def done(self) -> bool:
        return _PRIVATE[self].done

    async def begin(self, task_id: str) -> str:
        """End any open episode and start one of ``task_id`` in a fresh session; the first observation."""
        await self.end()
        priv = _PRIVATE[self]
        task = priv.pool.get(task_id)
        if task is None:
            from medagent.tasks.errors import UnknownTaskError

            raise UnknownTaskError(f"task {task_id!r} is not one of this environment's tasks")
        priv.session, priv.client = await priv.backend.open()
        priv.task = task
        priv.env = TrialEnv(task, priv.client, max_steps=self.max_steps, tools=self.tool_set)
        priv.done = False
        return dumps({"task": task.view().as_dict(), "tools": self.tools})

    async def end(self) -> list[dict[str, Any]]:
        """Drop the episode's session; its write log."""
        priv = _PRIVATE[self]
        writes: list[dict[str, Any]] = []
        if priv.session is not None:
            session, priv.session = priv.session, None
            priv.client = None
            writes = await priv.backend.close(session)
        priv.done = True
        return writes

    async def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        priv = _PRIVATE[self]
        env = priv.env
        if env is None or priv.done:
            raise EnvStateError("call reset() before step() (the episode has not started or has ended)")
        name, args, error = parse_action(action)
        try:
            if error is not None:
                env.pass_turn()  # a malformed action is the policy's mistake: one step, as for a model
                result_ok, status, content = False, None, {"error": error}
            else:
                result = await env.call(name, args)
                result_ok, status, content = result.ok, result.status, result.content
        except StepLimitReached:
            return await self._finish(terminated=False)
        finally:
            if priv.client is not None:
                priv.client.requests.clear()  # the record is not kept: memory stays O(writes)
        if env.finished:
            return await self._finish(terminated=True)
        obs = dumps({"tool": name, "ok": result_ok, "status": status, "content": content})
        if len(obs) > OBS_MAX_CHARS:
            obs = dumps({"tool": name, "ok": False, "status": status,
                         "content": {"error": f"the reply is longer than {OBS_MAX_CHARS} characters; "
                                              "narrow the search (_count, date)"}})
        if env.steps >= env.max_steps:
            writes = await self.end()
            return obs, 0.0, False, True, {"steps": env.steps, "writes": writes}
        return obs, 0.0, False, False, {"steps": env.steps}

    async def _finish(self, *, terminated: bool) -> tuple[str, float, bool, bool, dict[str, Any]]:
        from medagent import tasks

        from medagent.runfolder import to_jsonable

        priv = _PRIVATE[self]
        env = priv.env
        writes = await self.end()
        info: dict[str, Any] = {"steps": env.steps, "writes": writes}
        reward = 0.0
        if terminated:
            grade = tasks.grade(priv.task, env.answer, writes)
            info["grade"] = to_jsonable(grade)
            reward = 1.0 if grade.passed else 0.0
        return dumps({"answer": env.answer}), reward, terminated, not terminated, info
