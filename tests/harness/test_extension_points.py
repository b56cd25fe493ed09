"""Typed extension points: every agent shipped (built-in and example) is written against the
public protocol (``medagent.Agent``: ``run(view: TaskView, env: Env)``), ``TrialEnv`` is an
``Env`` offering exactly what the protocol lists, and an agent a user writes against it runs
through the installed ``medagent`` command. The text protocol's function list comes from the
tools' own FHIR requests: a tool the nine do not have gets its true URL."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import typing
from pathlib import Path

import pytest

import medagent
from medagent.agents import BUILTIN, Agent, load_agent
from medagent.env import Env, TrialEnv
from medagent.tasks.models import Task, TaskView
from tests.harness.test_first_hour import medagent as medagent_cli

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [*BUILTIN, f"{ROOT / 'examples' / 'custom_agent.py'}:LookupAgent",
           "medagent.adapters._remote:_Inbox"]


def conformance(cls: type) -> list[str]:
    """What keeps ``cls`` from being an agent written against the protocol ([] if nothing)."""
    problems = []
    if not isinstance(cls(), Agent):
        problems.append("not an Agent (no run method)")
    run = getattr(cls, "run", None)
    if not inspect.iscoroutinefunction(run):
        return [*problems, "run is not async"]
    params = list(inspect.signature(run).parameters)
    if len(params) != 3:
        return [*problems, f"run takes {params}, not (self, view, env)"]
    try:
        hints = typing.get_type_hints(run)
    except NameError as exc:
        return [*problems, f"annotations do not resolve: {exc}"]
    view, env = hints.get(params[1]), hints.get(params[2])
    if view is not TaskView and TaskView not in typing.get_args(view):
        problems.append(f"the task parameter is typed {view!r}, not TaskView")
    if env is not Env:
        problems.append(f"env is typed {env!r}, not Env")
    if hints.get("return") is not type(None):
        problems.append("run does not return None")
    return problems


@pytest.mark.parametrize("spec", SHIPPED)
def test_every_shipped_agent_is_written_against_the_protocol(spec):
    factory = load_agent(spec) if ":" not in spec or spec.endswith(".py:LookupAgent") else _attr(spec)
    assert conformance(factory) == []


def _attr(spec: str) -> type:
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def test_the_conformance_check_rejects_what_is_not_typed_against_the_protocol():
    class Untyped:
        async def run(self, task, env):  # noqa: ANN001
            return None

    class Sync:
        def run(self, view: TaskView, env: Env) -> None:
            return None

    class AnyTyped:
        async def run(self, view: typing.Any, env: typing.Any) -> None:
            return None

    class NoRun:
        pass

    assert "the task parameter is typed None, not TaskView" in conformance(Untyped)
    assert conformance(Sync) == ["run is not async"]
    assert len(conformance(AnyTyped)) == 2
    assert conformance(NoRun)[0] == "not an Agent (no run method)"


def test_the_public_types_come_from_medagent_and_medagent_agents():
    import medagent.agents as agents

    for name in ("Agent", "Env", "TaskView", "ToolResult", "StepLimitReached"):
        assert getattr(medagent, name) is getattr(agents, name), name
        assert name in medagent.__all__ and name in agents.__all__
    assert medagent.TaskView is TaskView and medagent.Env is Env
    # the oracle alone reads the full task; the protocol's view is the public one
    assert typing.get_type_hints(Agent.run) == {"view": TaskView, "env": Env, "return": type(None)}
    assert Task not in typing.get_args(typing.get_type_hints(load_agent("null").run)["view"])


def test_importing_medagent_stays_light():
    import subprocess
    import sys

    code = ("import sys, medagent; heavy = [m for m in ('tasks', 'medagent.env', 'medagent.agents', 'httpx') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _members(proto: type) -> dict[str, object]:
    return {name: getattr(proto, name) for name in proto.__protocol_attrs__} if hasattr(
        proto, "__protocol_attrs__") else {name: getattr(proto, name, None)
                                           for name in typing._get_protocol_attrs(proto)}  # noqa: SLF001


def test_trial_env_is_an_env_with_the_protocols_signatures(bench_service):
    from medagent.tasks.clients import LocalFhirClient

    env = TrialEnv(TaskView("t", 1, "query", "Find it.", ""), LocalFhirClient(bench_service), max_steps=3)
    assert isinstance(env, Env)
    members = _members(Env)
    assert {"task", "tools", "tool_set", "llm", "usage", "messages", "max_steps", "steps", "answer", "finished",
            "call", "request", "finish", "pass_turn", "end"} == set(members)
    for name, member in members.items():
        if inspect.isfunction(member):  # a method: same parameters, same async-ness
            mine = getattr(TrialEnv, name)
            assert inspect.signature(mine).parameters.keys() == inspect.signature(member).parameters.keys(), name
            assert inspect.iscoroutinefunction(mine) == inspect.iscoroutinefunction(member), name
    # an object missing one member is not an Env
    class Partial:
        tools = task = tool_set = llm = usage = messages = max_steps = steps = answer = finished = None

        async def call(self, name, args=None): ...  # noqa: ANN001
        async def request(self, method, path, params=None, json=None): ...  # noqa: ANN001
        def pass_turn(self): ...
        def end(self, reason): ...  # noqa: ANN001

    assert not isinstance(Partial(), Env)


USER_AGENT = '''
from __future__ import annotations

import re

from medagent import Env, TaskView, ToolResult

ASKED = re.compile(r"named (.+?) (\\S+), born on (\\d{4}-\\d{2}-\\d{2})")


class TypedAgent:
    """Written against the protocol only: tools listing, a tool call, a raw request, finish."""

    async def run(self, view: TaskView, env: Env) -> None:
        assert "search_patients" in [t["function"]["name"] for t in env.tools]
        assert env.task == view and env.steps == 0 and not env.finished
        asked = ASKED.search(view.instruction)
        if asked is None:
            env.end("not a look-up")
            return
        given, family, birthdate = asked.groups()
        found: ToolResult = await env.call("search_patients", {"family": family, "birthdate": birthdate})
        mrns = [e["resource"]["id"] for e in (found.content or {}).get("entry", [])
                if any(n.get("family") == family and given in n.get("given", []) for n in e["resource"]["name"])]
        if len(mrns) == 1:  # confirm through a raw FHIR request, as a text protocol would
            again = await env.request("GET", f"Patient/{mrns[0]}")
            assert again.ok and again.content["id"] == mrns[0]
        env.finish(mrns if len(mrns) == 1 else ["Patient not found"])
'''


def test_a_user_agent_written_against_the_protocol_runs(bench_suite, bench_suite_path, bench_service, tmp_path):
    module = tmp_path / "typed_agent.py"
    module.write_text(USER_AGENT)
    spec = f"{module}:TypedAgent"
    assert conformance(load_agent(spec)) == []
    proc = medagent_cli("bench", "--suite", bench_suite_path, "--agent", spec, "--tasks", "1", "--quiet",
                        "--out", tmp_path / "run")
    assert proc.returncode == 0, proc.stderr
    trials = [json.loads(line) for line in (tmp_path / "run" / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == len(bench_suite.category(1)) > 0
    assert all(t["status"] == "completed" and t["grade"]["passed"] for t in trials), [t.get("error") for t in trials]
    names = [c["name"] for t in trials for c in t["tool_calls"]]
    assert "search_patients" in names and "GET" in names and "finish" in names


# --- the text protocol's function list comes from the tools ---------------------------------


def _new_tool():
    """A tool none of the suites has: active service requests of a patient."""
    from medagent.tasks.tools import _search, _string
    from medagent.tasks.tools import Tool as ToolType

    query = {"patient": "patient", "code": "code", "count": "_count"}
    fixed = {"status": "active"}
    return ToolType(
        "search_active_orders", "List a patient's active orders (GET ServiceRequest, status active).",
        {"type": "object", "properties": {"patient": _string("MRN"), "code": _string("code"),
                                          "count": {"type": "integer", "minimum": 1, "maximum": 100}},
         "required": ["patient"], "additionalProperties": False},
        "read", _search("ServiceRequest", query, fixed, None), "GET", "ServiceRequest", fixed, query)


def _functions(prompt: str) -> dict[str, str]:
    """description -> function name ("METHOD url") of the prompt's function list."""
    listed = json.loads(prompt.split("Functions (JSON):\n", 1)[1].split("\n\nTask: ", 1)[0])
    return {f["description"]: f["name"] for f in listed}


def test_a_new_tool_gets_its_own_url_in_the_function_list():
    from medagent.agents._text import function_list
    from medagent.tasks.tools import TOOLS

    tool = _new_tool()
    (listed,) = json.loads(function_list([tool]))
    assert listed["name"] == "GET http://localhost:8080/fhir/ServiceRequest"
    assert listed["parameters"]["properties"]["status"]["description"] == "always 'active'"
    assert set(listed["parameters"]["properties"]) == {"patient", "code", "status", "_count"}
    # the nine keep the original's names, derived the same way
    nine = [f["name"].removeprefix("GET ").removeprefix("POST ").removeprefix("http://localhost:8080/fhir/")
            for f in json.loads(function_list(list(TOOLS)))]
    assert nine == ["Patient", "Condition", "Observation", "Observation", "Observation", "MedicationRequest",
                    "MedicationRequest", "Procedure", "ServiceRequest"]


class _FromFunctionList:
    """A fake model that writes its requests from the URLs the prompt lists (``plan``: a
    list of (tool description, how to fill the URL) per turn), then FINISH([])."""

    def __init__(self, plan):
        self.plan = plan
        self.seen: list[str] = []

    def __call__(self, body: dict) -> dict:
        messages = body["messages"]
        turn = sum(m["role"] == "assistant" for m in messages)
        if turn >= len(self.plan):
            return {"role": "assistant", "content": "FINISH([])"}
        functions = _functions(messages[0]["content"])
        description, fill = self.plan[turn]
        name = functions[description]
        self.seen.append(name)
        return {"role": "assistant", "content": fill(name, messages)}


def _run_text_agent(service, tools, policy):
    from medagent.agents._text import TextAgent
    from medagent.llm import ChatClient
    from medagent.settings import HarnessSettings
    from medagent.tasks.clients import LocalFhirClient
    from tests.fake_openai import FakeOpenAI

    view = TaskView("t1", 11, "action", "Do what the plan says.", "")

    async def go(url: str) -> TrialEnv:
        llm = ChatClient("m", url, "k", HarnessSettings(max_retries=0))
        env = TrialEnv(view, LocalFhirClient(service, session=sid), max_steps=8, llm=llm, tools=tools)
        await TextAgent().run(view, env)
        return env

    sid = service.create_session()
    try:
        with FakeOpenAI(policy) as fake:
            return asyncio.run(go(fake.url))
    finally:
        service.delete_session(sid)


def _a_medication_order(service) -> dict:
    from medagent.tasks.clients import LocalFhirClient

    reply = asyncio.run(LocalFhirClient(service).request("GET", "MedicationRequest", [("_count", "1")]))
    return reply.body["entry"][0]["resource"]


def test_the_text_protocol_reaches_every_tool_at_the_url_it_lists(bench_service):
    from medagent.tasks.tools import TOOLS
    from medagent.tasks.tools_safety import SAFETY_TOOLS

    new = _new_tool()
    by_name = {t.name: t for t in (*TOOLS, *SAFETY_TOOLS, new)}
    order = _a_medication_order(bench_service)
    mrn = order["subject"]["reference"].split("/")[1]

    def put_back(name: str, messages: list) -> str:  # the order as read, on hold
        read = json.loads(messages[-1]["content"].split("\n", 1)[1])
        return f"{name.format(id=read['id'])}\n{json.dumps(read | {'status': 'on-hold'})}"

    plan = [
        (by_name["search_allergies"].description, lambda n, m: f"{n}?patient={mrn}"),
        (new.description, lambda n, m: f"{n}?patient={mrn}"),
        (by_name["read_resource"].description,
         lambda n, m: n.format(resource_type="MedicationRequest", id=order["id"])),
        (by_name["update_medication_request"].description, put_back),
    ]
    policy = _FromFunctionList(plan)
    env = _run_text_agent(bench_service, (*TOOLS, *SAFETY_TOOLS, new), policy)
    assert policy.seen == ["GET http://localhost:8080/fhir/AllergyIntolerance",
                           "GET http://localhost:8080/fhir/ServiceRequest",
                           "GET http://localhost:8080/fhir/{resource_type}/{id}",
                           "PUT http://localhost:8080/fhir/MedicationRequest/{id}"]
    calls = env.tool_calls
    assert [(c["name"], c["status"]) for c in calls] == [("GET", 200), ("GET", 200), ("GET", 200), ("PUT", 200),
                                                        ("finish", None)], calls
    assert calls[0]["arguments"]["path"] == "AllergyIntolerance"
    assert calls[3]["arguments"]["json"]["status"] == "on-hold"
    prompt = env.messages[0]["content"]
    assert "PUT url" in prompt


def test_without_an_updating_tool_the_prompt_is_the_originals(bench_service):
    from medagent.agents._text import PROMPT, function_list, prompt
    from medagent.tasks.tools import TOOLS

    assert prompt(list(TOOLS), "T") == PROMPT.format(functions=function_list(list(TOOLS)), task="T")
    assert "PUT" not in prompt(list(TOOLS), "T")
    # and a PUT reply is then not one of the forms: the trial ends as the original's would
    order = _a_medication_order(bench_service)
    policy = _FromFunctionList([(TOOLS[0].description,
                                 lambda n, m: f"PUT http://localhost:8080/fhir/MedicationRequest/{order['id']}\n{{}}")])
    env = _run_text_agent(bench_service, TOOLS, policy)
    assert env.stop == "invalid_reply" and env.tool_calls == []


def test_the_function_names_have_no_tool_names_in_their_urls():
    from medagent.agents._text import function_list
    from medagent.tasks.toolsets import TOOLSETS

    for design, tools in TOOLSETS.items():
        for listed in json.loads(function_list(list(tools))):
            method, url = listed["name"].split(" ", 1)
            assert method in ("GET", "POST", "PUT"), (design, listed["name"])
            assert not re.search(r"/fhir/[a-z_]+($|\?)", url), (design, listed["name"])  # a resource type, not a tool


# --- one tool environment --------------------------------------------------------------------


def test_one_class_dispatches_tool_calls():
    """``tasks.env.ClientToolEnv`` is the only caller of ``Tool.call``: TrialEnv (bench, gym,
    MCP, Inspect), the verifiers tool process, reference solutions and baselines all go
    through it, so an unknown tool or bad arguments read the same everywhere."""
    callers = []
    for package in ("medagent", "tasks", "benchmarks", "examples"):
        for path in (ROOT / package).rglob("*.py"):
            if re.search(r"\btool\.call\(|\.call\(\s*client\b", path.read_text()):
                callers.append(str(path.relative_to(ROOT)))
    assert callers == ["tasks/env.py"]


def test_the_dispatcher_and_the_trial_say_the_same(bench_service):
    from medagent.tasks.clients import LocalFhirClient
    from medagent.tasks.env import ClientToolEnv

    async def both(name, args):
        plain = await ClientToolEnv(LocalFhirClient(bench_service), finish=True).call(name, args)
        trial = await TrialEnv(TaskView("t", 1, "query", "x", ""), LocalFhirClient(bench_service)).call(name, args)
        return plain.content, trial.content

    for name, args in (("order_pizza", {}), ("search_patients", '{"family": "Lo'),
                       ("search_lab_observations", {"code": "MG"})):
        plain, trial = asyncio.run(both(name, args))
        assert plain == trial and "error" in plain, (name, plain, trial)
