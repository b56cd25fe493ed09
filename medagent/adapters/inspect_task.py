"""Inspect AI tasks: ``inspect eval medagent/mab_v1 --model openai/gpt-4o-mini``.

Registered through the ``inspect_ai`` entry point of the package: one task per built-in
suite (``medagent/mab_v1``, …; the id with ``-`` as ``_``) and ``medagent/suite`` for any
suite by id or path (``-T suite=path/to/private.jsonl``). Task options (``-T``): ``tasks``
(ids, category numbers, ``query``/``action``, comma-separated), ``max_steps`` (default 8),
``solver`` (``agent``, the default: the model with our tools; ``reference``: the
reference solutions, a check that the wiring scores 100 %).

- Dataset: one sample per task, built from the public view (instruction and context;
  ``metadata`` has category and kind). No ``target``: the answer key stays in-process.
- Tools: ``tasks.TOOLS`` and ``finish``, with their own JSON schemas, each call going to
  the sample's own FHIR session (a :class:`~medagent.adapters._remote.RemoteTrial`, the
  runner's trial: same step limit, same record).
- Scorer: ``tasks.grade`` on the answer and the session's write log; the value is 1/0,
  the explanation lists the failed checks, ``metadata`` holds every ``Check`` (and the
  failed harm checks, the stop reason, the trial id, the session's write log: enough to
  re-grade). Metrics: accuracy and stderr, and
  accuracy per category and per kind.
- Epochs are Inspect epochs (``--epochs``); each (sample, epoch) is its own trial.

Needs the ``inspect`` extra (``pip install "medagent[inspect]"``).
"""

from __future__ import annotations

from typing import Any

import orjson

from medagent.adapters import require

require("inspect", "inspect_ai")

from inspect_ai import Task, task  # noqa: E402
from inspect_ai.dataset import MemoryDataset, Sample  # noqa: E402
from inspect_ai.scorer import Score, accuracy, grouped, scorer, stderr  # noqa: E402
from inspect_ai.solver import Generate, TaskState, solver, system_message, use_tools  # noqa: E402
from inspect_ai.tool import Tool, ToolDef, ToolError, ToolParams  # noqa: E402
from inspect_ai.util import store  # noqa: E402

from medagent.adapters._remote import RemoteTrial, TrialClosed  # noqa: E402
from medagent.adapters._remote import local_backend as _backend  # noqa: E402
from medagent.adapters._remote import suite_of as _suite  # noqa: E402

__all__ = ["medagent_task", "reference_solver", "medagent_scorer", "medagent_tools", "tool_loop"]

_TRIAL_KEY = "medagent_trial"
_TRIALS: dict[str, RemoteTrial] = {}  # sample store handle → live trial


def _prompt(view: Any) -> str:
    from medagent.agents._react import task_prompt

    return task_prompt(view)


def dataset(suite: str, selection: list[str]) -> MemoryDataset:
    from medagent.bench.config import select_tasks

    chosen = select_tasks(_suite(suite), selection)
    samples = [Sample(id=t.id, input=_prompt(t.view()),
                      metadata={"suite": suite, "category": t.category, "kind": t.kind})
               for t in chosen]
    return MemoryDataset(samples, name=_suite(suite).id)


def _trial(state_or_none: Any = None) -> RemoteTrial:
    handle = store().get(_TRIAL_KEY)
    trial = _TRIALS.get(handle) if handle else None
    if trial is None:
        raise ToolError("no trial is open for this sample")
    return trial


@solver
def open_trial(max_steps: int = 8) -> Any:
    """Open the sample's trial (its own FHIR session) for the tools and the scorer."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        from medagent.settings import load_settings

        suite = state.metadata["suite"]
        from medagent.tasks.toolsets import tools_of

        trial = RemoteTrial(_backend(suite), _suite(suite).get(str(state.sample_id)), state.epoch,
                            max_steps=max_steps, trial_timeout=load_settings().trial_timeout,
                            tools=tools_of(_suite(suite)))
        handle = f"{trial.trial_id}@{state.uuid}"
        _TRIALS[handle] = trial
        store().set(_TRIAL_KEY, handle)
        return state

    return solve


def _tool(name: str, description: str, parameters: dict) -> Tool:
    async def execute(**kwargs: Any) -> str:
        try:
            if name == "finish":
                await _trial().finish(kwargs.get("answer"))
                return "Your answer is recorded; the task is finished."
            result = await _trial().call(name, kwargs)
        except TrialClosed as exc:
            raise ToolError(str(exc)) from None
        text = orjson.dumps(result.content, default=str).decode()
        if not result.ok:
            raise ToolError(text)
        return text

    return ToolDef(execute, name=name, description=description,
                   parameters=ToolParams.model_validate(parameters), parallel=False).as_tool()


def medagent_tools(suite: str | None = None) -> list[Tool]:
    """The suite's tools (the nine ``tasks.TOOLS`` by default) and ``finish`` as Inspect
    tools with their own schemas."""
    from medagent.tasks.toolsets import schemas_of, tools_of

    return [_tool(s["function"]["name"], s["function"]["description"], s["function"]["parameters"])
            for s in schemas_of(tools_of(_suite(suite) if suite else []))]


@solver
def tool_loop() -> Any:
    """The model calls tools until it calls ``finish``, stops calling tools, or the trial
    is over (step limit); the task's message limit bounds it too."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        from medagent.agents._react import REMINDER

        reminded = False
        while not state.completed:
            state = await generate(state, tool_calls="single")
            if _trial().done:
                break
            if state.output.message.tool_calls:
                reminded = False
                continue
            if reminded:  # a second turn without a tool call: the agent has stopped
                break
            from inspect_ai.model import ChatMessageUser

            state.messages.append(ChatMessageUser(content=REMINDER))
            reminded = True
        return state

    return solve


@solver
def reference_solver() -> Any:
    """The category's reference solution, its tool calls going through the sample's trial."""

    class _Env:
        async def call(self, name: str, args: dict) -> Any:
            return await _trial().call(name, args)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        from medagent import tasks

        full = _suite(state.metadata["suite"]).get(str(state.sample_id))  # the one solver given the full task
        answer = await tasks.get_category(full.category).solve(full, _Env())
        await _trial().finish(answer)
        state.output.completion = orjson.dumps(answer).decode()
        return state

    return solve


@scorer(metrics=[accuracy(), stderr(), grouped(accuracy(), "category", all=False),
                 grouped(accuracy(), "kind", all=False)])
def medagent_scorer() -> Any:
    """``tasks.grade`` of the trial: the answer given to ``finish`` and the session's writes."""

    async def score(state: TaskState, target: Any) -> Score:
        handle = store().get(_TRIAL_KEY)
        trial = _TRIALS.pop(handle, None) if handle else None
        if trial is None:
            return Score(value=0, explanation="no trial was opened for this sample")
        if not trial.done:
            await trial.end()  # the model stopped without finish: graded with no answer, as in bench
        record = await trial.record()
        grade = record.get("grade") or {}
        checks = grade.get("checks") or []
        failed = [c for c in checks if not c.get("passed")]
        if record["status"] != "completed":
            explanation = f"error: {record.get('error')}"
        elif failed:
            explanation = "; ".join(f"{c['name']}: {c.get('message') or 'failed'}" for c in failed)
        else:
            explanation = "all checks passed"
        return Score(
            value=1 if grade.get("passed") else 0,
            answer=orjson.dumps(record.get("answer")).decode(),
            explanation=explanation,
            metadata={"trial_id": record["trial_id"], "stop": record["stop"], "status": record["status"],
                      "steps": record["steps"], "checks": checks,
                      "harm": [c["name"] for c in checks if c.get("harm") and not c.get("passed")],
                      "writes": record.get("writes") or []},
        )

    return score


def medagent_task(suite: str = "mab-v1", tasks: Any = None, max_steps: int = 8,
                  solver: str = "agent") -> Task:
    """The Inspect task for ``suite`` (see the module docs for the options)."""
    from medagent.agents._react import SYSTEM_PROMPT
    from medagent.errors import ConfigError

    # -T values arrive parsed as YAML: "5,9", 5 or [5, 9]
    items = tasks if isinstance(tasks, list | tuple) else ([] if tasks is None else [tasks])
    selection = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
    if solver == "agent":
        plan = [open_trial(max_steps), system_message(SYSTEM_PROMPT), use_tools(medagent_tools(suite)), tool_loop()]
    elif solver == "reference":
        plan = [open_trial(max_steps), reference_solver()]
    else:
        raise ConfigError(f"solver {solver!r}: expected agent or reference")
    return Task(dataset=dataset(suite, selection), solver=plan, scorer=medagent_scorer(),
                message_limit=2 * max_steps + 8, name=_suite(suite).id)


@task
def suite(suite: str = "mab-v1", tasks: str | None = None, max_steps: int = 8, solver: str = "agent") -> Task:
    """Any suite by id or path: ``inspect eval medagent/suite -T suite=mab-v1``."""
    return medagent_task(suite, tasks, max_steps, solver)


def _register_suites() -> None:
    from medagent import tasks as tasks_pkg

    for suite_id in tasks_pkg.known_suites():
        name = suite_id.replace("-", "_")

        def make(tasks: str | None = None, max_steps: int = 8, solver: str = "agent", _id: str = suite_id) -> Task:
            return medagent_task(_id, tasks, max_steps, solver)

        make.__name__ = name
        make.__doc__ = f"Suite {suite_id}: inspect eval medagent/{name}"
        globals()[name] = task(name=name)(make)
        __all__.append(name)


_register_suites()
