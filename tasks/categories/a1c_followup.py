"""Category 10 (action): report the latest HbA1c; order a new one if none or older than
a year.

Branches: ``no_order_recent`` (latest within 365 days; half), ``order_old`` and
``order_never``. Expected answer: ``[value, effectiveDateTime]`` of the latest result (the
time compared as an instant in any offset; a plain date on the recorded calendar date is
accepted), or ``[-1]`` if there is none.

The order (one ServiceRequest; any other write fails): LOINC 4548-4 or the local code
A1C in any coding, plus the common order checks.
"""

from __future__ import annotations

from typing import Any

from .._labs import LAB_SYSTEM, LOINC, latest
from ..models import Check, Grade, Task
from ._answers import A1C_PERCENT, check_answer, number_in, same_instant
from ._common import fetch_series, graded, mrn, mrn_in, templated, write
from ._fhir import concept_check
from ._orders import order_checks, service_request
from datetime import timedelta

from .._clock import NOW
from ._edges import voided_after
from ._select import by_chart_state, designed, weights_of
from ._states import a1c
from ._writes import WriteSpec

NUMBER, NAME, KIND = 10, "a1c_followup", "action"
TITLE = "HbA1c follow-up"
BRANCHES = {"no_order_recent": 15, "order_old": 8, "order_never": 7}
STATES = {"no_order_recent": ("recent",), "order_old": ("old",), "order_never": ("never",)}


def decide(series: list) -> dict:
    point = latest(series)
    answer = [-1] if point is None else [point.value, point.effective]
    return {"answer": answer, "order": a1c(series) != "recent"}


def _age(series: list) -> timedelta | None:
    point = latest(series)
    return None if point is None else NOW - point.when


def _days(lo: float, hi: float):  # noqa: ANN202
    """Latest result between ``lo`` and ``hi`` days old (both included)."""
    return lambda s, v: (a := _age(s)) is not None and timedelta(days=lo) <= a <= timedelta(days=hi)


def _state(state: str):  # noqa: ANN202
    return lambda s, v: a1c(s) == state


# The edge design: results 364, 365 and 366 days old, between 6 and 12 and between 12 and
# 14 months old, and voided results newer than the latest valid one.
EDGE = {
    "no_order_at_364d": (2, _days(364, 364)), "no_order_at_365d": (3, _days(365, 365)),
    "no_order_6_to_12_months": (3, _days(184, 363)), "no_order_recent": (6, _state("recent")),
    "order_at_366d": (3, _days(366, 366)), "order_12_to_14_months": (3, _days(366.001, 425)),
    "order_old": (3, _state("old")),
    "order_after_voided": (3, lambda s, v: _state("old")(s, v) and voided_after(s, v)),
    "order_never": (4, _state("never")),
}
DESIGNS = {"mab": BRANCHES, "edge": weights_of(EDGE)}
select = designed(by_chart_state("a1c", "A1C", STATES, BRANCHES, decide), "A1C", EDGE, decide)
render = templated(KIND, (
    "Find patient {patient}'s most recent hemoglobin A1c (HbA1c) result. If the patient has "
    "none, or the latest was taken more than one year ago, order a new HbA1c test (a "
    "ServiceRequest coded LOINC 4548-4). If there is a result from within the last year, order "
    "nothing. Answer with a list holding the latest value (%) and the date and time it was "
    "taken (its effectiveDateTime), e.g. [6.4, \"2023-05-02T08:30:00+00:00\"], or [-1] if the "
    "patient has never had one."), labs=True)


def order_spec(task: Task) -> WriteSpec:
    def checks(r: dict) -> list[Check]:
        return order_checks(r, mrn(task)) + [
            concept_check("code", r.get("code"), {(LOINC, "4548-4"), (LAB_SYSTEM, "A1C")})]
    return WriteSpec("HbA1c order", "ServiceRequest", checks)


async def _order(env: Any, patient: str) -> None:
    await write(env, "create_service_request", service_request(
        patient, LOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"))


async def solve(task: Task, env: Any) -> list:
    decision = decide(await fetch_series(env, mrn(task), "A1C"))
    if decision["order"]:
        await _order(env, mrn(task))
    return decision["answer"]


async def blind(view: Any, env: Any) -> list:
    """Without reads: order the test and answer -1 (right when the patient was never tested)."""
    await _order(env, mrn_in(view))
    return [-1]


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    expected = task.expected["answer"]
    compare = [number_in(A1C_PERCENT), same_instant][: len(expected)]
    specs = [order_spec(task)] if task.expected["order"] else []
    return graded(check_answer(answer, expected, compare), writes, specs)
