"""The environment handle an agent gets for one trial: the ``Env`` protocol and ``TrialEnv``.

An agent sees the task's public view (``tasks.TaskView``) and this handle; everything it
does to the record goes through it. :class:`Env` (a ``typing.Protocol``, exported as
``medagent.Env``) lists exactly what an agent may use; :class:`TrialEnv` implements it and
dispatches tool calls through the one tool dispatcher, ``tasks.env.ClientToolEnv``:

- ``env.tools``: the tool schemas in the OpenAI ``tools`` format (the suite's tool set —
  ``tasks.toolsets``; the nine ``tasks.TOOLS`` for mab suites — + ``finish``;
  under ``--faults`` also ``next_page``, and the trial's client sits behind a
  ``medagent.faults.FaultyClient`` the agent cannot reach); ``env.tool_set``: those tools
  as ``tasks.Tool`` objects (the text protocol lists them);
- ``await env.call(name, args) -> tasks.ToolResult``: one tool call through the trial's
  FHIR session. ``args`` is a dict or the model's raw JSON text. Invalid JSON, arguments
  that fail the tool's schema and unknown tools come back as ``ok=False`` results (the
  model's mistake: it sees the error and the step counts), they are never raised.
  ``call("finish", {"answer": [...]})`` is the same as ``finish``;
- ``await env.request(method, path, params=None, json=None)``: one raw FHIR request (used by
  the plain-text protocol, whose model writes ``GET``/``POST`` lines itself); ``path`` is
  relative to the session's FHIR base (``Observation``, ``Patient/S1234567``) — a path
  that would leave the session (``..``, an absolute URL) is refused with an HTTP 400 result;
- ``env.finish(answer)``: the final answer (a JSON list; a string holding a JSON list,
  such as ``"[1.8]"``, is that list; any other value is wrapped in one);
- ``env.pass_turn()``: a model turn that asked for no tool (text or an empty reply);
- ``env.end(reason)``: stop the trial without an answer, saying why (e.g. ``empty_reply``);
- ``env.llm`` (a ``medagent.llm.ChatClient`` or None), ``env.usage`` (pass it to
  ``llm.complete`` so tokens are counted), ``env.messages`` (the transcript to record);
- read-only metadata: ``env.task`` (the ``TaskView``), ``env.max_steps``, ``env.steps``,
  ``env.answer``, ``env.finished``, ``env.tool_calls`` (a copy) and the like.

Every ``call``/``request``/``finish``/``pass_turn`` is one *step* (a round of the original
benchmark, whose limit of 8 includes ``FINISH``). When an agent asks for a step beyond
``max_steps``, :class:`StepLimitReached` is raised: the trial is over (the runner records
it as completed, with whatever answer was given — usually none).

The FHIR client (and so the server, its other sessions and the baseline) is not an
attribute of the env: it is held, with the trial's bookkeeping (steps, answer, tool-call
record), in a module-level table keyed by the env, so nothing reachable from ``env`` leads
to it and the agent cannot rewrite its step count. A transport failure of the FHIR server that persists
after retries raises :class:`medagent.errors.FhirBackendError` (the trial is an ``error``).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
import weakref
from typing import Any, Protocol, runtime_checkable

import orjson

from medagent.errors import FhirBackendError
from medagent.llm import ChatClient, Usage
from medagent.tasks.env import ClientToolEnv, error, json_object, record
from medagent.tasks.models import TaskView, ToolResult
from medagent.tasks.text import short
from medagent.tasks.tools import Tool

__all__ = ["Env", "StepLimitReached", "TaskView", "ToolResult", "TrialEnv", "parse_answer"]

# A path relative to the session's FHIR base: "Observation", "Patient/S1234567",
# "Observation/1/_history/2", "metadata". Nothing that climbs out of the session ("..",
# an absolute URL, a percent-encoded dot) to the shared baseline or another session.
_FHIR_PATH = re.compile(r"^(metadata|[A-Z][A-Za-z]{1,63}(/[A-Za-z0-9_$][A-Za-z0-9_$.\-]{0,63}){0,3})$")
FHIR_RETRIES = 3  # retries of a FHIR request that got no reply or a 5xx (reads only)
FHIR_BACKOFF = 0.25  # first delay, doubled per retry


@runtime_checkable
class Env(Protocol):
    """What an agent may use of its trial: exactly this, nothing else (``TrialEnv`` is the
    implementation the runner, the gym and the adapters hand out).

    Every ``call``, ``request``, ``finish`` and ``pass_turn`` is one step; a step beyond
    ``max_steps`` raises :class:`StepLimitReached` (let it propagate: the trial is over).
    """

    @property
    def task(self) -> TaskView:
        """The task's public view (the same object ``run`` is given)."""

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tool schemas in the OpenAI ``tools`` format, ``finish`` included."""

    @property
    def tool_set(self) -> tuple[Tool, ...]:
        """The same tools as ``tasks.Tool`` objects (name, description, parameters, kind,
        and how each maps to a FHIR request: ``method``, ``path``, ``fixed``)."""

    @property
    def llm(self) -> ChatClient | None:
        """The model client (``--model``), or None for a model-free run."""

    @property
    def usage(self) -> Usage:
        """Token and request counts: pass it to ``llm.complete(messages, usage, ...)``."""

    messages: list[dict[str, Any]]  # the transcript recorded with the trial (fill it in place)

    @property
    def max_steps(self) -> int:
        """The step limit (8 by default: the original's rounds, ``finish`` included)."""

    @property
    def steps(self) -> int:
        """Steps taken so far."""

    @property
    def answer(self) -> list | None:
        """The answer given to ``finish`` (or None)."""

    @property
    def finished(self) -> bool:
        """``finish`` was called."""

    async def call(self, name: str, args: dict[str, Any] | str | None = None) -> ToolResult:
        """One tool call (``args`` a dict or the model's raw JSON text); ``finish`` too.
        Mistakes (unknown tool, bad JSON, schema failure) are ``ok=False`` results."""

    async def request(self, method: str, path: str, params: Any = None, json: Any = None) -> ToolResult:
        """One raw FHIR request, ``path`` relative to the session's base (``Observation``)."""

    def finish(self, answer: Any) -> None:
        """The final answer: a JSON list (a string holding one is that list)."""

    def pass_turn(self) -> None:
        """A model turn that called no tool: one step."""

    def end(self, reason: str) -> None:
        """Stop without an answer; ``reason`` is recorded as the trial's ``stop``."""


class StepLimitReached(Exception):
    """The agent asked for more steps than ``max_steps``: the trial is over."""


@functools.cache
def default_tools() -> tuple[dict[str, Tool], list[dict[str, Any]]]:
    """The nine tools of the mab suites by name, and their schemas with ``finish``."""
    from medagent.tasks.tools import TOOLS, tool_schemas

    return {t.name: t for t in TOOLS}, tool_schemas(include_finish=True)


class _Trial:
    """What the agent must not reach or rewrite: the FHIR client and the trial's bookkeeping."""

    __slots__ = ("client", "tools", "max_steps", "steps", "answer", "finished", "truncated", "stop", "tool_calls",
                 "tool_time", "backend_error", "faults")

    def __init__(self, client: Any, max_steps: int, tools: tuple[Tool, ...], faults: Any = None) -> None:
        self.client = _RetryingClient(client, self)
        self.faults = faults
        if faults is not None:  # a medagent.faults.FaultyClient: the EHR misbehaving, seen by the agent
            self.client = faults.over(self.client)  # outside the retries: they never hide a fault
        self.tools = ClientToolEnv(self.client, tools, finish=True)  # the one tool dispatcher
        self.max_steps = max_steps
        self.steps = 0
        self.answer: list | None = None
        self.finished = False
        self.truncated = False
        self.stop: str | None = None
        self.tool_calls: list[dict[str, Any]] = []
        self.tool_time = 0.0  # seconds spent inside tools / FHIR requests
        self.backend_error: str | None = None  # a FHIR server failure that persisted


# env -> its _Trial. Not an attribute: an agent cannot walk from ``env`` to the client,
# the server object behind it, other sessions or the baseline, nor rewrite its step count.
_TRIALS: weakref.WeakKeyDictionary[TrialEnv, _Trial] = weakref.WeakKeyDictionary()


def parse_answer(answer: Any) -> list | None:
    """``finish``'s argument as the answer list: a list as is, a string holding a JSON
    list as that list (``"[1.8]"`` → ``[1.8]``), None as None, anything else wrapped."""
    if answer is None or isinstance(answer, list):
        return answer
    if isinstance(answer, str) and answer.strip().startswith("["):
        try:
            parsed = orjson.loads(answer)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
    if isinstance(answer, tuple):
        return list(answer)
    return [answer]


class TrialEnv:
    """One trial's handle: tools through a FHIR client bound to the trial's session."""

    __slots__ = ("_task", "_tools", "_llm", "_usage", "messages", "_clock", "__weakref__")

    def __init__(
        self,
        task: Any,
        client: Any,
        *,
        max_steps: int = 8,
        llm: ChatClient | None = None,
        clock: Any = time.perf_counter,
        extra_tools: tuple[Any, ...] = (),
        faults: Any = None,
        tools: Any = None,
    ) -> None:
        if tools:  # the suite's own tool set (tasks.toolsets.tools_of(suite))
            from medagent.tasks.toolsets import schemas_of

            tools, self._tools = {t.name: t for t in tools}, schemas_of(tuple(tools))
        else:
            tools, self._tools = default_tools()
        extra_tools = tuple(t for t in extra_tools if t.name not in tools)  # a suite may offer it already
        if extra_tools:  # e.g. ``next_page`` when the session pages (``--faults``)
            tools = {**tools, **{t.name: t for t in extra_tools}}
            self._tools = [*self._tools[:-1], *(t.schema() for t in extra_tools), self._tools[-1]]
        tools = tuple(tools.values())
        self._task = task.view() if hasattr(task, "view") else task  # never the answer key
        self._llm = llm
        self._usage = Usage()
        self.messages: list[dict[str, Any]] = []
        self._clock = clock
        _TRIALS[self] = _Trial(client, max_steps, tools, faults)

    # read-only: what the agent may use and know about its trial
    tools = property(lambda self: self._tools, doc="The tool schemas (OpenAI ``tools`` format).")
    tool_set = property(lambda self: tuple(_TRIALS[self].tools.tools.values()), doc="The tools (``tasks.Tool``).")
    llm = property(lambda self: self._llm, doc="The model client (``medagent.llm.ChatClient``) or None.")
    usage = property(lambda self: self._usage, doc="Token and request counts; pass it to ``llm.complete``.")
    task = property(lambda self: self._task, doc="The task's public view (``tasks.TaskView``).")
    max_steps = property(lambda self: _TRIALS[self].max_steps, doc="The step limit.")
    steps = property(lambda self: _TRIALS[self].steps, doc="Steps taken so far.")
    answer = property(lambda self: _TRIALS[self].answer, doc="The answer given to ``finish`` (or None).")
    finished = property(lambda self: _TRIALS[self].finished, doc="``finish`` was called.")
    truncated = property(lambda self: _TRIALS[self].truncated, doc="A step beyond the limit was asked for.")
    stop = property(lambda self: _TRIALS[self].stop, doc="The reason given to ``end`` (or None).")
    tool_calls = property(lambda self: list(_TRIALS[self].tool_calls), doc="A copy of the tool-call record.")
    tool_time = property(lambda self: _TRIALS[self].tool_time, doc="Seconds spent in tools and FHIR requests.")
    backend_error = property(lambda self: _TRIALS[self].backend_error,
                             doc="A FHIR server failure that persisted after retries (or None).")

    def _take_step(self) -> int:
        trial = _TRIALS[self]
        if trial.finished or trial.stop:
            raise StepLimitReached("the trial is over (finish or end was called)")
        # steps spent on injected faults (--faults) are given back: the EHR's misbehaviour
        # never costs the agent a round
        limit = trial.max_steps + (trial.faults.steps_given_back if trial.faults is not None else 0)
        if trial.steps >= limit:
            trial.truncated = True
            raise StepLimitReached(f"step limit reached ({limit} steps)")
        trial.steps += 1
        return trial.steps

    async def call(self, name: str, args: dict[str, Any] | str | None = None) -> Any:
        """Run tool ``name`` with ``args``; errors come back as an ``ok=False`` result."""
        if name == "finish":
            return self._finish_call(args)
        step = self._take_step()
        trial = _TRIALS[self]
        start = self._clock()
        # mistakes give ok=False results; a persistent FHIR failure raises FhirBackendError
        result = await trial.tools.dispatch(name, args)
        trial.tool_time += self._clock() - start
        trial.tool_calls.append(_record(step, name, args, result))
        return result

    def _finish_call(self, args: Any) -> Any:
        parsed = json_object(args) if isinstance(args, str) else args
        if not isinstance(parsed, dict) or "answer" not in parsed or set(parsed) - {"answer"}:
            step = self._take_step()
            result = error(f'finish: the arguments must be {{"answer": [...]}} (got {short(args, 200)})')
            _TRIALS[self].tool_calls.append(_record(step, "finish", args, result))
            return result
        self.finish(parsed["answer"])
        return ToolResult(ok=True, status=None, content="finished")

    async def request(
        self, method: str, path: str, params: Any = None, json: Any = None
    ) -> Any:
        """One raw FHIR request through the session (``GET``/``POST``…); one step."""
        step = self._take_step()
        trial = _TRIALS[self]
        args = {"path": path, "params": params, "json": json}
        if not isinstance(path, str) or not _FHIR_PATH.match(path.strip("/")):
            result = ToolResult(ok=False, status=400, content={"error": (
                f"path {short(str(path), 200)!r} is not a FHIR path relative to the base (e.g. 'Observation' or "
                "'Patient/S1234567')")})
            trial.tool_calls.append(_record(step, str(method).upper(), args, result))
            return result
        start = self._clock()
        reply = await trial.client.request(method, path.strip("/"), params=params, json=json)
        trial.tool_time += self._clock() - start
        ok = 200 <= reply.status < 300
        result = ToolResult(ok=ok, status=reply.status, content=reply.body, retry_after=_retry_after(reply))
        trial.tool_calls.append(_record(step, method.upper(), args, result))
        return result

    def finish(self, answer: Any) -> None:
        """Record the final answer (see :func:`parse_answer`); one step, like any other round."""
        step = self._take_step()
        trial = _TRIALS[self]
        trial.answer = parse_answer(answer)
        trial.finished = True
        trial.tool_calls.append({"step": step, "name": "finish", "arguments": {"answer": answer},
                                 "ok": True, "status": None})

    def pass_turn(self) -> None:
        """A model turn that called no tool (text, or an empty reply): one step."""
        self._take_step()

    def end(self, reason: str) -> None:
        """End the trial without an answer; ``reason`` becomes the trial's ``stop``."""
        _TRIALS[self].stop = str(reason)


class _RetryingClient:
    """The trial's FHIR client, retrying what the server (not the agent) got wrong.

    A read with no reply or a 5xx reply is retried (``FHIR_RETRIES`` times, backoff from
    ``FHIR_BACKOFF``); a write is retried only when no connection was made (it cannot have
    been applied). A failure that persists raises ``FhirBackendError``. Retried attempts
    are dropped from ``client.requests`` so the record holds one entry per request.
    """

    __slots__ = ("_client", "_trial")

    def __init__(self, client: Any, trial: _Trial) -> None:
        self._client = client
        self._trial = trial

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self._client.requests

    async def request(self, method: str, path: str, params: Any = None, json: Any = None) -> Any:
        from medagent.tasks.errors import FhirClientError as client_error
        read = method.upper() in ("GET", "HEAD")
        failure = ""
        for attempt in range(FHIR_RETRIES + 1):
            if attempt:
                await asyncio.sleep(FHIR_BACKOFF * 2 ** (attempt - 1))
            try:
                reply = await self._client.request(method, path, params=params, json=json)
            except client_error as exc:
                failure = str(exc)
                if read or _not_connected(exc):
                    continue
                break
            if reply.status < 500:
                return reply
            failure = f"HTTP {reply.status} on {method.upper()} {path}"
            if not read:
                break
            if attempt < FHIR_RETRIES and self._client.requests:
                self._client.requests.pop()  # a retried attempt: not part of the trajectory
        message = f"FHIR server failed: {failure}"
        self._trial.backend_error = message
        raise FhirBackendError(message)


def _not_connected(exc: BaseException) -> bool:
    import httpx

    cause = exc.__cause__
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout)


def _retry_after(reply: Any) -> float | None:
    from medagent.tasks.tools import retry_after

    return retry_after(reply)


def _record(step: int, name: str, args: Any, result: ToolResult) -> dict[str, Any]:
    """A tool call for the trial record (``tasks.env.record`` with its step)."""
    return {"step": step, **record(name, args, result)}
