"""The environment handle an agent gets for one trial (``TrialEnv``).

An agent sees the task and this handle; everything it does to the record goes through it:

- ``env.tools``: the tool schemas in the OpenAI ``tools`` format (``tasks.TOOLS`` + ``finish``);
- ``await env.call(name, args) -> tasks.ToolResult``: one tool call through the trial's
  FHIR session. Bad arguments and unknown tools come back as ``ok=False`` results (the
  model sees the error), they are never raised;
- ``await env.request(method, path, params=None, json=None)``: one raw FHIR request (used by
  the plain-text protocol, whose model writes ``GET``/``POST`` lines itself);
- ``env.finish(answer)``: the final answer (a JSON list); the trial ends when ``run`` returns;
- ``env.llm`` (a ``medagent.llm.ChatClient`` or None), ``env.usage`` (pass it to
  ``llm.complete`` so tokens are counted), ``env.messages`` (the transcript to record).

Every ``call``/``request`` is one *step*. When an agent asks for a step beyond
``max_steps``, :class:`StepLimitReached` is raised: the trial is over (the runner records
it as completed, with whatever answer was given — usually none).
"""

from __future__ import annotations

import functools
import time
from typing import Any

from medagent.llm import ChatClient, Usage


class StepLimitReached(Exception):
    """The agent asked for more steps than ``max_steps``: the trial is over."""


@functools.cache
def _tasks_api() -> tuple[list[Any], list[dict[str, Any]], type]:
    from tasks.models import ToolResult
    from tasks.tools import TOOLS, tool_schemas

    return list(TOOLS), tool_schemas(include_finish=True), ToolResult


class TrialEnv:
    """One trial's handle: tools through a FHIR client bound to the trial's session."""

    def __init__(
        self,
        task: Any,
        client: Any,
        *,
        max_steps: int = 8,
        llm: ChatClient | None = None,
        clock: Any = time.perf_counter,
    ) -> None:
        tools, self.tools, self._result_type = _tasks_api()
        self.task = task
        self.client = client
        self.max_steps = max_steps
        self.llm = llm
        self.usage = Usage()
        self.messages: list[dict[str, Any]] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.answer: list | None = None
        self.finished = False
        self.truncated = False
        self.steps = 0
        self.tool_time = 0.0  # seconds spent inside tools / FHIR requests
        self._clock = clock
        self._tools = {t.name: t for t in tools}

    def _take_step(self) -> int:
        if self.finished:
            raise StepLimitReached("the agent already called finish")
        if self.steps >= self.max_steps:
            self.truncated = True
            raise StepLimitReached(f"step limit reached ({self.max_steps} steps)")
        self.steps += 1
        return self.steps

    def _error(self, message: str) -> Any:
        return self._result_type(ok=False, status=None, content={"error": message})

    async def call(self, name: str, args: dict[str, Any] | None = None) -> Any:
        """Run tool ``name`` with ``args``; errors come back as an ``ok=False`` result."""
        step = self._take_step()
        start = self._clock()
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join([*self._tools, "finish"])
            result = self._error(f"unknown tool {name!r}; the tools are: {known}")
        else:
            result = await tool.call(self.client, args)  # bad arguments give ok=False results
        self.tool_time += self._clock() - start
        self.tool_calls.append(_record(step, name, args, result))
        return result

    async def request(
        self, method: str, path: str, params: Any = None, json: Any = None
    ) -> Any:
        """One raw FHIR request through the session (``GET``/``POST``…); one step."""
        step = self._take_step()
        start = self._clock()
        reply = await self.client.request(method, path, params=params, json=json)
        self.tool_time += self._clock() - start
        ok = 200 <= reply.status < 300
        result = self._result_type(ok=ok, status=reply.status, content=reply.body)
        args = {"path": path, "params": params, "json": json}
        self.tool_calls.append(_record(step, method.upper(), args, result))
        return result

    def finish(self, answer: Any) -> None:
        """Record the final answer (a list; a scalar is wrapped into one)."""
        if answer is not None and not isinstance(answer, list):
            answer = [answer]
        self.answer = answer
        self.finished = True


def _record(step: int, name: str, args: dict[str, Any], result: Any) -> dict[str, Any]:
    """A tool call for the trial record. The reply itself is in ``fhir_requests`` (and, for
    model agents, in the transcript), so only an error's content is kept here."""
    record = {"step": step, "name": name, "arguments": args, "ok": bool(result.ok), "status": result.status}
    if not result.ok:
        record["error"] = result.content
    return record
