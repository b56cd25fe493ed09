"""Category 6 (query): the mean of the glucose results of the last 24 hours.

Branches: ``several_24h``, ``one_24h`` and ``none_24h`` (none in the window, including
patients never tested). Expected: ``[mean in mg/dL]`` (tolerance 0.1) or ``[-1]``.
"""

from __future__ import annotations

from typing import Any

from .._clock import WINDOW_START
from .._labs import last_24h, mean
from ..models import Grade, Task
from ._answers import GLUCOSE_MG_DL, numeric_answer
from ._common import answer_solver, graded, guess, templated
from datetime import timedelta

from ._edges import edge_inside, just_outside, mean_24h, voided_in_window, yesterday_only
from ._select import by_chart_state, designed, weights_of

NUMBER, NAME, KIND = 6, "glucose_average", "query"
TITLE = "Mean glucose in 24 h"
TOLERANCE = 0.1
BRANCHES = {"several_24h": 12, "one_24h": 8, "none_24h": 10}
STATES = {"several_24h": ("several_24h",), "one_24h": ("one_24h",),
          "none_24h": ("none_24h", "never")}


def decide(series: list) -> dict:
    value = mean(last_24h(series))
    return {"answer": [-1 if value is None else round(value, 4)]}


def _n(series: list) -> int:
    return len(last_24h(series))


def _shorter_window_differs(series: list) -> bool:
    """A 23 h 45 window gives another mean (or none)."""
    short = mean_24h(series, WINDOW_START + timedelta(minutes=15))
    return short is None or abs(short - mean_24h(series)) > TOLERANCE


# The edge design: window edges, yesterday-evening-only results and voided results.
EDGE = {
    "several_24h": (5, lambda s, v: _n(s) >= 2),
    "several_edge_inside": (3, lambda s, v: _n(s) >= 2 and _shorter_window_differs(s)),
    "several_yesterday": (3, lambda s, v: _n(s) >= 2 and yesterday_only(s)),
    "several_after_voided": (3, lambda s, v: _n(s) >= 2 and voided_in_window(v)),
    "one_24h": (3, lambda s, v: _n(s) == 1),
    "one_just_outside": (3, lambda s, v: _n(s) == 1 and just_outside(s)),
    "one_edge_inside": (2, lambda s, v: _n(s) == 1 and edge_inside(s)),
    "one_yesterday": (2, lambda s, v: _n(s) == 1 and yesterday_only(s)),
    "none_just_outside": (3, lambda s, v: _n(s) == 0 and just_outside(s)),
    "none_voided": (2, lambda s, v: _n(s) == 0 and voided_in_window(v)),
    "none_24h": (1, lambda s, v: _n(s) == 0),
}
DESIGNS = {"mab": BRANCHES, "edge": weights_of(EDGE)}

solve = answer_solver("GLU", decide, since=WINDOW_START)
select = designed(by_chart_state("glucose", "GLU", STATES, BRANCHES, decide), "GLU", EDGE, decide)
render = templated(KIND, (
    "What is the average of patient {patient}'s blood glucose results over the last 24 "
    "hours? Answer with a list holding the mean in mg/dL as a number, e.g. [131.5], or [-1] "
    "if there is no glucose result in the last 24 hours."), labs=True)


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return graded(numeric_answer(answer, task.expected["answer"], TOLERANCE, GLUCOSE_MG_DL), writes, [])


# Without reads the best answer is the sentinel (right when there is no value) and no order.
blind = guess([-1])
