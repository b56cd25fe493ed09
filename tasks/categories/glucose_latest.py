"""Category 7 (query): the most recent glucose result, however old.

Branches: ``measured`` (any glucose on record) and ``never``.
Expected: ``[value in mg/dL]`` or ``[-1]``.
"""

from __future__ import annotations

import random
from typing import Any

from .._chart import Chart
from ..models import Grade, Task
from ._answers import numeric_answer
from ._common import context, fetch_series, mrn
from .._labs import latest
from ._select import Instance, select_instances
from ._states import pools_for
from ._writes import grade_writes

NUMBER, NAME, KIND = 7, "glucose_latest", "query"
TITLE = "Latest glucose ever"
BRANCHES = {"measured": 22, "never": 8}
STATES = {"measured": ("several_24h", "one_24h", "none_24h"), "never": ("never",)}


def latest_value(series: list) -> float:
    point = latest(series)
    return -1 if point is None else point.value


def instance(chart: Chart, branch: str, mrn: str, rng: random.Random) -> Instance:
    return Instance(mrn, branch, {}, {"answer": [latest_value(chart.series(mrn, "GLU"))]})


def select(chart: Chart, rng: random.Random, n: int) -> list[Instance]:
    return select_instances(pools_for(chart, "glucose", STATES), BRANCHES, n, rng,
                            lambda b, m, r: instance(chart, b, m, r))


def render(patient: str | None, params: dict[str, Any]) -> tuple[str, str]:
    instruction = (
        f"What is patient {patient}'s most recent blood glucose value, whenever it was "
        f"measured? Answer with a list holding the value in mg/dL as a number, e.g. [104], "
        f"or [-1] if the patient has no glucose result at all."
    )
    return instruction, context(KIND)


async def solve(task: Task, env: Any) -> list:
    return [latest_value(await fetch_series(env, mrn(task), "GLU"))]


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return Grade.of(numeric_answer(answer, task.expected["answer"]) + grade_writes(writes, []))
