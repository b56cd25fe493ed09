"""Category 4 (query): the most recent magnesium within the last 24 hours.

Branches: ``value`` (a result in [now − 24 h, now]) and ``none_24h``.
Expected: ``[value in mg/dL]`` or ``[-1]``; a number compared exactly (2 equals 2.0).
"""

from __future__ import annotations

from typing import Any

from .._clock import WINDOW_START
from .._labs import last_24h, latest, reported
from ..models import Grade, Task
from ._answers import numeric_answer
from ._common import answer_solver, graded, templated
from ._select import by_chart_state

NUMBER, NAME, KIND = 4, "magnesium_latest", "query"
TITLE = "Latest magnesium in 24 h"
BRANCHES = {"value": 20, "none_24h": 10}
STATES = {"value": ("lt1", "lt1.5", "le1.9", "normal"), "none_24h": ("none_24h",)}


def decide(series: list) -> dict:
    return {"answer": reported(latest(last_24h(series)))}


solve = answer_solver("MG", decide, since=WINDOW_START)
select = by_chart_state("magnesium", "MG", STATES, BRANCHES, decide)
render = templated(KIND, (
    "What is patient {patient}'s most recent magnesium level from the last 24 hours? Answer "
    "with a list holding the value in mg/dL as a number, e.g. [1.8], or [-1] if no magnesium "
    "was measured in the last 24 hours."))


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return graded(numeric_answer(answer, task.expected["answer"]), writes, [])
