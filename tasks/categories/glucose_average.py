"""Category 6 (query): the mean of the glucose results of the last 24 hours.

Branches: ``several_24h``, ``one_24h`` and ``none_24h`` (none in the window, including
patients never tested). Expected: ``[mean in mg/dL]`` (tolerance 0.1) or ``[-1]``.
"""

from __future__ import annotations

import random
from typing import Any

from .._chart import Chart
from .._clock import WINDOW_START
from ..models import Grade, Task
from ._answers import numeric_answer
from ._common import context, fetch_series, mrn
from .._labs import last_24h, mean
from ._select import Instance, select_instances
from ._states import pools_for
from ._writes import grade_writes

NUMBER, NAME, KIND = 6, "glucose_average", "query"
TITLE = "Mean glucose in 24 h"
TOLERANCE = 0.1
BRANCHES = {"several_24h": 12, "one_24h": 8, "none_24h": 10}
STATES = {"several_24h": ("several_24h",), "one_24h": ("one_24h",),
          "none_24h": ("none_24h", "never")}


def mean_24h(series: list) -> float:
    value = mean(last_24h(series))
    return -1 if value is None else round(value, 4)


def instance(chart: Chart, branch: str, mrn: str, rng: random.Random) -> Instance:
    return Instance(mrn, branch, {}, {"answer": [mean_24h(chart.series(mrn, "GLU"))]})


def select(chart: Chart, rng: random.Random, n: int) -> list[Instance]:
    return select_instances(pools_for(chart, "glucose", STATES), BRANCHES, n, rng,
                            lambda b, m, r: instance(chart, b, m, r))


def render(patient: str | None, params: dict[str, Any]) -> tuple[str, str]:
    instruction = (
        f"What is the average of patient {patient}'s blood glucose results over the last 24 "
        f"hours? Answer with a list holding the mean in mg/dL as a number, e.g. [131.5], or "
        f"[-1] if there is no glucose result in the last 24 hours."
    )
    return instruction, context(KIND)


async def solve(task: Task, env: Any) -> list:
    return [mean_24h(await fetch_series(env, mrn(task), "GLU", since=WINDOW_START))]


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return Grade.of(numeric_answer(answer, task.expected["answer"], TOLERANCE)
                    + grade_writes(writes, []))
