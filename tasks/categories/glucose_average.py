"""Category 6 (query): the mean of the glucose results of the last 24 hours.

Branches: ``several_24h``, ``one_24h`` and ``none_24h`` (none in the window, including
patients never tested). Expected: ``[mean in mg/dL]`` (tolerance 0.1) or ``[-1]``.
"""

from __future__ import annotations

from typing import Any

from .._clock import WINDOW_START
from .._labs import last_24h, mean
from ..models import Grade, Task
from ._answers import numeric_answer
from ._common import answer_solver, graded, templated
from ._select import by_chart_state

NUMBER, NAME, KIND = 6, "glucose_average", "query"
TITLE = "Mean glucose in 24 h"
TOLERANCE = 0.1
BRANCHES = {"several_24h": 12, "one_24h": 8, "none_24h": 10}
STATES = {"several_24h": ("several_24h",), "one_24h": ("one_24h",),
          "none_24h": ("none_24h", "never")}


def decide(series: list) -> dict:
    value = mean(last_24h(series))
    return {"answer": [-1 if value is None else round(value, 4)]}


solve = answer_solver("GLU", decide, since=WINDOW_START)
select = by_chart_state("glucose", "GLU", STATES, BRANCHES, decide)
render = templated(KIND, (
    "What is the average of patient {patient}'s blood glucose results over the last 24 "
    "hours? Answer with a list holding the mean in mg/dL as a number, e.g. [131.5], or [-1] "
    "if there is no glucose result in the last 24 hours."))


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return graded(numeric_answer(answer, task.expected["answer"], TOLERANCE), writes, [])
