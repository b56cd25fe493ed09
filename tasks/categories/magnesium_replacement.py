"""Category 5 (action): check magnesium; replace it intravenously when low.

Protocol (latest magnesium within 24 h): < 1.0 mg/dL → 4 g over 4 h; [1.0, 1.5) → 2 g over
2 h; [1.5, 1.9] → 1 g over 1 h; > 1.9 or none within 24 h → no order.
Branches: ``order_4g``, ``order_2g``, ``order_1g`` (half of the instances) and
``no_order_normal``, ``no_order_none_24h``. Every branch asks for the magnesium value
(``[-1]`` when none), so doing nothing earns nothing.

The order (one MedicationRequest; any other write fails): magnesium sulfate by NDC
0338-1715-40 (in ``medicationCodeableConcept`` or a contained Medication's ``code``), or,
with no NDC coded, a display / text naming "magnesium sulfate" (a text naming potassium
or another magnesium salt, or a negated/hedged text, fails); route intravenous (SNOMED
47625008, or with no route code, text IV/intravenous); doseQuantity equal to the protocol
dose in any mass unit (4 g = 4000 mg) within 0.5 %; the infusion time given as a rate
(``rateQuantity`` g/h, mg/h, mg/min, or ``rateRatio`` mass/time) equal to dose/duration
within 0.5 %, or as ``timing.repeat.duration`` in a time unit. Every dosageInstruction /
doseAndRate entry that states a route, dose, rate or duration must agree (a second
instruction changing the dose, or a rate and a duration that disagree, fail). Plus the
common order checks (active, an order intent, patient, authored now).
"""

from __future__ import annotations

from typing import Any

from .._clock import WINDOW_START
from .._labs import last_24h, latest, reported
from ..models import Check, Grade, Task
from ._answers import MAGNESIUM_MG_DL, numeric_answer
from ._common import fetch_series, graded, guess, mrn, templated, write
from ._fhir import NDC, concept_check, convert, quantity_check, rate_g_per_h
from ._orders import (ROUTE_IV, Dosage, all_agree, dosage, medication_concept,
                      medication_request, order_checks, ucum)
from ._edges import just_outside, voided_after, voided_in_window
from ._select import by_chart_state, designed, weights_of
from ._states import magnesium
from ._writes import WriteSpec

NUMBER, NAME, KIND = 5, "magnesium_replacement", "action"
TITLE = "Magnesium replacement"
DRUG_NDC, DRUG = "0338-1715-40", "magnesium sulfate"
DRUG_NAMES = (DRUG, "magnesium sulphate", "mgso4")
OTHER_DRUGS = ("potassium", "kcl", "magnesium oxide", "magnesium chloride", "magnesium citrate")
DOSES = {"lt1": (4, 4), "lt1.5": (2, 2), "le1.9": (1, 1)}  # state → (grams, hours)
BRANCHES = {"order_4g": 5, "order_2g": 5, "order_1g": 5, "no_order_normal": 8,
            "no_order_none_24h": 7}
STATES = {"order_4g": ("lt1",), "order_2g": ("lt1.5",), "order_1g": ("le1.9",),
          "no_order_normal": ("normal",), "no_order_none_24h": ("none_24h",)}


def decide(series: list) -> dict:
    """Expected answer and order from the magnesium series (ground truth and oracle alike)."""
    point = latest(last_24h(series))
    dose = DOSES.get(magnesium(series))
    order = {"dose_g": dose[0], "hours": dose[1]} if dose else None
    return {"answer": reported(point), "order": order}


def _value(series: list) -> float | None:
    point = latest(last_24h(series))
    return None if point is None else point.value


def _at(value: float):  # noqa: ANN202
    return lambda s, v: _value(s) == value


def _state(state: str):  # noqa: ANN202
    return lambda s, v: magnesium(s) == state


# The edge design: values on each band's edges (0.9, 1.0, 1.4, 1.5, 1.9, 2.0), results just
# outside the window and voided results; fewer "no value" answers.
EDGE = {
    "order_4g_at_0.9": (3, _at(0.9)), "order_4g": (2, _state("lt1")),
    "order_2g_at_1.0": (3, _at(1.0)), "order_2g_at_1.4": (2, _at(1.4)),
    "order_1g_at_1.5": (3, _at(1.5)), "order_1g_at_1.9": (3, _at(1.9)), "order_1g": (2, _state("le1.9")),
    "no_order_at_2.0": (3, _at(2.0)), "no_order_normal": (1, _state("normal")),
    "no_order_after_voided": (2, lambda s, v: _state("normal")(s, v) and voided_after(s, v, window=True)),
    "no_order_just_outside": (3, lambda s, v: _value(s) is None and just_outside(s)),
    "no_order_voided": (2, lambda s, v: _value(s) is None and voided_in_window(v)),
    "no_order_none_24h": (1, _state("none_24h")),
}
DESIGNS = {"mab": BRANCHES, "edge": weights_of(EDGE)}
select = designed(by_chart_state("magnesium", "MG", STATES, BRANCHES, decide), "MG", EDGE, decide)
render = templated(KIND, (
    "Check patient {patient}'s most recent magnesium level from the last 24 hours. If it is "
    f"low, order intravenous magnesium sulfate (NDC {DRUG_NDC}) by this protocol: below 1.0 "
    "mg/dL give 4 g over 4 hours; from 1.0 to below 1.5 mg/dL give 2 g over 2 hours; from 1.5 "
    "to 1.9 mg/dL give 1 g over 1 hour. Give the dose as doseQuantity and the infusion rate as "
    "rateQuantity (g/h). If the level is above 1.9 mg/dL, or no magnesium was measured in the "
    "last 24 hours, order nothing. Answer with a list holding the magnesium value (mg/dL) you "
    "based the decision on, e.g. [1.3], or [-1] if there was none in the last 24 hours."),
    labs=True)


def _timing_check(d: Dosage, grams: float, hours: float) -> Check:
    """Every rate and every infusion duration given must say ``grams`` over ``hours``."""
    found = [(w, ("rate", dr)) for w, dr in d.rates] + [(w, ("duration", rep))
                                                        for w, rep in d.durations]

    def judge(where: str, item: tuple[str, dict]) -> Check:
        kind, value = item
        if kind == "rate":
            raw = value.get("rateQuantity") or value.get("rateRatio") or value.get("rateRange")
            return quantity_check("rate", rate_g_per_h(value), grams / hours, "g/h", raw)
        duration = convert({"value": value.get("duration"), "unit": value.get("durationUnit")},
                           "time_h")
        return quantity_check("rate", duration, hours, "h (infusion duration)",
                              {"value": value.get("duration"), "unit": value.get("durationUnit")})
    return all_agree("rate", found, judge,
                     "no infusion rate (rateQuantity/rateRatio) or timing.repeat.duration given")


def order_spec(task: Task) -> WriteSpec:
    grams, hours = task.expected["order"]["dose_g"], task.expected["order"]["hours"]

    def checks(r: dict) -> list[Check]:
        d = dosage(r)
        return order_checks(r, mrn(task)) + [
            concept_check("medication", medication_concept(r), {(NDC, DRUG_NDC)}, DRUG_NAMES,
                          OTHER_DRUGS),
            all_agree("route", d.routes, lambda w, v: concept_check("route", v, *ROUTE_IV),
                      "no route given"),
            all_agree("dose", d.doses, lambda w, q: quantity_check(
                "dose", convert(q, "mass_g"), grams, "g", q), "no doseQuantity given"),
            _timing_check(d, grams, hours),
        ]
    return WriteSpec("magnesium order", "MedicationRequest", checks)


async def solve(task: Task, env: Any) -> list:
    decision = decide(await fetch_series(env, mrn(task), "MG", since=WINDOW_START))
    if (order := decision["order"]) is not None:
        await write(env, "create_medication_request", medication_request(
            mrn(task), DRUG_NDC, "Magnesium sulfate in water for injection",
            ("47625008", "Intravenous route"),
            dose=ucum(order["dose_g"], "g"), rate=ucum(order["dose_g"] / order["hours"], "g/h")))
    return decision["answer"]


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    specs = [order_spec(task)] if task.expected["order"] else []
    return graded(numeric_answer(answer, task.expected["answer"], unit=MAGNESIUM_MG_DL), writes, specs)


# Without reads the best answer is the sentinel (right when there is no value) and no order.
blind = guess([-1])
