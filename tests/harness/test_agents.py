"""Finding agents: built-ins, module:Class, file paths, entry points, clear errors."""

from __future__ import annotations

import pytest

from medagent.agents import BUILTIN, load_agent, needs_model
from medagent.errors import ConfigError


def test_builtins_load_and_declare_whether_they_need_a_model():
    assert set(BUILTIN) == {"react", "text", "oracle", "blind", "null"}
    assert needs_model(load_agent("blind")) is False
    assert needs_model(load_agent("react")) and needs_model(load_agent("text"))
    assert needs_model(load_agent("oracle")) is False and needs_model(load_agent("null")) is False
    assert needs_model(load_agent("examples.custom_agent:LookupAgent")) is None  # undeclared: only with --model


def test_unknown_name_lists_the_known_agents():
    with pytest.raises(ConfigError) as info:
        load_agent("nosuch")
    message = str(info.value)
    assert "\n" not in message
    for name in BUILTIN:
        assert name in message


def test_module_class_and_file_path():
    factory = load_agent("examples.custom_agent:LookupAgent")
    assert hasattr(factory(), "run")
    assert load_agent("examples/custom_agent.py:LookupAgent")().__class__.__name__ == "LookupAgent"


@pytest.mark.parametrize("spec, fragment", [
    ("examples.custom_agent:Nope", "has no attribute"),
    ("no_such_module_xyz:Agent", "cannot be imported"),
    ("missing/file.py:Agent", "no such file"),
    ("medagent.agents:BUILTIN", "neither a class nor a factory"),
    ("medagent.agents._react:task_prompt", "without arguments"),
])
def test_bad_specs_are_one_line_config_errors(spec, fragment):
    with pytest.raises(ConfigError) as info:
        load_agent(spec)
    assert fragment in str(info.value)


def test_a_class_without_async_run_is_refused(tmp_path):
    module = tmp_path / "sync_agent.py"
    module.write_text("class Agent:\n    def run(self, task, env):\n        return None\n")
    with pytest.raises(ConfigError, match="async def run"):
        load_agent(f"{module}:Agent")


def test_blind_agent_cannot_read_and_sees_only_the_task_view(small_suite):
    import asyncio

    from medagent import tasks
    from medagent.agents._builtin import BlindAgent

    class Env:
        def __init__(self):
            self.calls, self.answer = [], None

        async def call(self, name, args):
            self.calls.append(name)
            return tasks.ToolResult(True, 201, {})

        def finish(self, answer):
            self.answer = answer

    referral = next(t for t in small_suite.tasks if t.category == 8)
    env = Env()
    asyncio.run(BlindAgent().run(referral.view(), env))  # a TaskView: no params, no expected
    assert env.calls == ["create_service_request"] and env.answer == []
    from medagent.agents._builtin import _WritesOnly  # the env wrapper refuses any read tool

    with pytest.raises(tasks.SolveError, match="makes no reads"):
        asyncio.run(_WritesOnly(Env()).call("search_lab_observations", {"patient": "S1234567"}))
