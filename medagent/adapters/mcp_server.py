"""``medagent mcp``: the task suite served over MCP, so any MCP-capable agent can be benchmarked.

Design: one server holds one run folder (``--out``). The agent (or whoever drives it)
calls ``list_tasks`` to see the run's tasks, ``start_task(task_id)`` to open a trial — a
fresh FHIR session — and gets back the task's public view (instruction and context, never
the answer key) and a ``trial`` handle; then the nine FHIR tools (``tasks.TOOLS``, their
JSON schemas unchanged but for an optional ``trial``) and ``finish(answer)``, which grades
the trial and appends it to ``trials.jsonl``. ``trial`` may be left out while a single
trial is open, which is the usual case (an MCP client over stdio runs one agent); over
HTTP several agents can work at once, each passing its handle. The reply to ``finish``
says the trial is recorded, not whether it passed; ``medagent view``/``report`` on the
run folder tell that.

Every failure of a call — bad arguments, an unknown tool or trial, a trial out of
steps — is an MCP tool error (``isError``) whose text says what to do; the connection
stays up. Transports: stdio (default) and streamable HTTP on 127.0.0.1 (``--port``).
Needs the ``mcp`` extra (``pip install "medagent[mcp]"``, the official SDK, 2.x).
"""

from __future__ import annotations

import contextlib
import copy
import functools
from pathlib import Path
from typing import Any

import orjson

from medagent.adapters import require
from medagent.adapters._remote import RemoteRun, TrialClosed

__all__ = ["INSTRUCTIONS", "build_server", "open_run", "serve_http", "serve_stdio", "tool_list"]

INSTRUCTIONS = (
    "medagent: clinical tasks inside a FHIR R4 electronic health record. Call start_task(task_id) "
    "(list_tasks gives the ids) to open a task; it returns the instruction and context. Use the FHIR "
    "tools to read and write the patient's record, then call finish(answer) with the answer list in "
    "the format the instruction asks for. Each started task is one graded trial."
)

_TRIAL = {"type": "string",
          "description": "The trial handle start_task returned. Needed only while several trials "
                         "are open on this server at once."}

_SERVER_TOOLS = [
    {"name": "list_tasks",
     "description": "List the tasks of this run: id, category, kind (query or action), and how many "
                    "of their trials are recorded or open.",
     "parameters": {"type": "object", "properties": {}, "additionalProperties": False}},
    {"name": "start_task",
     "description": "Start a task: opens a fresh, isolated copy of the record for it and returns "
                    "the task's instruction, context and the trial handle. Finish it with finish(answer).",
     "parameters": {"type": "object", "properties": {
         "task_id": {"type": "string", "description": "A task id from list_tasks, e.g. 'task4_3'."}},
         "required": ["task_id"], "additionalProperties": False}},
]


@functools.cache
def tool_list(names: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every tool as ``{name, description, parameters}``: the run tools, the suite's FHIR
    tools (``names``, a suite's ``tools``; the nine ``tasks.TOOLS`` when empty) and
    ``finish``, each FHIR/finish schema with an optional ``trial``."""
    from medagent.tasks.toolsets import schemas_of, tools_of

    tools = [dict(t) for t in _SERVER_TOOLS]
    for schema in schemas_of(tools_of(list(names))):
        fn = schema["function"]
        params = copy.deepcopy(fn["parameters"])
        params.setdefault("properties", {})["trial"] = _TRIAL
        tools.append({"name": fn["name"], "description": fn["description"], "parameters": params})
    return tools


def _text(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


async def dispatch(run: RemoteRun, name: str, args: Any) -> tuple[bool, Any]:
    """One tool call of the MCP surface → ``(ok, content)``; every failure is ``ok=False``."""
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return False, {"error": f"{name}: arguments must be a JSON object"}
    args = dict(args)
    known = [t["name"] for t in tool_list(tuple(run.suite.tools))]
    if name not in known:
        return False, {"error": f"unknown tool {name!r}; the tools are: {', '.join(known)}"}
    try:
        if name == "list_tasks":
            return True, {"suite": run.suite.id, "epochs": run.epochs, "max_steps": run.max_steps,
                          "tasks": run.progress()}
        if name == "start_task":
            handle, trial = run.start(args.get("task_id", ""))
            return True, {"trial": handle, "max_steps": run.max_steps, **trial.task.view().as_dict()}
        handle = args.pop("trial", None)
        if name == "finish":
            extra = sorted(set(args) - {"answer"})
            if extra:
                return False, {"error": f"finish: unknown argument(s) {', '.join(extra)}; allowed: answer"}
            answer = args.get("answer")
            if not isinstance(answer, list):
                return False, {"error": "finish: 'answer' must be a JSON list, e.g. [\"S1234567\"] or []"}
            record = await run.finish(handle, answer)
            return True, {"trial": record["trial_id"], "recorded": True, "stop": record["stop"],
                          "status": record["status"], "steps": record["steps"]}
        result = await run.call(handle, name, args)
        return bool(result.ok), result.content
    except TrialClosed as exc:
        return False, {"error": str(exc)}


def build_server(run: RemoteRun) -> Any:
    """The MCP ``Server`` (the SDK's low-level server: tools declared with their own schemas)."""
    from medagent import __version__

    require("mcp", "mcp")
    import mcp_types as types
    from mcp.server import Server

    declared = [types.Tool(name=t["name"], description=t["description"], input_schema=t["parameters"])
                for t in tool_list(tuple(run.suite.tools))]

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=declared)

    async def call_tool(ctx: Any, params: Any) -> Any:
        ok, content = await dispatch(run, params.name, params.arguments)
        return types.CallToolResult(content=[types.TextContent(type="text", text=_text(content))],
                                    is_error=not ok)

    return Server("medagent", version=__version__, instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool)


def open_run(suite_id: str, out_dir: Path, *, tasks: list[str] | None = None, epochs: int = 1,
             max_steps: int = 8, agent: str = "mcp", model: str | None = None) -> RemoteRun:
    """A run folder for ``suite_id`` (the embedded FHIR server holds the suite's cohort)."""
    from medagent import tasks as tasks_pkg

    from medagent.embedded import open_service
    from medagent.errors import ConfigError
    from medagent.bench.backends import LocalBackend
    from medagent.bench.config import select_tasks
    from medagent.settings import load_settings

    for name, value in (("epochs", epochs), ("max-steps", max_steps)):
        if value < 1:
            raise ConfigError(f"--{name} must be at least 1")
    suite = tasks_pkg.load_suite(suite_id)
    run = RemoteRun(suite=suite, tasks=select_tasks(suite, tasks or []), out_dir=Path(out_dir),
                    backend=LocalBackend(open_service(suite)), agent=agent, model=model, epochs=epochs,
                    max_steps=max_steps, trial_timeout=load_settings().trial_timeout)
    run.open()
    return run


@contextlib.asynccontextmanager
async def _running(run: RemoteRun):  # noqa: ANN202
    try:
        yield build_server(run)
    finally:
        await run.close()


async def serve_stdio(run: RemoteRun) -> None:
    """Serve one client over stdin/stdout until it disconnects."""
    from mcp.server.stdio import stdio_server

    async with _running(run) as server, stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(run: RemoteRun, port: int, *, ready: Any = None, stop: Any = None) -> None:
    """Serve streamable HTTP on ``http://127.0.0.1:<port>/mcp`` (port 0: any free port).
    ``ready(url)`` is called once it listens; setting the ``asyncio.Event`` ``stop`` ends it."""
    import asyncio
    import socket

    import uvicorn

    async with _running(run) as server:
        app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        web = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))

        async def watch() -> None:
            while not web.started:
                await asyncio.sleep(0.01)
            if ready is not None:
                ready(f"http://127.0.0.1:{sock.getsockname()[1]}/mcp")
            if stop is not None:
                await stop.wait()
                web.should_exit = True

        watcher = asyncio.ensure_future(watch())
        try:
            await web.serve(sockets=[sock])
        finally:
            watcher.cancel()
