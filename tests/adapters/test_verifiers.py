"""The verifiers taskset ``medagent-env``: vf-validate's model-free gold and noop checks,
and vf-eval rollouts against the fake OpenAI server (real ``vf-*`` commands, subprocess
runtime), leaving no FHIR session behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson
import pytest

pytest.importorskip("verifiers.v1", reason="the verifiers adapter needs the verifiers extra: "
                                           "pip install 'medagent[verifiers]'")

from .conftest import session_count  # noqa: E402


def _run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    return proc


def test_vf_validate_every_task_valid(adapter_suite, adapter_suite_path, adapter_service, tmp_path: Path):
    """Gold: each reference solution passes in its own session; noop: no task passes untouched."""
    sessions_before = session_count(adapter_service)  # the suite build may hold its own
    _run(["vf-validate", "medagent-env", "--taskset.suite", str(adapter_suite_path), "--runtime.type", "subprocess",
          "-o", str(tmp_path / "out"), "--rich", "false"], tmp_path)
    [summary_path] = list((tmp_path / "out").glob("*/summary.json"))
    summary = orjson.loads(summary_path.read_bytes())
    n = len(adapter_suite.tasks)
    assert summary["total"] == n and summary["outcomes"]["valid"] == n and summary["valid_rate"] == 1.0
    assert summary["checks"]["gold"]["valid"] == n and summary["checks"]["noop"]["valid"] == n
    assert session_count(adapter_service) <= sessions_before  # none of ours left


def test_vf_eval_rollouts_against_the_fake_server(adapter_suite, adapter_suite_path, adapter_service, tmp_path: Path):
    """Two rollouts replay the reference tool calls; the second answers wrong: rewards 1 and 0."""
    sessions_before = session_count(adapter_service)  # the suite build may hold its own
    from tests.fake_openai import FakeOpenAI, ReplayPolicy, record_oracle

    scripts = record_oracle(adapter_suite.tasks, adapter_service)
    by_id = {task_id: script for task_id, script in scripts.values()}
    right = adapter_suite.tasks[0]  # a query task
    wrong = next(t for t in adapter_suite.tasks  # an action task whose reference solution orders
                 if any(name.startswith("create_") for name, _ in by_id[t.id].calls))
    with FakeOpenAI(ReplayPolicy(scripts, wrong={wrong.id})) as fake:
        _run(["vf-eval", "medagent-env", "--env.taskset.suite", str(adapter_suite_path),
              "--env.taskset.tasks", right.id, wrong.id, "--model", "fake-model", "--client.base-url", fake.url,
              "--client.api-key-var", "FAKE_OPENAI_KEY", "--env.agent.runtime.type", "subprocess",
              "--env.agent.max-turns", "12", "--no-push", "--no-rich", "-o", str(tmp_path / "out")],
             tmp_path, FAKE_OPENAI_KEY="sk-fake-key")
        prompts = [m["content"] for body in fake.requests for m in body["messages"] if m["role"] == "user"]
        offered = [{t["function"]["name"] for t in body.get("tools", [])} for body in fake.requests]
    [traces_path] = list((tmp_path / "out").glob("*/traces.jsonl"))
    traces = {t["task"]["data"]["task_id"]: t for e in map(orjson.loads, traces_path.read_bytes().splitlines())
              for t in e["traces"]}
    assert set(traces) == {right.id, wrong.id}
    for task_id, reward in ((right.id, 1.0), (wrong.id, 0.0)):
        trace = traces[task_id]
        assert trace["ok"] and trace["stop_condition"] == "finished"
        assert trace["rewards"]["passed"]["score"] == reward
        assert trace["metrics"]["harm"] == 0.0
        info = trace["info"]["medagent"]
        assert info["grade"]["passed"] is (reward == 1.0) and info["grade"]["checks"]
    assert traces[wrong.id]["info"]["medagent"]["answer"] == ["wrong"]
    assert traces[wrong.id]["info"]["medagent"]["writes"]  # its order really went to the record
    from medagent import tasks

    # the model was offered our tools and nothing else (no shell that could read the answer key)
    assert offered and all(names == {*tasks.TOOLS_BY_NAME, "finish"} for names in offered)
    # the model saw the public view only: instruction and context, never the answer key
    assert all(str(t.expected) not in p for t in (right, wrong) for p in prompts)
    assert session_count(adapter_service) <= sessions_before  # none of ours left
