"""A verifiers (0.4, ``verifiers.v1``) environment: the suite as a ``Taskset`` for RL and evals.

verifiers finds a taskset by a module name, so the thin top-level package ``medagent_env``
re-exports this module's classes; its id is ``medagent-env`` and the suite is a taskset
option (``--taskset.suite mab-v1``, any suite id or path; ``--taskset.tasks 5 9`` selects):

    vf-validate medagent-env --taskset.suite mab-v1 --runtime.type subprocess
    vf-eval medagent-env --taskset.suite mab-v1 --model gpt-4o-mini \\
        --env.agent.runtime.type subprocess

- One task per suite task, built from the public view (``prompt`` = instruction and
  context; ``id`` = the task id). The answer key stays in the environment process.
- ``setup`` opens the task's FHIR session (``medagent.bench.backends.LocalBackend``); it is
  closed — write log fetched, session deleted — in ``finalize``, and in any case when the
  rollout's runtime is torn down (an error, a timeout, a cancellation).
- Tools: a per-rollout MCP toolset serving the suite's tools and ``finish`` with the same
  schemas and dispatch as ``medagent mcp`` (:mod:`medagent.adapters.mcp_server`); each call
  reaches the rollout's session, counted against ``max_steps``.
- Scoring: reward ``passed`` (1.0 when ``tasks.grade`` passes the answer and the
  session's writes), metric ``harm`` (1.0 when a harm check failed).
- ``validate`` (vf-validate's gold check) runs the category's reference solution in a
  session of its own and grades it; the noop check scores the untouched task (no answer,
  no writes), which no task passes.
- The default harness (``MedagentHarness``) is verifiers' own tool-less chat loop (the
  ``null`` harness) run by this interpreter, so nothing is fetched at run time and the
  model gets only our tools — no shell that could read the suite's answer key.

Needs the ``verifiers`` extra (``pip install "medagent[verifiers]"``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from medagent.adapters import require
from medagent.atomic import atomic_write

require("verifiers", "verifiers.v1")

import verifiers.v1 as vf  # noqa: E402
from pydantic import Field  # noqa: E402

from medagent.adapters._remote import local_backend as _backend  # noqa: E402
from medagent.adapters._remote import suite_of as _suite  # noqa: E402

__all__ = ["MedagentData", "MedagentHarness", "MedagentState", "MedagentTask", "MedagentTaskset",
           "MedagentTasksetConfig", "MedagentToolset"]

_SESSIONS: dict[str, Any] = {}  # open session id → backend (this process)


class MedagentData(vf.TaskData):
    suite: str = "mab-v1"
    """The suite id (or path) the task belongs to."""
    task_id: str = ""
    category: int = 0
    kind: str = ""


class MedagentState(vf.State):
    session: str | None = None
    """The rollout's FHIR session (opened by setup)."""
    answer: list | None = None
    finished: bool = False
    steps: int = 0
    writes: list[dict] = Field(default_factory=list)
    """The session's write log, fetched when the session is closed."""
    grade: dict | None = None


class MedagentToolsetConfig(vf.ToolsetConfig):
    max_steps: int = 8
    """FHIR tool calls per rollout (finish excluded), as in ``medagent bench``."""


class MedagentTaskConfig(vf.TaskConfig):
    tools: MedagentToolsetConfig = MedagentToolsetConfig()


class MedagentTasksetConfig(vf.TasksetConfig):
    suite: str = "mab-v1"
    """Suite id (``mab-v1``) or path of a suite file."""
    tasks: list[str] = Field(default_factory=list)
    """Task ids, category numbers, ``query`` or ``action`` (default: every task)."""
    task: MedagentTaskConfig = MedagentTaskConfig()


async def _close_session(state: MedagentState, suite: str) -> None:
    sid = state.session
    backend = _SESSIONS.pop(sid, None) if sid else None
    if backend is not None:
        state.writes = await backend.close(sid)


class MedagentToolset(vf.Toolset[MedagentToolsetConfig, MedagentState]):
    """``tasks.TOOLS`` and ``finish`` over MCP for one rollout (in its own process)."""

    TOOL_PREFIX = None  # the tools keep their own names

    async def setup_task(self, task: Any) -> None:
        self.task_data = task

    def _tool_names(self) -> tuple[str, ...]:
        """The suite's tool names (the nine when no task is set up yet)."""
        suite = getattr(getattr(self, "task_data", None), "suite", None)
        return tuple(_suite(suite).tools) if suite else ()

    def register(self, mcp: Any) -> None:
        import mcp_types as types

        from medagent.adapters.mcp_server import _text, tool_list

        declared = [types.Tool(name=t["name"], description=t["description"],
                               input_schema={k: v for k, v in t["parameters"].items()})
                    for t in tool_list(self._tool_names())
                    if t["name"] not in ("list_tasks", "start_task")]
        for tool in declared:
            tool.input_schema.get("properties", {}).pop("trial", None)
        dispatch = self._with_state(self._dispatch)

        async def list_tools(ctx: Any, params: Any) -> Any:
            return types.ListToolsResult(tools=declared)

        async def call_tool(ctx: Any, params: Any) -> Any:
            ok, content = await dispatch(params.name, params.arguments)
            return types.CallToolResult(content=[types.TextContent(type="text", text=_text(content))],
                                        is_error=not ok)

        low = mcp._lowlevel_server
        low.add_request_handler("tools/list", types.PaginatedRequestParams, list_tools)
        low.add_request_handler("tools/call", types.CallToolRequestParams, call_tool)

    async def _dispatch(self, name: str, args: Any) -> tuple[bool, Any]:
        from medagent.tasks.clients import LocalFhirClient

        state = self.state
        args = dict(args or {})
        if state.finished:
            return False, {"error": "the task is finished (finish was called)"}
        if name == "finish":
            answer = args.get("answer")
            if set(args) - {"answer"} or not isinstance(answer, list):
                return False, {"error": "finish: give one argument 'answer', a JSON list, e.g. [\"S1234567\"] or []"}
            state.answer, state.finished = answer, True
            return True, {"recorded": True}
        from medagent.tasks.env import ClientToolEnv
        from medagent.tasks.toolsets import tools_of

        client = LocalFhirClient(_backend(self.task_data.suite).service, session=state.session)
        env = ClientToolEnv(client, tools_of(list(self._tool_names())), finish=True)  # the one dispatcher
        if name not in env.tools:  # an unknown tool costs no step here (the harness counts turns)
            result = await env.dispatch(name, args)
            return False, result.content
        if state.steps >= self.config.max_steps:
            return False, {"error": f"step limit reached ({self.config.max_steps} steps): call finish"}
        state.steps += 1
        result = await env.dispatch(name, args)
        return bool(result.ok), result.content


class MedagentTask(vf.Task[MedagentData, MedagentState, MedagentTaskConfig]):
    def _task(self) -> Any:
        return _suite(self.data.suite).get(self.data.task_id)

    @property
    def key(self) -> str:
        return f"{_suite(self.data.suite).id}/{self.data.task_id}"

    async def setup(self, trace: Any, runtime: Any) -> None:
        backend = _backend(self.data.suite)
        sid, _client = await backend.open()
        _SESSIONS[sid] = backend
        trace.state.session = sid
        _on_teardown(runtime, lambda: _close_session(trace.state, self.data.suite))

    async def finalize(self, trace: Any, runtime: Any) -> None:
        await _close_session(trace.state, self.data.suite)

    def _grade(self, trace: Any) -> Any:
        from medagent import tasks

        state = trace.state
        if state.grade is None:
            grade = tasks.grade(self._task(), state.answer, state.writes)
            state.grade = grade.model_dump(mode="json")
            # kept with the trace (state is not): the answer, the writes and every check
            trace.info["medagent"] = {"task_id": self.data.task_id, "answer": state.answer,
                                      "steps": state.steps, "writes": state.writes, "grade": state.grade}
        return state.grade

    @vf.stop
    async def finished(self, trace: vf.Trace) -> bool:
        """The rollout ends once ``finish`` is called (the chat loop itself knows no finish)."""
        return bool(trace.state.finished)

    @vf.reward
    async def passed(self, trace: Any) -> float:
        return 1.0 if self._grade(trace)["passed"] else 0.0

    @vf.metric
    async def harm(self, trace: Any) -> float:
        checks = self._grade(trace)["checks"]
        return 1.0 if any(c.get("harm") and not c["passed"] for c in checks) else 0.0

    async def validate(self, runtime: Any) -> bool | None:
        """Gold check: the reference solution, in a session of its own, passes."""
        from medagent import tasks
        from medagent.tasks.env import ClientToolEnv

        task = self._task()
        backend = _backend(self.data.suite)
        sid, client = await backend.open()
        try:
            from medagent.tasks.toolsets import tools_of

            env = ClientToolEnv(client, tools_of(_suite(self.data.suite)))
            answer = await tasks.get_category(task.category).solve(task, env)
        finally:
            writes = await backend.close(sid)
        return tasks.grade(task, answer, writes).passed

    @classmethod
    def toolsets(cls, config: MedagentTaskConfig) -> list[vf.Toolset]:
        return [MedagentToolset(config.tools)]


def _on_teardown(runtime: Any, close: Any) -> None:
    """Run ``close()`` when ``runtime`` is torn down (its ``teardown`` runs on every path,
    shielded from cancellation), so no session outlives its rollout."""
    original = runtime.teardown

    async def teardown() -> None:
        try:
            await close()
        finally:
            await original()

    runtime.teardown = teardown


class MedagentTaskset(vf.Taskset[MedagentTask, MedagentTasksetConfig]):
    def load(self) -> Iterable[MedagentTask]:
        from medagent.agents._react import SYSTEM_PROMPT, task_prompt
        from medagent.bench.config import select_tasks

        suite = _suite(self.config.suite)
        for task in select_tasks(suite, self.config.tasks):
            view = task.view()
            yield MedagentTask(MedagentData(id=view.id, name=view.id, prompt=task_prompt(view),
                                            system_prompt=SYSTEM_PROMPT, suite=self.config.suite,
                                            task_id=view.id, category=view.category, kind=view.kind),
                               self.config.task)


try:  # the default harness: verifiers' chat loop with MCP tools, run by this interpreter
    from verifiers.v1.harnesses.null.harness import NullHarness, NullHarnessConfig
except ImportError:  # pragma: no cover - another verifiers layout
    NullHarness = None


if NullHarness is not None:

    class MedagentHarnessConfig(NullHarnessConfig):
        pass

    class MedagentHarness(NullHarness):
        """The ``null`` chat loop (no shell), started with this Python instead of a uv
        script environment: it needs only openai, mcp and httpx, which verifiers brings."""

        async def setup(self, runtime: Any) -> None:
            return None

        async def launch(self, ctx: Any, trace: Any, runtime: Any, endpoint: str, secret: str,
                         mcp_urls: dict[str, str], data: Any, tool_interception_url: str | None = None) -> Any:
            import hashlib
            import json
            import tempfile
            from pathlib import Path

            from verifiers.v1.harnesses.utils.launch import CHAT_PROGRAM_SOURCE

            if runtime.type != "subprocess":  # a container: verifiers' own uv-based launch
                return await super().launch(ctx, trace, runtime, endpoint, secret, mcp_urls, data,
                                            tool_interception_url)
            digest = hashlib.sha256(CHAT_PROGRAM_SOURCE.encode()).hexdigest()[:16]
            program = Path(tempfile.gettempdir()) / f"medagent-vf-chat-{digest}.py"
            if not program.exists():
                atomic_write(program, CHAT_PROGRAM_SOURCE)
            system_prompt, prompt = self.resolve_prompt(data)
            args = [f"--base-url={endpoint}", f"--api-key={secret}", f"--model={ctx.model}"]
            if tool_interception_url:
                args.append(f"--tool-interception-url={tool_interception_url}")
            if system_prompt:
                args.append(f"--system-prompt={system_prompt}")
            if mcp_urls:
                servers = {name: {"url": url, "timeout": self.config.tool_timeout} for name, url in mcp_urls.items()}
                args.append("--mcp-config=" + json.dumps({"mcpServers": servers}))
            args.append(f"--prompt={prompt}")
            return await runtime.run_program([sys.executable, str(program), *args], {**self.config.resolved_env})

    __all__.append("MedagentHarnessConfig")


if __name__ == "__main__":  # verifiers starts a rollout's toolset as `python -m <this module>`
    MedagentToolset.run()
