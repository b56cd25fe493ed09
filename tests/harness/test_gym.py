"""The in-process gym API: reset, step, reward from the grader, truncation, errors."""

from __future__ import annotations

import json

import pytest

gym = pytest.importorskip("medagent.gym")  # the [gym] extra (gymnasium)


def _script(oracle_scripts, task_id):
    return next(script for tid, script in oracle_scripts.values() if tid == task_id)


def _task(bench_suite, kind):
    return next(t for t in bench_suite.tasks if t.kind == kind and t.branch and "no_" not in t.branch)


def test_solving_an_action_task_earns_reward(bench_suite, bench_service, oracle_scripts):
    task = _task(bench_suite, "action")
    script = _script(oracle_scripts, task.id)
    with gym.make(bench_suite, task.id, service=bench_service, max_steps=20) as env:
        obs, info = env.reset()
        assert json.loads(obs)["task"]["instruction"] == task.instruction and info["task_id"] == task.id
        assert {t["function"]["name"] for t in json.loads(obs)["tools"]} >= {"finish", "search_patients"}
        for name, args in script.calls:
            obs, reward, terminated, truncated, info = env.step(json.dumps({"name": name, "arguments": args}))
            assert (reward, terminated, truncated) == (0.0, False, False)
            assert json.loads(obs)["ok"], obs
        obs, reward, terminated, truncated, info = env.step(("finish", {"answer": script.answer}))
        assert (reward, terminated, truncated) == (1.0, True, False)
        assert info["grade"]["passed"] and info["writes"]
        # a new episode starts from a clean session: finishing at once misses the order
        env.reset()
        _, reward, terminated, _, info = env.step({"name": "finish", "arguments": {"answer": script.answer}})
        assert terminated and reward == 0.0 and not info["grade"]["passed"]


def test_wrong_answer_gets_no_reward_and_bad_calls_are_observations(bench_suite, bench_service):
    task = _task(bench_suite, "query")
    with gym.make(bench_suite, task.id, service=bench_service) as env:
        env.reset()
        obs, reward, *_ = env.step({"name": "search_lab_observations", "arguments": {"code": 12}})
        obs = json.loads(obs)
        assert obs["ok"] is False and "error" in obs["content"] and reward == 0.0
        obs, *_ = env.step({"name": "no_such_tool", "arguments": {}})
        assert json.loads(obs)["ok"] is False and "unknown tool" in json.loads(obs)["content"]["error"]
        obs, _, _, _, info = env.step("not an action")
        assert json.loads(obs)["ok"] is False and info["steps"] == 3
        _, reward, terminated, truncated, info = env.step({"name": "finish", "arguments": {"answer": ["nonsense"]}})
        assert (reward, terminated, truncated) == (0.0, True, False)
        with pytest.raises(gym.EnvStateError):
            env.step({"name": "finish", "arguments": {"answer": []}})


def test_step_limit_truncates(bench_suite, bench_service):
    task = bench_suite.tasks[0]
    with gym.make(bench_suite, task.id, service=bench_service, max_steps=2) as env:
        env.reset()
        _, _, _, truncated, _ = env.step({"name": "search_patients", "arguments": {"family": "x"}})
        assert not truncated
        _, reward, terminated, truncated, _ = env.step({"name": "search_patients", "arguments": {"family": "y"}})
        assert (reward, terminated, truncated) == (0.0, False, True)


def test_unknown_task_id_suggests_close_ones(bench_suite, bench_service):
    from medagent.tasks.errors import UnknownTaskError

    known = bench_suite.tasks[0].id
    with pytest.raises(UnknownTaskError, match=f"Did you mean.*{known}"):
        gym.make(bench_suite, known + "9", service=bench_service)
    with pytest.raises(gym.EnvStateError):
        gym.make(bench_suite, known, service=bench_service).step({"name": "finish", "arguments": {}})
