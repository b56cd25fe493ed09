"""Chart states of the lab-based categories, named like the cohort's scenario states
(``patients/scenarios.py``) and computed here from the lab series themselves.

Selection groups patients by these computed states, so a task's branch always follows
the data it will be graded on; a test compares them with the manifest's scenario lists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from .._chart import Chart
from .._clock import NOW
from .._labs import LabPoint, last_24h, latest

A1C_MAX_AGE = timedelta(days=365)
K_LOW = 3.5  # mmol/L: below it potassium is "low" (and replaced)


def magnesium(series: list[LabPoint]) -> str:
    point = latest(last_24h(series))
    if point is None:
        return "none_24h"
    v = point.value
    return "lt1" if v < 1.0 else "lt1.5" if v < 1.5 else "le1.9" if v <= 1.9 else "normal"


def glucose(series: list[LabPoint]) -> str:
    n = len(last_24h(series))
    if not series:
        return "never"
    return "none_24h" if n == 0 else "one_24h" if n == 1 else "several_24h"


def potassium(series: list[LabPoint]) -> str:
    point = latest(series)
    return "never" if point is None else "low" if point.value < K_LOW else "normal"


def a1c(series: list[LabPoint]) -> str:
    point = latest(series)
    if point is None:
        return "never"
    return "recent" if NOW - point.when <= A1C_MAX_AGE else "old"


STATES: dict[str, tuple[str, Callable[[list[LabPoint]], str]]] = {
    "magnesium": ("MG", magnesium), "glucose": ("GLU", glucose),
    "potassium": ("K", potassium), "a1c": ("A1C", a1c),
}


def by_state(chart: Chart, axis: str) -> dict[str, list[str]]:
    """``{state: [MRN, …]}`` for one axis, over every patient of the chart."""
    code, classify = STATES[axis]
    out: dict[str, list[str]] = {}
    for mrn in chart.ids:
        out.setdefault(classify(chart.series(mrn, code)), []).append(mrn)
    return out


def pools_for(chart: Chart, axis: str,
              branches: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Pools of a category whose branches are unions of chart states."""
    states = by_state(chart, axis)
    return {branch: sorted(m for s in wanted for m in states.get(s, []))
            for branch, wanted in branches.items()}
