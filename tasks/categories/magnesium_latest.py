"""Category 4 (query): the most recent magnesium within the last 24 hours.

Branches: ``value`` (a result in [now − 24 h, now]) and ``none_24h``.
Expected: ``[value in mg/dL]`` or ``[-1]``; a number compared exactly (2 equals 2.0).
"""

from __future__ import annotations

import random
from typing import Any

from .._chart import Chart
from .._clock import WINDOW_START
from ..models import Grade, Task
from ._answers import numeric_answer
from ._common import context, fetch_series, mrn
from .._labs import last_24h, latest
from ._select import Instance, select_instances
from ._states import pools_for
from ._writes import grade_writes

NUMBER, NAME, KIND = 4, "magnesium_latest", "query"
TITLE = "Latest magnesium in 24 h"
BRANCHES = {"value": 20, "none_24h": 10}
STATES = {"value": ("lt1", "lt1.5", "le1.9", "normal"), "none_24h": ("none_24h",)}


def latest_24h_value(series: list) -> float:
    point = latest(last_24h(series))
    return -1 if point is None else point.value


def instance(chart: Chart, branch: str, mrn: str, rng: random.Random) -> Instance:
    return Instance(mrn, branch, {}, {"answer": [latest_24h_value(chart.series(mrn, "MG"))]})


def select(chart: Chart, rng: random.Random, n: int) -> list[Instance]:
    return select_instances(pools_for(chart, "magnesium", STATES), BRANCHES, n, rng,
                            lambda b, m, r: instance(chart, b, m, r))


def render(patient: str | None, params: dict[str, Any]) -> tuple[str, str]:
    instruction = (
        f"What is patient {patient}'s most recent magnesium level from the last 24 hours? "
        f"Answer with a list holding the value in mg/dL as a number, e.g. [1.8], or [-1] if "
        f"no magnesium was measured in the last 24 hours."
    )
    return instruction, context(KIND)


async def solve(task: Task, env: Any) -> list:
    return [latest_24h_value(await fetch_series(env, mrn(task), "MG", since=WINDOW_START))]


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return Grade.of(numeric_answer(answer, task.expected["answer"]) + grade_writes(writes, []))
