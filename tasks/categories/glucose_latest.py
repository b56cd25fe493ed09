"""Category 7 (query): the most recent glucose result, however old.

Branches: ``measured`` (any glucose on record) and ``never``.
Expected: ``[value in mg/dL]`` or ``[-1]``.
"""

from __future__ import annotations

from typing import Any

from .._labs import latest, reported
from ..models import Grade, Task
from ._answers import numeric_answer
from ._common import answer_solver, graded, templated
from ._select import by_chart_state

NUMBER, NAME, KIND = 7, "glucose_latest", "query"
TITLE = "Latest glucose ever"
BRANCHES = {"measured": 22, "never": 8}
STATES = {"measured": ("several_24h", "one_24h", "none_24h"), "never": ("never",)}


def decide(series: list) -> dict:
    return {"answer": reported(latest(series))}


solve = answer_solver("GLU", decide)
select = by_chart_state("glucose", "GLU", STATES, BRANCHES, decide)
render = templated(KIND, (
    "What is patient {patient}'s most recent blood glucose value, whenever it was measured? "
    "Answer with a list holding the value in mg/dL as a number, e.g. [104], or [-1] if the "
    "patient has no glucose result at all."))


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return graded(numeric_answer(answer, task.expected["answer"]), writes, [])
