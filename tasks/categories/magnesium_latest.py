"""Category 4 (query): the most recent magnesium within the last 24 hours.

Branches: ``value`` (a result in [now − 24 h, now]) and ``none_24h``.
Expected: ``[value in mg/dL]`` or ``[-1]``; a number compared exactly (2 equals 2.0).
"""

from __future__ import annotations

from typing import Any

from .._clock import WINDOW_START
from .._labs import last_24h, latest, reported
from ..models import Grade, Task
from ._answers import MAGNESIUM_MG_DL, numeric_answer
from ._common import answer_solver, graded, guess, templated
from ._edges import edge_inside, just_outside, lowest_differs, voided_after, voided_in_window, \
    yesterday_only
from ._select import by_chart_state, designed, weights_of

NUMBER, NAME, KIND = 4, "magnesium_latest", "query"
TITLE = "Latest magnesium in 24 h"
BRANCHES = {"value": 20, "none_24h": 10}
STATES = {"value": ("lt1", "lt1.5", "le1.9", "normal"), "none_24h": ("none_24h",)}


def decide(series: list) -> dict:
    return {"answer": reported(latest(last_24h(series)))}


def _some(series: list, voided: list) -> bool:
    return bool(last_24h(series))


# The edge design: boundary instances first (each catches a wrong rule), fewer -1 answers.
EDGE = {
    "value": (12, _some),
    "value_edge_inside": (3, lambda s, v: edge_inside(s)),  # a 23 h 45 window sees nothing
    "value_yesterday": (3, lambda s, v: yesterday_only(s)),  # "today" sees nothing
    "value_lowest_differs": (3, lambda s, v: lowest_differs(s)),  # lowest/first != latest
    "value_after_voided": (3, lambda s, v: _some(s, v) and voided_after(s, v, window=True)),
    "none_just_outside": (3, lambda s, v: not _some(s, v) and just_outside(s)),  # 24 h 15 sees one
    "none_voided": (2, lambda s, v: not _some(s, v) and voided_in_window(v)),
    "none_24h": (1, lambda s, v: not _some(s, v)),
}
DESIGNS = {"mab": BRANCHES, "edge": weights_of(EDGE)}

solve = answer_solver("MG", decide, since=WINDOW_START)
select = designed(by_chart_state("magnesium", "MG", STATES, BRANCHES, decide), "MG", EDGE, decide)
render = templated(KIND, (
    "What is patient {patient}'s most recent magnesium level from the last 24 hours? Answer "
    "with a list holding the value in mg/dL as a number, e.g. [1.8], or [-1] if no magnesium "
    "was measured in the last 24 hours."), labs=True)


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return graded(numeric_answer(answer, task.expected["answer"], unit=MAGNESIUM_MG_DL), writes, [])


# Without reads the best answer is the sentinel (right when there is no value) and no order.
blind = guess([-1])
