"""The environment handle agents and reference solutions call tools through."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .clients import FhirClient
from .models import ToolResult
from .tools import TOOLS, Tool


@runtime_checkable
class ToolEnv(Protocol):
    async def call(self, name: str, args: dict) -> ToolResult: ...


class ClientToolEnv:
    """A ``ToolEnv`` over one FHIR client: ``await env.call("search_patients", {...})``.

    An unknown tool name is a ``ToolResult(ok=False)`` like any other bad call. Every call
    is appended to ``env.calls`` as ``{"name", "args", "ok", "status"}``.
    """

    def __init__(self, client: FhirClient, tools: tuple[Tool, ...] = TOOLS) -> None:
        self.client = client
        self.tools = {t.name: t for t in tools}
        self.calls: list[dict[str, Any]] = []

    async def call(self, name: str, args: dict) -> ToolResult:
        tool = self.tools.get(name)
        if tool is None:
            result = ToolResult(False, None, {
                "error": f"unknown tool {name!r}; tools: {', '.join(self.tools)}"})
        else:
            result = await tool.call(self.client, args)
        self.calls.append({"name": name, "args": args, "ok": result.ok, "status": result.status})
        return result
