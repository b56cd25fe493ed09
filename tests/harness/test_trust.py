"""Runs that can be trusted, through the real runner (and the fake model behind the real
``openai`` client): agents never see the answer key nor reach the server through ``env``;
a model's mistakes are scored, not retried; a model that cannot be used stops the run at
once; a FHIR server that fails during a trial is retried, then recorded on that trial."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import types
import weakref

import pytest

from medagent.cli import main
from medagent.runfolder import read_run
from tests.fake_openai import FakeOpenAI, ReplayPolicy, tool_call_message


def _bench(suite_path, out, *extra) -> int:
    return main(["bench", "--suite", str(suite_path), "--out", str(out), "--quiet", *extra])


def _trials(run_dir) -> dict[str, dict]:
    return {t["trial_id"]: t for t in read_run(run_dir).trials}


def _script(oracle_scripts, task_id):
    return next(script for tid, script in oracle_scripts.values() if tid == task_id)


class Scripted:
    """Turn n of every conversation is ``turns[n]`` (the last one repeats)."""

    def __init__(self, *turns: dict) -> None:
        self.turns = turns

    def __call__(self, body: dict) -> dict:
        n = sum(m.get("role") == "assistant" for m in body["messages"])
        return self.turns[min(n, len(self.turns) - 1)]


EMPTY = {"role": "assistant", "content": ""}


# --- the answer key stays with the grader -----------------------------------------------

class PeekExpected:
    async def run(self, task, env):
        env.finish(task.expected["answer"])


class PeekPatient:
    async def run(self, task, env):
        env.finish([task.patient])  # the answer of every look-up task, in the full Task


@pytest.mark.parametrize("agent, attribute", [("PeekExpected", "expected"), ("PeekPatient", "patient")])
def test_an_agent_reading_the_answer_key_fails_with_attribute_error(bench_suite, bench_suite_path, tmp_path,
                                                                    agent, attribute):
    assert _bench(bench_suite_path, tmp_path / "run", "--agent", f"tests.harness.test_trust:{agent}",
                  "--tasks", "1") == 1
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.trials and folder.summary["overall"] == 0.0
    for trial in folder.trials:
        assert trial["status"] == "error" and trial["grade"] is None
        assert f"AttributeError: 'TaskView' object has no attribute '{attribute}'" in trial["error"]
    assert folder.run["reference_agent"] is False and folder.summary["reference_agent"] is False


def test_only_the_reference_solver_gets_the_full_task(bench_suite, bench_suite_path, tmp_path):
    assert _bench(bench_suite_path, tmp_path / "run", "--agent", "oracle", "--tasks", "1") == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.summary["overall"] == 1.0
    assert folder.run["reference_agent"] is True and folder.summary["reference_agent"] is True


# --- nothing behind env reaches the server ----------------------------------------------

def _forbidden() -> tuple[type, ...]:
    import sqlite3

    from medagent.fhir_server import FhirService, Store
    from medagent.tasks.clients import HttpFhirClient, LocalFhirClient

    from medagent.bench import HttpBackend, LocalBackend

    return (FhirService, Store, LocalFhirClient, HttpFhirClient, LocalBackend, HttpBackend, sqlite3.Connection)


def _children(obj):
    """Every object reachable in one step through attributes, items, slots, bound methods and
    closures (not module globals: those are code, not the agent's handle)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield f"[{key!r}]", key
            yield f"[{key!r}]", value
        return
    if isinstance(obj, list | tuple | set | frozenset):
        for i, value in enumerate(obj):
            yield f"[{i}]", value
        return
    if isinstance(obj, types.MethodType):
        yield ".__self__", obj.__self__
        yield ".__func__", obj.__func__
        return
    if isinstance(obj, types.FunctionType):
        for i, cell in enumerate(obj.__closure__ or ()):
            try:
                yield f".__closure__[{i}]", cell.cell_contents
            except ValueError:
                pass
        yield ".__defaults__", obj.__defaults__
        return
    if isinstance(obj, type | types.ModuleType | types.BuiltinFunctionType | weakref.ref):
        return
    if isinstance(obj, weakref.ProxyTypes):
        return
    names = set(getattr(obj, "__dict__", None) or {})
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        names.update([slots] if isinstance(slots, str) else slots)
    for name in sorted(names - {"__weakref__", "__dict__"}):
        try:
            yield f".{name}", getattr(obj, name)
        except Exception:  # noqa: BLE001 - an unset slot or a failing property
            continue


def reachable_forbidden(root, label: str = "env") -> list[str]:
    forbidden = _forbidden()
    found, seen, stack = [], set(), [(label, root)]
    while stack:
        path, obj = stack.pop()
        if obj is None or isinstance(obj, int | float | bool | bytes) or id(obj) in seen:
            continue
        if isinstance(obj, str):
            if "/sessions/" in obj:  # a session URL (another session is one id away)
                found.append(path)
            continue
        seen.add(id(obj))
        if isinstance(obj, forbidden):
            found.append(f"{path} ({type(obj).__name__})")
            continue
        stack.extend((path + step, child) for step, child in _children(obj))
    return found


class Prober:
    """Looks for the server behind env and task; crashes (an error trial) when it finds it."""

    async def run(self, task, env):
        for name in ("client", "_client", "service", "session", "backend", "_backend"):
            assert not hasattr(env, name), f"env.{name} exists"
        found = reachable_forbidden(env) + reachable_forbidden(task, "task")
        assert not found, f"reachable from the agent: {found}"
        for name, value in (("steps", 0), ("max_steps", 100), ("answer", ["x"]), ("finished", True)):
            try:
                setattr(env, name, value)
            except AttributeError:
                continue
            raise AssertionError(f"env.{name} can be rewritten by the agent")
        result = await env.call("search_patients", {"family": "Nobody"})  # the tools still work
        assert result.ok, result
        env.finish(["Patient not found"])


MARKER = "ESCAPE-TEST-9"


class Escaper:
    """Tries to leave its session through raw requests: the shared baseline, another session."""

    async def run(self, task, env):
        observation = {"resourceType": "Observation", "status": "final", "code": {"text": MARKER},
                       "subject": {"reference": "Patient/S0000001"}}
        for method, path in (("POST", "../../../fhir/Observation"), ("POST", "/../../../fhir/Observation"),
                             ("GET", "../../other/fhir/Patient"), ("POST", "http://127.0.0.1:1/fhir/Observation"),
                             ("POST", "%2e%2e/%2e%2e/%2e%2e/fhir/Observation"), ("GET", "Patient/../../../sessions")):
            result = await env.request(method, path, json=observation if method == "POST" else None)
            assert not result.ok and result.status == 400, (path, result)
        result = await env.request("GET", "Patient", params={"_count": "1"})  # a proper path still works
        assert result.ok, result
        env.finish([])


@pytest.mark.parametrize("fhir", ["embedded", "embedded-http"])
def test_raw_requests_cannot_leave_the_session(bench_suite, bench_suite_path, bench_service, tmp_path, fhir):
    import asyncio

    from medagent.tasks.clients import LocalFhirClient

    extra = ["--fhir-url", "embedded-http"] if fhir == "embedded-http" else []
    task = bench_suite.tasks[0]
    rc = _bench(bench_suite_path, tmp_path / "run", "--agent", "tests.harness.test_trust:Escaper",
                "--tasks", task.id, "--max-steps", "10", *extra)
    (trial,) = read_run(tmp_path / "run").trials
    assert rc == 0 and trial["status"] == "completed", trial["error"]
    assert [c["status"] for c in trial["tool_calls"][:6]] == [400] * 6
    baseline = asyncio.run(LocalFhirClient(bench_service).request("GET", "Observation", {"code": MARKER}))
    assert baseline.status == 200 and not baseline.body.get("entry")


def test_walker_finds_a_server_when_one_is_reachable(bench_service):
    from medagent.tasks.clients import LocalFhirClient

    holder = types.SimpleNamespace(inner=[{"x": LocalFhirClient(bench_service, session=None)}])
    assert reachable_forbidden(holder) == ["env.inner[0]['x'] (LocalFhirClient)"]


@pytest.mark.parametrize("fhir", ["embedded", "embedded-http"])
def test_nothing_reachable_from_env_leads_to_the_server(bench_suite, bench_suite_path, fast_retries, tmp_path, fhir):
    extra = ["--fhir-url", "embedded-http"] if fhir == "embedded-http" else []
    task = bench_suite.category(1)[0]
    with FakeOpenAI(Scripted(EMPTY)) as fake:  # env.llm is set: the model client is walked too
        rc = _bench(bench_suite_path, tmp_path / "run", "--agent", "tests.harness.test_trust:Prober",
                    "--tasks", task.id, "--model", "m", "--base-url", fake.url, *extra)
    (trial,) = read_run(tmp_path / "run").trials
    assert trial["status"] == "completed", trial["error"]
    assert rc == 0 and trial["fhir_requests"] and trial["fhir_requests"][0]["status"] == 200


def test_the_gym_shows_a_policy_only_the_public_view(bench_suite, bench_service):
    from medagent import gym

    task = bench_suite.category(1)[0]
    with gym.make(bench_suite, task.id, service=bench_service) as env:
        assert type(env.task).__name__ == "TaskView"
        assert env.task.as_dict() == {"id": task.id, "category": 1, "kind": "query",
                                      "instruction": task.instruction, "context": task.context}
        with pytest.raises(AttributeError):
            env.task.expected  # noqa: B018
        env.reset()
        _, reward, terminated, _, info = env.step({"name": "finish", "arguments": {"answer": task.expected["answer"]}})
        assert terminated and reward == 1.0  # the grader still has the full task


# --- a model's mistakes are scored, not retried -----------------------------------------

def test_malformed_args_unknown_tool_and_schema_errors_go_back_to_the_model(
        bench_suite, bench_suite_path, oracle_scripts, fast_retries, tmp_path):
    task = bench_suite.category(4)[0]
    answer = _script(oracle_scripts, task.id).answer
    policy = Scripted(
        tool_call_message("search_patients", '{"family": "Lo', "c0"),  # not JSON
        tool_call_message("search_everything", {"q": "MG"}, "c1"),  # no such tool
        tool_call_message("search_lab_observations", {"code": "MG"}, "c2"),  # misses the required patient
        tool_call_message("finish", {"answer": answer}, "c3"),
    )
    with FakeOpenAI(policy) as fake:
        rc = _bench(bench_suite_path, tmp_path / "run", "--model", "m", "--base-url", fake.url, "--tasks", task.id)
        assert len(fake.requests) == 4  # one request per turn: nothing was retried
    assert rc == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    (trial,) = folder.trials
    assert folder.summary["errors"] == 0
    assert trial["status"] == "completed" and trial["stop"] == "finish" and trial["grade"]["passed"]
    assert trial["usage"]["retries"] == 0 and trial["steps"] == 4
    replies = {m["tool_call_id"]: m["content"] for m in trial["messages"] if m["role"] == "tool"}
    assert replies["c0"].startswith("error:") and "not a JSON object" in replies["c0"]
    assert replies["c1"].startswith("error:") and "unknown tool 'search_everything'" in replies["c1"]
    assert replies["c2"].startswith("error:") and "missing required argument(s) patient" in replies["c2"]
    assert replies["c3"] == "finished"
    # the transcript keeps the malformed arguments as the model sent them
    assert trial["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"family": "Lo'
    assert [c["ok"] for c in trial["tool_calls"]] == [False, False, False, True]


def test_an_empty_reply_is_reminded_once_then_ends_the_trial(bench_suite, bench_suite_path, fast_retries, tmp_path):
    task = bench_suite.tasks[0]
    with FakeOpenAI(Scripted(EMPTY)) as fake:
        rc = _bench(bench_suite_path, tmp_path / "run", "--model", "m", "--base-url", fake.url, "--tasks", task.id)
        assert len(fake.requests) == 2
    (trial,) = read_run(tmp_path / "run").trials
    assert rc == 0 and trial["status"] == "completed" and trial["stop"] == "empty_reply"
    assert trial["usage"]["retries"] == 0 and trial["answer"] is None and not trial["grade"]["passed"]
    roles = [m["role"] for m in trial["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant"]  # both empty replies are recorded
    assert "empty" in trial["messages"][3]["content"]


def test_after_one_empty_reply_the_model_may_still_answer(bench_suite, bench_suite_path, oracle_scripts,
                                                          fast_retries, tmp_path):
    task = bench_suite.category(1)[0]
    answer = _script(oracle_scripts, task.id).answer
    with FakeOpenAI(Scripted(EMPTY, tool_call_message("finish", {"answer": answer}))) as fake:
        _bench(bench_suite_path, tmp_path / "run", "--model", "m", "--base-url", fake.url, "--tasks", task.id)
    (trial,) = read_run(tmp_path / "run").trials
    assert trial["stop"] == "finish" and trial["grade"]["passed"] and trial["steps"] == 2


class StringFinish(ReplayPolicy):
    """The reference answer, sent as a string holding the JSON list (``"[1.8]"``)."""

    def __call__(self, body: dict) -> dict:
        message = super().__call__(body)
        for call in message.get("tool_calls") or []:
            if call["function"]["name"] == "finish":
                answer = json.loads(call["function"]["arguments"])["answer"]
                call["function"]["arguments"] = json.dumps({"answer": json.dumps(answer)})
        return message


def test_finish_with_a_string_holding_a_json_list_is_graded_as_that_list(
        bench_suite, bench_suite_path, oracle_scripts, fast_retries, tmp_path):
    with FakeOpenAI(StringFinish(oracle_scripts)) as fake:
        rc = _bench(bench_suite_path, tmp_path / "run", "--model", "m", "--base-url", fake.url, "--tasks", "query")
        finishes = [b for b in fake.requests if any(m.get("content") == "finished" for m in b["messages"])]
        assert not finishes  # finish ends the trial: no request after it
    folder = read_run(tmp_path / "run", need_summary=True)
    assert rc == 0 and folder.summary["overall"] == 1.0
    for trial in folder.trials:
        finish = next(c for c in trial["tool_calls"] if c["name"] == "finish")
        assert isinstance(finish["arguments"]["answer"], str)  # what the model sent…
        assert isinstance(trial["answer"], list)  # …graded as the list it holds


@pytest.mark.parametrize("max_steps, stop", [("2", "max_steps"), ("3", "finish")])
def test_finish_counts_as_a_round(bench_suite, bench_suite_path, oracle_scripts, fast_retries, tmp_path,
                                  max_steps, stop):
    task = bench_suite.category(1)[0]
    answer = _script(oracle_scripts, task.id).answer
    policy = Scripted(tool_call_message("search_patients", {"family": "A"}, "c0"),
                      tool_call_message("search_patients", {"family": "B"}, "c1"),
                      tool_call_message("finish", {"answer": answer}, "c2"))
    with FakeOpenAI(policy) as fake:
        _bench(bench_suite_path, tmp_path / "run", "--model", "m", "--base-url", fake.url, "--tasks", task.id,
               "--max-steps", max_steps)
    (trial,) = read_run(tmp_path / "run").trials
    assert trial["status"] == "completed" and trial["stop"] == stop
    assert trial["grade"]["passed"] is (stop == "finish")
    assert trial["steps"] == int(max_steps) if stop == "max_steps" else trial["steps"] == 3


def test_generation_settings_are_sent_and_recorded(bench_suite, bench_suite_path, oracle_scripts, fast_retries,
                                                   tmp_path, capsys):
    task = bench_suite.tasks[0]
    with FakeOpenAI(ReplayPolicy(oracle_scripts)) as fake:
        assert _bench(bench_suite_path, tmp_path / "a", "--model", "m", "--base-url", fake.url,
                      "--tasks", task.id) == 0
        default = fake.requests[-1]
        assert _bench(bench_suite_path, tmp_path / "b", "--model", "m", "--base-url", fake.url, "--tasks", task.id,
                      "--temperature", "0.7", "--max-tokens", "256", "--seed", "11", "--reasoning-effort", "low",
                      "--model-arg", "top_p=0.9", "--model-arg", 'stop=["END"]', "--model-arg", "mode=fast") == 0
        custom = fake.requests[-1]
    assert default["temperature"] == 0 and "seed" not in default and "max_completion_tokens" not in default
    expected = {"temperature": 0.7, "max_completion_tokens": 256, "seed": 11, "reasoning_effort": "low",
                "top_p": 0.9, "stop": ["END"], "mode": "fast"}
    assert {k: custom.get(k) for k in expected} == expected
    folder = read_run(tmp_path / "b", need_summary=True)
    assert folder.run["generation"] == expected and folder.summary["generation"] == expected
    assert read_run(tmp_path / "a", need_summary=True).summary["generation"] == {"temperature": 0.0}
    capsys.readouterr()
    assert main(["view", str(tmp_path / "b")]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert 'generation: max_completion_tokens=256, mode="fast", reasoning_effort="low", seed=11' in shown
    assert main(["report", str(tmp_path / "b")]) == 0
    page = (tmp_path / "b" / "report.html").read_text()
    assert "max_completion_tokens 256" in page and "reasoning_effort low" in page
    # resuming with other generation settings would mix two configurations in one run
    assert _bench(bench_suite_path, tmp_path / "x", "--resume", str(tmp_path / "b"), "--temperature", "0") == 2


@pytest.mark.parametrize("arg", ["api_key=sk-abc", "Authorization=Bearer x", "novalue"])
def test_bad_model_args_are_one_line(bench_suite_path, tmp_path, capsys, fast_retries, arg):
    assert _bench(bench_suite_path, tmp_path / "run", "--model", "m", "--model-arg", arg) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("medagent: error: --model-arg") and "\n" not in err


# --- a model that cannot be used stops the run -------------------------------------------

def test_an_unreachable_endpoint_stops_the_installed_command_at_once(bench_suite_path, bench_service, tmp_path):
    exe = shutil.which("medagent")
    assert exe, "the medagent command is installed with the package"
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "MEDAGENT_CONFIG": "/nonexistent/settings.toml"}
    for name in ("MEDAGENT_MAX_RETRIES", "MEDAGENT_BACKOFF_BASE", "MEDAGENT_BACKOFF_MAX"):
        env.pop(name, None)  # the default retries (6, from 1 s): they must not apply here
    out = tmp_path / "run"
    # with the retries of a transient failure, each trial would take over a minute
    proc = subprocess.run([exe, "bench", "--suite", str(bench_suite_path), "--out", str(out), "--quiet",
                           "--model", "m", "--base-url", "http://127.0.0.1:1/v1", "--concurrency", "4",
                           "--tasks", "1", "4"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stderr.strip() == "medagent: error: cannot reach http://127.0.0.1:1/v1: connection refused"
    assert (out / "run.json").exists() and read_run(out).trials == []  # nothing recorded as an error


def test_a_fatal_provider_error_keeps_finished_trials_for_resume(bench_suite, bench_suite_path, oracle_scripts,
                                                                 fast_retries, tmp_path, capsys):
    victim = bench_suite.tasks[2].id
    out = tmp_path / "run"
    with FakeOpenAI(ReplayPolicy(oracle_scripts), faults={victim: ["404"]}) as fake:
        assert _bench(bench_suite_path, out, "--model", "m", "--base-url", fake.url) == 3
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "has no model 'm'" in err and f"--resume {out}" in err
    kept = _trials(out)
    assert set(kept) == {f"{t.id}#1" for t in bench_suite.tasks[:2]}
    assert all(t["status"] == "completed" for t in kept.values())
    with FakeOpenAI(ReplayPolicy(oracle_scripts)) as fake:
        assert _bench(bench_suite_path, out, "--resume", str(out), "--base-url", fake.url) == 0
    folder = read_run(out, need_summary=True)
    assert len(folder.trials) == len(bench_suite.tasks) == folder.summary["n_trials"]
    assert folder.summary["overall"] == 1.0 and folder.summary["errors"] == 0


# --- a failing FHIR server is retried, then recorded on the trial ------------------------

@pytest.fixture
def fhir_upstream(bench_service, monkeypatch):
    from medagent.fhir_server import serve_in_thread

    import medagent.env
    import medagent.bench.backends

    monkeypatch.setattr(medagent.env, "FHIR_BACKOFF", 0.01)
    monkeypatch.setattr(medagent.bench.backends, "SESSION_BACKOFF", 0.01)
    with serve_in_thread(bench_service.store) as server:
        yield server


def test_a_transient_fhir_failure_is_retried(bench_suite, bench_suite_path, fhir_upstream, tmp_path):
    from tests.harness.flaky_fhir import FlakyProxy

    budget = {"503": 3, "drop": 2}

    def rule(method: str, path: str) -> str | None:
        for action in ("503", "drop"):  # the trials' own reads (in sessions)
            if budget[action] and method == "GET" and "/sessions/" in path and "/Observation" in path:
                budget[action] -= 1
                return action
        if budget["drop"] and path.endswith("/log"):
            budget["drop"] -= 1
            return "drop"
        return None

    with FlakyProxy(fhir_upstream.root_url, rule) as proxy:
        rc = _bench(bench_suite_path, tmp_path / "run", "--agent", "oracle", "--fhir-url", proxy.base_url,
                    "--tasks", "1", "4", "9")
        assert proxy.failed == 5
    folder = read_run(tmp_path / "run", need_summary=True)
    assert rc == 0 and folder.summary["overall"] == 1.0 and folder.summary["errors"] == 0
    # a retried attempt is not part of the recorded trajectory
    assert all(r["status"] < 500 for t in folder.trials for r in t["fhir_requests"])


def test_the_cohort_check_retries_a_transient_failure(bench_suite_path, fhir_upstream, tmp_path):
    """The check before the first trial (marker, then baseline counts) rides out a 503 and a
    dropped connection like the session calls do; it does not refuse a server that holds the cohort."""
    from tests.harness.flaky_fhir import FlakyProxy

    budget = {"/fhir/Basic/": ["503"], "/fhir/Observation?_summary=count": ["drop", "503"]}

    def rule(method: str, path: str) -> str | None:
        for prefix, actions in budget.items():
            if method == "GET" and path.startswith(prefix) and actions:
                return actions.pop()
        return None

    with FlakyProxy(fhir_upstream.root_url, rule) as proxy:
        rc = _bench(bench_suite_path, tmp_path / "run", "--agent", "oracle", "--fhir-url", proxy.base_url,
                    "--tasks", "1")
        assert proxy.failed == 3
    assert rc == 0 and read_run(tmp_path / "run", need_summary=True).summary["overall"] == 1.0


def test_a_persistent_fhir_failure_is_an_error_on_that_trial_only(bench_suite, bench_suite_path, fhir_upstream,
                                                                  tmp_path):
    from tests.harness.flaky_fhir import FlakyProxy

    def rule(method: str, path: str) -> str | None:
        if method == "GET" and "/sessions/" in path and "/Observation" in path:  # the trials' reads
            return "503"
        return None

    with FlakyProxy(fhir_upstream.root_url, rule) as proxy:
        rc = _bench(bench_suite_path, tmp_path / "run", "--agent", "oracle", "--fhir-url", proxy.base_url,
                    "--tasks", "1", "4")
    assert rc == 1  # finished, with errors
    trials = read_run(tmp_path / "run").trials
    assert {t["category"] for t in trials} == {1, 4}  # every trial ran: the run was not aborted
    for trial in trials:
        if trial["category"] == 1:  # Patient searches only
            assert trial["status"] == "completed" and trial["grade"]["passed"]
        else:
            assert trial["status"] == "error" and trial["error"].startswith("FHIR server failed: HTTP 503")


@pytest.mark.parametrize("call, action, fragment", [
    ("/log", "drop", "/log failed"),
    ("/sessions", "503", "/sessions answered HTTP 503"),
])
def test_a_failing_session_call_is_an_error_on_the_trial_not_a_config_error(
        bench_suite, bench_suite_path, fhir_upstream, tmp_path, call, action, fragment):
    from tests.harness.flaky_fhir import FlakyProxy

    with FlakyProxy(fhir_upstream.root_url, lambda m, p: action if p.endswith(call) else None) as proxy:
        rc = _bench(bench_suite_path, tmp_path / "run", "--agent", "oracle", "--fhir-url", proxy.base_url,
                    "--tasks", "1")
    trials = read_run(tmp_path / "run").trials
    assert rc == 1 and len(trials) == len(bench_suite.category(1))
    assert all(t["status"] == "error" and fragment in t["error"] for t in trials)
