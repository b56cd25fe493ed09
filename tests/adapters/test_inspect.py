"""The Inspect AI task, offline: the reference solutions as an Inspect solver (100 %), and
Inspect's mockllm model making scripted tool calls (right, wrong and missing answers);
the .eval logs are read back with Inspect's own log reader."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

pytest.importorskip("inspect_ai", reason="the Inspect adapter needs the inspect extra: pip install 'medagent[inspect]'")

from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.log import read_eval_log  # noqa: E402
from inspect_ai.model import ModelOutput, ModelUsage, get_model  # noqa: E402

from .conftest import session_count  # noqa: E402


def _metrics(log) -> dict[str, float]:
    return {name: metric.value for score in log.results.scores for name, metric in score.metrics.items()}


def test_inspect_eval_cli_reference_solver_scores_100_with_every_check(adapter_suite, adapter_suite_path,
                                                                        adapter_service, tmp_path: Path):
    """`inspect eval medagent/suite` (found through the package's entry point) with the
    reference solutions as the solver on the action category 5, over two epochs: 100 %."""
    sessions_before = session_count(adapter_service)  # the suite build may hold its own
    from medagent import tasks

    env = {**os.environ, "INSPECT_DISPLAY": "plain"}
    proc = subprocess.run(
        [sys.executable, "-m", "inspect_ai", "eval", "medagent/suite", "-T", f"suite={adapter_suite_path}",
         "-T", "solver=reference", "-T", "tasks=5", "--model", "mockllm/model", "--epochs", "2", "--log-dir", str(tmp_path)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)  # not in the checkout: medagent/ is a folder there
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = list(tmp_path.glob("*.eval"))
    log = read_eval_log(str(path))  # Inspect's own reader opens the .eval file
    assert log.status == "success"
    chosen = [t for t in adapter_suite.tasks if t.category == 5]
    assert len(log.samples) == 2 * len(chosen)
    metrics = _metrics(log)
    assert metrics["accuracy"] == 1.0
    assert metrics["5"] == 1.0 and metrics["action"] == 1.0  # per category, per kind
    assert "1" not in metrics
    by_id = {t.id: t for t in adapter_suite.tasks}
    for sample in log.samples:
        score = next(iter(sample.scores.values()))
        task = by_id[sample.id]
        assert score.metadata["stop"] == "finish"
        assert score.metadata["trial_id"] == f"{sample.id}#{sample.epoch}"  # Inspect epochs are trial epochs
        # every Check of the grade is in the metadata: re-grading the recorded answer and writes agrees
        checks = score.metadata["checks"]
        regraded = tasks.grade(task, orjson.loads(score.answer), score.metadata["writes"])
        assert checks and all(c["passed"] for c in checks)
        assert [(c["name"], c["passed"], c["got"]) for c in checks] == [
            (c.name, c.passed, orjson.loads(orjson.dumps(c.got))) for c in regraded.checks]
        assert sample.input == f"{task.instruction}\n\nContext: {task.context}"  # the public view only
    assert session_count(adapter_service) <= sessions_before  # none of ours left


def test_mockllm_scripted_tool_calls_right_wrong_and_silent(adapter_suite, adapter_suite_path, adapter_service,
                                                            tmp_path: Path):
    """mockllm replays the reference tool calls of three tasks: the first answers right,
    the second answers wrong, the third stops talking without finish."""
    sessions_before = session_count(adapter_service)  # the suite build may hold its own
    from tests.fake_openai import record_oracle

    from medagent.adapters.inspect_task import medagent_task

    first, second, third = adapter_suite.tasks[0], adapter_suite.tasks[1], adapter_suite.tasks[-1]
    scripts = {task_id: script for task_id, script in record_oracle([first, second, third], adapter_service).values()}
    outputs = []
    for task, answer in ((first, scripts[first.id].answer), (second, ["wrong"])):
        for name, args in scripts[task.id].calls:
            outputs.append(ModelOutput.for_tool_call("mockllm/model", name, args))
        outputs.append(ModelOutput.for_tool_call("mockllm/model", "finish", {"answer": answer}))
    outputs.append(ModelOutput.for_tool_call("mockllm/model", "no_such_tool", {}))  # an error the model sees
    outputs += [ModelOutput.from_content("mockllm/model", "I am done.")] * 2      # then stops, no finish
    for output in outputs:  # given usage, mockllm counts no tokens (its tokenizer would need a download)
        output.usage = ModelUsage(input_tokens=10, output_tokens=5, total_tokens=15)
    model = get_model("mockllm/model", custom_outputs=outputs)

    task = medagent_task(str(adapter_suite_path), tasks=f"{first.id},{second.id},{third.id}")
    [log] = inspect_eval(task, model=model, log_dir=str(tmp_path), display="none", max_samples=1)
    log = read_eval_log(log.location)
    assert log.status == "success"
    scores = {s.id: next(iter(s.scores.values())) for s in log.samples}
    assert scores[first.id].value == 1 and scores[first.id].metadata["stop"] == "finish"
    assert scores[second.id].value == 0 and "wrong" in scores[second.id].answer
    assert scores[second.id].explanation != "all checks passed"
    assert scores[third.id].value == 0 and scores[third.id].metadata["stop"] == "no_finish"
    assert scores[third.id].answer == "null"
    third_sample = next(s for s in log.samples if s.id == third.id)
    tool_errors = [e for e in third_sample.events if getattr(e, "event", None) == "tool" and e.error is not None]
    assert tool_errors  # the unknown tool came back to the model as a tool error
    assert _metrics(log)["accuracy"] == pytest.approx(1 / 3)
    assert session_count(adapter_service) <= sessions_before  # none of ours left
