"""Mutant solvers: the reference solutions with ONE clinical rule changed.

``Rules()`` is the correct rule set; each entry of ``MUTANTS`` changes one rule (a wrong
threshold, window, "today", the lowest value, trusting voided results or the first search
hit). The same decision code runs two ways:

- ``decide(category, rules, chart, task)``: from the cohort's data (the suite builder's
  ground-truth path), fast, for the default test;
- ``solver(rules)``: a solver that reads through the agent tools in a real server
  session and writes its orders with the reference builders, for the slow test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from medagent.tasks import NOW
from medagent.tasks._labs import LabPoint, lab_code, lab_point, voided_point
from medagent.tasks.categories import (a1c_followup, magnesium_replacement, patient_lookup,
                              potassium_replacement)
from medagent.tasks.categories._common import call_ok, mrn, resources, write
from medagent.tasks.categories._orders import medication_request, service_request, ucum

LAB_OF = {4: "MG", 5: "MG", 6: "GLU", 7: "GLU", 9: "K", 10: "A1C"}


@dataclass(frozen=True)
class Rules:
    window: timedelta = timedelta(hours=24)
    today: bool = False  # "the last 24 hours" read as the calendar day (UTC)
    lowest: bool = False  # the lowest value instead of the latest
    trust_voided: bool = False  # entered-in-error values read as results
    k_orders: Any = field(default=lambda k: k < 3.5)
    mg_edges: tuple[float, float] = (1.0, 1.5)  # 4 g below the first, 2 g below the second
    mg_inclusive: tuple[bool, bool] = (False, False)  # "<=" at that band edge instead of "<"
    a1c_max_age: timedelta = timedelta(days=365)
    first_hit: bool = False  # the first patient a search returns


MUTANTS: dict[str, tuple[Rules, tuple[int, ...]]] = {
    "K <= 3.5": (Rules(k_orders=lambda k: k <= 3.5), (9,)),
    "K < 3.6": (Rules(k_orders=lambda k: k < 3.6), (9,)),
    "Mg 4 g band <= 1.0": (Rules(mg_inclusive=(True, False)), (5,)),
    "Mg 2 g band <= 1.5": (Rules(mg_inclusive=(False, True)), (5,)),
    "HbA1c cut-off 6 months": (Rules(a1c_max_age=timedelta(days=183)), (10,)),
    "HbA1c cut-off 14 months": (Rules(a1c_max_age=timedelta(days=426)), (10,)),
    "window 23 h 45": (Rules(window=timedelta(hours=23, minutes=45)), (4, 5, 6)),
    "window 24 h 15": (Rules(window=timedelta(hours=24, minutes=15)), (4, 5, 6)),
    "today": (Rules(today=True), (4, 5, 6)),
    "lowest value": (Rules(lowest=True), (4, 5, 7, 9, 10)),
    "trust entered-in-error": (Rules(trust_voided=True), (4, 5, 6, 7, 9, 10)),
    "first search hit": (Rules(first_hit=True), (1,)),
}


# ----------------------------------------------------------------------------- decisions

def _start(rules: Rules) -> datetime:
    if rules.today:
        return NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    return NOW - rules.window


def _usable(series: list[LabPoint], voided: list[LabPoint], rules: Rules) -> list[LabPoint]:
    extra = [p for p in voided if rules.trust_voided and not math.isnan(p.value)]
    return sorted(series + extra)


def _pick(points: list[LabPoint], rules: Rules) -> LabPoint | None:
    if not points:
        return None
    return min(points, key=lambda p: p.value) if rules.lowest else max(points, key=lambda p: p.when)


def _windowed(points: list[LabPoint], rules: Rules) -> list[LabPoint]:
    start = _start(rules)
    return [p for p in points if start <= p.when <= NOW]


def _mg_dose(value: float, rules: Rules) -> tuple[int, int] | None:
    lo, mid = rules.mg_edges
    def below(edge: float, inclusive: bool) -> bool:
        return value <= edge if inclusive else value < edge

    if below(lo, rules.mg_inclusive[0]):
        return 4, 4
    if below(mid, rules.mg_inclusive[1]):
        return 2, 2
    return (1, 1) if value <= 1.9 else None


def decide_labs(category: int, rules: Rules, series: list[LabPoint], voided: list[LabPoint]) -> dict:
    """``{"answer": [...], "order": ...}`` in the shape of ``Task.expected``."""
    points = _usable(series, voided, rules)
    if category in (4, 5):
        point = _pick(_windowed(points, rules), rules)
        answer = [-1 if point is None else point.value]
        if category == 4:
            return {"answer": answer}
        dose = None if point is None else _mg_dose(point.value, rules)
        return {"answer": answer, "order": {"dose_g": dose[0], "hours": dose[1]} if dose else None}
    if category == 6:
        values = [p.value for p in _windowed(points, rules)]
        return {"answer": [round(sum(values) / len(values), 4) if values else -1]}
    point = _pick(points, rules)
    if category == 7:
        return {"answer": [-1 if point is None else point.value]}
    if category == 9:
        if point is None or not rules.k_orders(point.value):
            return {"answer": [-1 if point is None else point.value], "order": None}
        dose = round((3.5 - point.value) / 0.1 * 10, 1)
        return {"answer": [point.value],
                "order": {"dose_meq": dose, "recheck_at": potassium_replacement.RECHECK_AT}}
    if category == 10:
        answer = [-1] if point is None else [point.value, point.effective]
        return {"answer": answer, "order": point is None or NOW - point.when > rules.a1c_max_age}
    raise ValueError(category)


def decide(category: int, rules: Rules, chart: Any, task: Any) -> dict:
    """The mutant's expected-shaped decision from the cohort's data (no server)."""
    if category == 1:
        p = task.params
        hits = patient_lookup._prefix_hits(chart, p["given"], p["family"], p["birthDate"])
        if rules.first_hit:
            return {"answer": [hits[0] if hits else patient_lookup.NOT_FOUND]}
        exact = [m for m in hits if (chart.patients[m].given, chart.patients[m].family) == (p["given"], p["family"])]
        return {"answer": [exact[0] if len(exact) == 1 else patient_lookup.NOT_FOUND]}
    code = LAB_OF[category]
    return decide_labs(category, rules, chart.series(task.patient, code), chart.voided(task.patient, code))


def differs(category: int, got: dict, expected: dict) -> bool:
    """Whether a grader comparing with ``expected`` would fail ``got`` (answer or orders)."""
    if category == 6:
        a, b = got["answer"][0], expected["answer"][0]
        return (a == -1) != (b == -1) or abs(a - b) > 0.1
    return got != expected


# ----------------------------------------------------------------------------- solvers

async def _fetch(env: Any, patient: str, code: str) -> tuple[list[LabPoint], list[LabPoint]]:
    result = await call_ok(env, "search_lab_observations", {"patient": patient, "code": code, "count": 1000})
    found = [r for r in resources(result) if lab_code(r) == code]
    series = sorted(p for r in found if (p := lab_point(r)) is not None)
    voided = sorted(p for r in found if (p := voided_point(r)) is not None)
    return series, voided


async def _write_orders(category: int, env: Any, patient: str, decision: dict) -> None:
    order = decision.get("order")
    if not order:
        return
    if category == 5:
        await write(env, "create_medication_request", medication_request(
            patient, magnesium_replacement.DRUG_NDC, "Magnesium sulfate in water for injection",
            ("47625008", "Intravenous route"), dose=ucum(order["dose_g"], "g"),
            rate=ucum(order["dose_g"] / order["hours"], "g/h")))
    elif category == 9:
        await write(env, "create_medication_request", medication_request(
            patient, potassium_replacement.DRUG_NDC, "Potassium chloride oral",
            ("26643006", "Oral route"), dose=ucum(order["dose_meq"], "meq", "mEq")))
        await write(env, "create_service_request", service_request(
            patient, "http://loinc.org", "2823-3", "Potassium [Moles/volume] in Serum or Plasma",
            occurrenceDateTime=order["recheck_at"]))
    elif category == 10:
        await a1c_followup._order(env, patient)


def solver(rules: Rules):  # noqa: ANN201
    """A solver (``solve(task, env)``) deciding by ``rules`` from what the tools return."""
    async def solve(task: Any, env: Any) -> list:
        if task.category == 1:
            p = task.params
            result = await call_ok(env, "search_patients", {
                "given": p["given"], "family": p["family"], "birthdate": p["birthDate"]})
            hits = resources(result)
            if rules.first_hit:
                return [hits[0]["id"] if hits else patient_lookup.NOT_FOUND]
            return await patient_lookup.solve(task, env)
        series, voided = await _fetch(env, mrn(task), LAB_OF[task.category])
        decision = decide_labs(task.category, rules, series, voided)
        await _write_orders(task.category, env, mrn(task), decision)
        return decision["answer"]
    return solve


CORRECT = Rules()
__all__ = ["CORRECT", "MUTANTS", "Rules", "decide", "differs", "solver"]
