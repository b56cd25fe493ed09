"""Step and time limits, crashing agents, entry-point agents, docker without an engine."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from medagent.cli import main
from medagent.runfolder import read_run
from tests.fake_openai import FakeOpenAI, tool_call_message


class Looper:
    """A model that never finishes: it searches patients forever."""

    def __call__(self, body: dict) -> dict:
        return tool_call_message("search_patients", {"family": "Nobody"}, f"call_{len(body['messages'])}")


def _run(suite_path, out, *extra, rc: int = 0) -> list[dict]:
    assert main(["bench", "--suite", str(suite_path), "--out", str(out), "--quiet", *extra]) == rc
    return read_run(out).trials


def test_step_limit_ends_the_trial_without_error(bench_suite, bench_suite_path, fast_retries, tmp_path):
    task = bench_suite.tasks[0]
    with FakeOpenAI(Looper()) as fake:
        (trial,) = _run(bench_suite_path, tmp_path / "run", "--model", "m", "--base-url", fake.url,
                        "--tasks", task.id, "--max-steps", "3")
    assert trial["status"] == "completed" and trial["stop"] == "max_steps"
    assert trial["steps"] == 3 and len(trial["tool_calls"]) == 3
    assert trial["answer"] is None and trial["grade"]["passed"] is False
    # the transcript holds every turn, each tool call answered
    assert sum(m["role"] == "tool" for m in trial["messages"]) == 3


def test_time_limit_is_an_error(bench_suite, bench_suite_path, fast_retries, monkeypatch, tmp_path):
    monkeypatch.setenv("MEDAGENT_TRIAL_TIMEOUT", "0.3")
    task = bench_suite.tasks[0]
    with FakeOpenAI(Looper(), delay_s=0.2) as fake:
        (trial,) = _run(bench_suite_path, tmp_path / "run", "--model", "m", "--base-url", fake.url,
                        "--tasks", task.id, "--max-steps", "50", rc=1)
    assert trial["status"] == "error" and "timed out after 0.3 s" in trial["error"]
    assert trial["grade"] is None


def test_a_crashing_agent_is_recorded_and_the_run_goes_on(bench_suite, bench_suite_path, tmp_path):
    agent = tmp_path / "crashy.py"
    agent.write_text(
        "class Agent:\n"
        "    async def run(self, task, env):\n"
        "        if task.category == 1:\n"
        "            raise KeyError('boom')\n"
        "        env.finish([])\n"
    )
    trials = _run(bench_suite_path, tmp_path / "run", "--agent", f"{agent}:Agent", "--tasks", "1", "2", rc=1)
    crashed = [t for t in trials if t["category"] == 1]
    assert crashed and all(t["status"] == "error" and "KeyError: 'boom'" in t["error"] for t in crashed)
    assert all(t["status"] == "completed" for t in trials if t["category"] == 2)


def test_entry_point_agents_are_found(bench_suite, bench_suite_path, monkeypatch, tmp_path):
    import medagent.agents as agents

    point = EntryPoint(name="lookup", value="examples.custom_agent:LookupAgent", group=agents.ENTRY_POINT_GROUP)
    monkeypatch.setattr(agents, "_entry_points", lambda: {"lookup": point})
    assert "lookup" in agents.known_agents()
    trials = _run(bench_suite_path, tmp_path / "run", "--agent", "lookup", "--tasks", "1")
    assert trials and all(t["grade"]["passed"] for t in trials)


@pytest.mark.parametrize("url", ["docker", "ftp://example.org/fhir"])
def test_unusable_fhir_url_is_one_line(bench_suite_path, tmp_path, capsys, monkeypatch, url):
    # "docker" without an engine: point the SDK at a socket that does not exist, so the
    # test means the same on a machine where a Docker engine happens to run
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert main(["bench", "--suite", str(bench_suite_path), "--out", str(tmp_path / "r"), "--agent", "oracle",
                 "--fhir-url", url, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("medagent: error:") and "\n" not in err


def test_a_suite_from_another_cohort_is_refused(bench_suite, bench_service):
    from medagent.embedded import open_service
    from medagent.errors import ConfigError

    other = bench_suite.model_copy(update={"cohort_checksum": "0" * 64})
    with pytest.raises(ConfigError, match="was built from cohort 000000000000"):
        open_service(other)
