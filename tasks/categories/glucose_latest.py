"""Category 7 (query): the most recent glucose result, however old.

Branches: ``measured`` (any glucose on record) and ``never``.
Expected: ``[value in mg/dL]`` or ``[-1]``.
"""

from __future__ import annotations

from typing import Any

from .._labs import latest, reported
from ..models import Grade, Task
from ._answers import GLUCOSE_MG_DL, numeric_answer
from ._common import answer_solver, graded, guess, templated
from ._edges import voided_after
from ._select import by_chart_state, designed, weights_of

NUMBER, NAME, KIND = 7, "glucose_latest", "query"
TITLE = "Latest glucose ever"
BRANCHES = {"measured": 22, "never": 8}
STATES = {"measured": ("several_24h", "one_24h", "none_24h"), "never": ("never",)}


def decide(series: list) -> dict:
    return {"answer": reported(latest(series))}


# The edge design: voided results after the latest valid one; fewer never-tested patients.
EDGE = {
    "measured": (22, lambda s, v: bool(s)),
    "measured_after_voided": (4, lambda s, v: bool(s) and voided_after(s, v)),
    "never_cancelled": (2, lambda s, v: not s and bool(v)),
    "never": (2, lambda s, v: not s),
}
DESIGNS = {"mab": BRANCHES, "edge": weights_of(EDGE)}

solve = answer_solver("GLU", decide)
select = designed(by_chart_state("glucose", "GLU", STATES, BRANCHES, decide), "GLU", EDGE, decide)
render = templated(KIND, (
    "What is patient {patient}'s most recent blood glucose value, whenever it was measured? "
    "Answer with a list holding the value in mg/dL as a number, e.g. [104], or [-1] if the "
    "patient has no glucose result at all."), labs=True)


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return graded(numeric_answer(answer, task.expected["answer"], unit=GLUCOSE_MG_DL), writes, [])


# Without reads the best answer is the sentinel (right when there is no value) and no order.
blind = guess([-1])
