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
