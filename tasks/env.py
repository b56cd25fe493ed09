"""The one tool environment: a tool call by name, through one FHIR client.

``ToolEnv`` is what a reference solution (``solve``) and a blind policy need: ``await
env.call(name, args)``. :class:`ClientToolEnv` is the one class that dispatches a tool call
to a ``tasks.Tool``; every caller goes through it — reference solutions and baselines
directly, an agent's trial through ``medagent.env.TrialEnv`` (which adds the step limit,
``finish``, the transcript and the model client over it), gym episodes and the adapters
through ``TrialEnv`` or, for verifiers' tool process, directly.

A call never raises into the caller's loop: an unknown tool, arguments that are not a JSON
object (``args`` may be a dict or the model's raw JSON text) and arguments that fail the
tool's schema (``tasks.tools.validate_args``) come back as ``ToolResult(ok=False,
content={"error": ...})``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import orjson

from .clients import FhirClient
from .models import ToolResult
from .tools import TOOLS, Tool

__all__ = ["ClientToolEnv", "ToolEnv", "error", "json_object", "record"]


@runtime_checkable
class ToolEnv(Protocol):
    """The least an env offers: one tool call by name (what a reference solution uses)."""

    async def call(self, name: str, args: dict[str, Any]) -> ToolResult: ...


def json_object(text: str | bytes) -> dict | None:
    """The JSON object ``text`` holds (empty text is ``{}``), or None."""
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class ClientToolEnv:
    """A ``ToolEnv`` over one FHIR client: ``await env.call("search_patients", {...})``.

    ``tools`` is the set offered (a suite's, ``tasks.toolsets.tools_of``; the nine by
    default). ``finish`` names ``finish`` among the tools in the unknown-tool message (a
    trial offers it; the harness, not this class, handles it). :meth:`call` appends
    ``{"name", "arguments", "ok", "status"}`` (and ``error`` when not ok) to ``env.calls``;
    :meth:`dispatch` is the same call unrecorded (``TrialEnv`` keeps its own record).
    """

    __slots__ = ("client", "tools", "calls", "finish")

    def __init__(self, client: FhirClient, tools: tuple[Tool, ...] | None = TOOLS, *,
                 finish: bool = False) -> None:
        self.client = client
        self.tools: dict[str, Tool] = {t.name: t for t in (tools or TOOLS)}
        self.calls: list[dict[str, Any]] = []
        self.finish = finish

    async def call(self, name: str, args: dict[str, Any] | str | None = None) -> ToolResult:
        result = await self.dispatch(name, args)
        self.calls.append(record(name, args, result))
        return result

    async def dispatch(self, name: str, args: dict[str, Any] | str | None = None) -> ToolResult:
        """Run tool ``name`` with ``args``; every mistake is an ``ok=False`` result."""
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join([*self.tools, *(["finish"] if self.finish else [])])
            return error(f"unknown tool {name!r}; the tools are: {known}")
        return await tool.call(self.client, args)  # its schema check: JSON text, types, required


def error(message: str) -> ToolResult:
    """A failed call's result: the message for the caller (a model sees it)."""
    return ToolResult(ok=False, status=None, content={"error": message})


def record(name: str, args: Any, result: ToolResult) -> dict[str, Any]:
    """A tool call for a record. The reply itself is in the FHIR request record (and, for
    model agents, in the transcript), so only an error's content is kept."""
    entry = {"name": name, "arguments": args, "ok": bool(result.ok), "status": result.status}
    if not result.ok:
        entry["error"] = result.content
    return entry
