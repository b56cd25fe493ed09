"""`medagent mcp` driven by the MCP SDK's own client: over stdio (a child process) and over
streamable HTTP on 127.0.0.1, solving tasks by tool calls only (the reference solutions
replayed through MCP), with the run folder checked by view, submit and leaderboard verify."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip("mcp", reason="the MCP adapter needs the mcp extra: pip install 'medagent[mcp]'")

from mcp.client import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

from medagent.cli import main  # noqa: E402

from .conftest import session_count  # noqa: E402


class McpToolEnv:
    """A ``tasks.ToolEnv`` whose every call is an MCP tool call (what a reference solution
    is given here): the solution never touches the FHIR server but through MCP."""

    def __init__(self, client: Client, trial: str | None = None) -> None:
        self.client = client
        self.trial = trial
        self.calls: list[str] = []

    async def call(self, name: str, args: dict) -> Any:
        from medagent.tasks import ToolResult

        self.calls.append(name)
        args = {**args, "trial": self.trial} if self.trial else args
        result = await self.client.call_tool(name, args)
        return ToolResult(not result.is_error, None, orjson.loads(result.content[0].text))


def _json(result: Any) -> Any:
    return orjson.loads(result.content[0].text)


async def solve_through_mcp(client: Client, task: Any, *, with_handle: bool) -> dict:
    """start_task → the category's reference solution over MCP → finish."""
    from medagent import tasks

    started = await client.call_tool("start_task", {"task_id": task.id})
    assert not started.is_error, started
    view = _json(started)
    # the public view only: the answer key, branch and patient id never cross the wire
    assert set(view) == {"trial", "max_steps", "id", "category", "kind", "instruction", "context"}
    assert view["instruction"] == task.instruction
    env = McpToolEnv(client, view["trial"] if with_handle else None)
    answer = await tasks.get_category(task.category).solve(task, env)
    assert env.calls, "the reference solution made no tool call"
    finish = {"answer": answer, **({"trial": view["trial"]} if with_handle else {})}
    done = await client.call_tool("finish", finish)
    assert not done.is_error, done
    body = _json(done)
    assert body["recorded"] is True and body["trial"] == f"{task.id}#1"
    assert "passed" not in body and "grade" not in body  # no grade, no expected values, in the reply
    return body


def _server_env() -> dict[str, str]:
    return {"MEDAGENT_HOME": os.environ["MEDAGENT_HOME"]}


def test_stdio_reference_solutions_score_100_and_the_run_verifies(adapter_suite, adapter_suite_path, adapter_service,
                                                                   tmp_path, capsys):
    sessions_before = session_count(adapter_service)  # the suite build may hold its own
    out = tmp_path / "run"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "medagent", "mcp", "--suite", str(adapter_suite_path), "--out", str(out), "--model", "claude-x"],
        env=_server_env())

    async def drive() -> None:
        async with Client(stdio_client(params)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            from medagent import tasks

            assert names == {"list_tasks", "start_task", "finish", *(t.name for t in tasks.TOOLS)}
            listed = _json(await client.call_tool("list_tasks", {}))
            assert [t["id"] for t in listed["tasks"]] == [t.id for t in adapter_suite.tasks]
            for task in adapter_suite.tasks:
                await solve_through_mcp(client, task, with_handle=False)

    asyncio.run(drive())

    summary = orjson.loads((out / "summary.json").read_bytes())
    assert summary["n_trials"] == len(adapter_suite.tasks)
    assert summary["overall"] == 1.0 and summary["errors"] == 0
    assert set(summary["per_category"]) == {"1", "5"}
    run = orjson.loads((out / "run.json").read_bytes())
    assert (run["agent"], run["model"], run["protocol"], run["suite"]) == ("mcp", "claude-x", "mcp", adapter_suite.id)
    records = [orjson.loads(line) for line in (out / "trials.jsonl").read_bytes().splitlines()]
    assert all(r["stop"] == "finish" and r["grade"]["passed"] for r in records)
    assert any(r["writes"] for r in records if r["category"] == 5)  # the orders really went to the record
    assert session_count(adapter_service) <= sessions_before  # none of ours left

    # the run folder is a run folder: view, submit (verifies), leaderboard verify
    assert main(["view", str(out)]) == 0
    sub = tmp_path / "mcp.json.gz"
    assert main(["submit", str(out), "-o", str(sub), "--suite", str(adapter_suite_path)]) == 0
    assert main(["leaderboard", "verify", str(sub), "--suite", str(adapter_suite_path)]) == 0
    out = capsys.readouterr().out
    # verify replays every recorded FHIR request against the cohort and re-grades every trial
    assert re.search(rf"{len(adapter_suite.tasks)} trials replayed \(\d+ FHIR requests\) and re-graded, "
                     r"overall 1\.0000", out), out[-500:]


def test_stdio_wrong_answers_fail_and_bad_calls_are_tool_errors(adapter_suite, adapter_suite_path, adapter_service,
                                                                tmp_path):
    """An agent that answers without looking fails; every bad call is an MCP tool error with
    a reason, and the connection goes on serving."""
    sessions_before = session_count(adapter_service)  # the suite build may hold its own
    out = tmp_path / "run"
    query = next(t for t in adapter_suite.tasks if t.kind == "query")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "medagent", "mcp", "--suite", str(adapter_suite_path), "--out", str(out),
              "--tasks", query.id, "--max-steps", "2"],
        env=_server_env())

    async def drive() -> list[str]:
        errors: list[str] = []

        async def bad(name: str, args: Any) -> None:
            result = await client.call_tool(name, args)
            assert result.is_error, (name, args, result)
            errors.append(_json(result)["error"])

        async with Client(stdio_client(params)) as client:
            await bad("search_patients", {"family": "Smith"})          # no trial open yet
            await bad("start_task", {"task_id": "task99_1"})           # unknown task
            await bad("no_such_tool", {})                               # unknown tool
            trial = _json(await client.call_tool("start_task", {"task_id": query.id}))["trial"]
            await bad("start_task", {"task_id": query.id})              # its only epoch is open
            await bad("search_patients", {"nonsense": "x"})             # unknown argument (step 1)
            ok = await client.call_tool("search_patients", {"family": "Smith"})  # step 2
            assert not ok.is_error and _json(ok)["resourceType"] == "Bundle"
            await bad("finish", {"answer": "S1234567"})                 # not a list
            await bad("search_patients", {"family": "X", "trial": "task1_1#1.0000"})  # unknown handle
            # the step limit (2) is reached: the trial is over and recorded without an answer
            await bad("search_patients", {"family": "Smith"})
            await bad("finish", {"answer": ["S1234567"], "trial": trial})
            listed = _json(await client.call_tool("list_tasks", {}))   # still serving
            assert listed["tasks"][0]["recorded"] == 1
        return errors

    errors = asyncio.run(drive())
    assert "call start_task first" in errors[0]
    assert "no task 'task99_1'" in errors[1]
    assert "unknown tool 'no_such_tool'" in errors[2]
    assert "already has 1 trial" in errors[3]
    assert "unknown argument(s) nonsense" in errors[4]
    assert "must be a JSON list" in errors[5]
    assert "no open trial" in errors[6]
    assert "step limit reached (2 steps)" in errors[7]
    assert "no open trial" in errors[8]  # it was recorded and closed
    records = [orjson.loads(line) for line in (out / "trials.jsonl").read_bytes().splitlines()]
    assert [(r["trial_id"], r["stop"], r["answer"], r["grade"]["passed"]) for r in records] == [
        (f"{query.id}#1", "max_steps", None, False)]
    assert session_count(adapter_service) <= sessions_before  # none of ours left


def test_http_two_agents_at_once_each_with_its_trial(adapter_suite, adapter_suite_path, adapter_service, tmp_path):
    """Streamable HTTP on 127.0.0.1: a modern-era and a legacy-handshake client, each working
    its own trial at the same time (handles keep them apart), both graded and recorded."""
    sessions_before = session_count(adapter_service)  # the suite build may hold its own
    from medagent.adapters.mcp_server import open_run, serve_http

    run = open_run(str(adapter_suite_path), tmp_path / "run", epochs=1)
    url: dict[str, str] = {}
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def serve() -> None:
        def ready(u: str) -> None:
            url["u"] = u
            started.set()

        loop.run_until_complete(serve_http(run, 0, ready=ready, stop=stop))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30), "the MCP HTTP server did not start"
    assert url["u"].startswith("http://127.0.0.1:")
    first, second = adapter_suite.tasks[0], adapter_suite.tasks[-1]

    async def agent(task: Any, mode: str) -> dict:
        async with Client(url["u"], mode=mode) as client:
            return await solve_through_mcp(client, task, with_handle=True)

    async def both() -> list[dict]:
        return await asyncio.gather(agent(first, "auto"), agent(second, "legacy"))

    results = asyncio.run(both())
    assert [r["trial"] for r in results] == [f"{first.id}#1", f"{second.id}#1"]
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    assert not thread.is_alive()
    summary = orjson.loads((tmp_path / "run" / "summary.json").read_bytes())
    assert summary["n_trials"] == 2 and summary["overall"] == 1.0
    assert session_count(adapter_service) <= sessions_before  # none of ours left
