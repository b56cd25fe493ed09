"""Category 9 (action): check potassium; replace it orally when low and recheck tomorrow.

Rule (latest potassium ever): below 3.5 mmol/L → oral potassium chloride, dose in mEq =
(3.5 − K) / 0.1 × 10, AND a repeat serum potassium for tomorrow 08:00
(2023-11-14T08:00:00+00:00); otherwise (≥ 3.5, or never measured) no order.
Branches: ``order`` (half), ``no_order_normal``, ``no_order_never``. Every branch asks for
the potassium value (``[-1]`` when none).

The two orders (any other write fails):
- MedicationRequest: potassium chloride by NDC 40032-917-01 (in
  ``medicationCodeableConcept`` or a contained Medication), or, with no NDC coded, a
  display / text naming "potassium chloride" or "KCl" (a text naming magnesium or another
  potassium salt, or a negated/hedged text, fails); route oral (SNOMED 26643006, or with
  no route code, text oral/PO/by mouth); doseQuantity in mEq (mmol accepted: 1 mmol KCl =
  1 mEq) within 0.5 mEq of the formula; every dosageInstruction must agree; common order
  checks.
- ServiceRequest: LOINC 2823-3 or the local code K in any coding; occurrenceDateTime (or
  occurrencePeriod.start) the same instant as 2023-11-14T08:00:00+00:00; common order
  checks.
"""

from __future__ import annotations

from typing import Any

from .._labs import LAB_SYSTEM, LOINC, latest, reported
from ..models import Check, Grade, Task
from ._answers import POTASSIUM_MMOL_L, numeric_answer
from ._common import fetch_series, graded, guess, mrn, templated, write
from ._fhir import NDC, concept_check, convert, occurrence_check, quantity_check
from ._orders import (ROUTE_ORAL, all_agree, dosage, medication_concept, medication_request,
                      order_checks, service_request, ucum)
from ._edges import voided_after
from ._select import by_chart_state, designed, weights_of
from ._states import K_LOW, potassium
from ._writes import WriteSpec

NUMBER, NAME, KIND = 9, "potassium_replacement", "action"
TITLE = "Potassium replacement"
DRUG_NDC = "40032-917-01"
DRUG_NAMES = ("potassium chloride", "kcl")
OTHER_DRUGS = ("magnesium", "mgso4", "potassium phosphate", "potassium citrate",
               "potassium bicarbonate", "potassium acetate", "potassium gluconate")
RECHECK_AT = "2023-11-14T08:00:00+00:00"
THRESHOLD = K_LOW
DOSE_TOLERANCE = 0.5
BRANCHES = {"order": 15, "no_order_normal": 10, "no_order_never": 5}
STATES = {"order": ("low",), "no_order_normal": ("normal",), "no_order_never": ("never",)}


def decide(series: list) -> dict:
    point = latest(series)
    if potassium(series) != "low":
        return {"answer": reported(point), "order": None}
    dose = round((THRESHOLD - point.value) / 0.1 * 10, 1)
    return {"answer": [point.value], "order": {"dose_meq": dose, "recheck_at": RECHECK_AT}}


def _at(value: float):  # noqa: ANN202
    return lambda s, v: bool(s) and latest(s).value == value


def _state(state: str):  # noqa: ANN202
    return lambda s, v: potassium(s) == state


# The edge design: potassium on 3.4, 3.5 and 3.6, older lower/higher results and voided
# results after the latest valid one; fewer never-tested patients.
EDGE = {
    "order_at_3.4": (3, _at(3.4)), "order": (9, _state("low")),
    "order_after_voided": (2, lambda s, v: _state("low")(s, v) and voided_after(s, v)),
    "no_order_at_3.5": (4, _at(3.5)), "no_order_at_3.6": (2, _at(3.6)),
    "no_order_normal": (5, _state("normal")),
    "no_order_after_voided": (3, lambda s, v: _state("normal")(s, v) and voided_after(s, v)),
    "no_order_never": (2, _state("never")),
}
DESIGNS = {"mab": BRANCHES, "edge": weights_of(EDGE)}
select = designed(by_chart_state("potassium", "K", STATES, BRANCHES, decide), "K", EDGE, decide)
render = templated(KIND, (
    "Check patient {patient}'s most recent potassium level. If it is below 3.5 mmol/L, order "
    f"oral potassium chloride (NDC {DRUG_NDC}) with a doseQuantity in mEq of (3.5 − K) / 0.1 × "
    "10, i.e. 10 mEq for every 0.1 mmol/L below 3.5, rounded to the nearest whole mEq, and "
    "also order a repeat serum potassium test (LOINC 2823-3) for tomorrow morning at 08:00 UTC "
    "(as the order's occurrenceDateTime). If it is 3.5 mmol/L or higher, or the patient has "
    "never had potassium measured, order nothing. Answer with a list holding the potassium "
    "value (mmol/L) you based the decision on, e.g. [3.1], or [-1] if there is none."),
    labs=True)


def order_specs(task: Task) -> list[WriteSpec]:
    order = task.expected["order"]

    def drug(r: dict) -> list[Check]:
        d = dosage(r)
        return order_checks(r, mrn(task)) + [
            concept_check("medication", medication_concept(r), {(NDC, DRUG_NDC)}, DRUG_NAMES,
                          OTHER_DRUGS),
            all_agree("route", d.routes, lambda w, v: concept_check("route", v, *ROUTE_ORAL),
                      "no route given"),
            all_agree("dose", d.doses, lambda w, q: quantity_check(
                "dose", convert(q, "meq"), order["dose_meq"], "mEq", q,
                abs_tol=DOSE_TOLERANCE), "no doseQuantity given"),
        ]

    def recheck(r: dict) -> list[Check]:
        return order_checks(r, mrn(task)) + [
            concept_check("code", r.get("code"), {(LOINC, "2823-3"), (LAB_SYSTEM, "K")}),
            occurrence_check(r, order["recheck_at"]),
        ]
    return [WriteSpec("potassium order", "MedicationRequest", drug),
            WriteSpec("repeat potassium", "ServiceRequest", recheck)]


async def solve(task: Task, env: Any) -> list:
    decision = decide(await fetch_series(env, mrn(task), "K"))
    if (order := decision["order"]) is not None:
        await write(env, "create_medication_request", medication_request(
            mrn(task), DRUG_NDC, "Potassium chloride oral", ("26643006", "Oral route"),
            dose=ucum(order["dose_meq"], "meq", "mEq")))
        await write(env, "create_service_request", service_request(
            mrn(task), LOINC, "2823-3", "Potassium [Moles/volume] in Serum or Plasma",
            occurrenceDateTime=order["recheck_at"]))
    return decision["answer"]


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    specs = order_specs(task) if task.expected["order"] else []
    return graded(numeric_answer(answer, task.expected["answer"], unit=POTASSIUM_MMOL_L), writes, specs)


# Without reads the best answer is the sentinel (right when there is no value) and no order.
blind = guess([-1])
