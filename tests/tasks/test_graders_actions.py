"""Action graders: valid alternatives pass, clinically wrong orders fail.

Every alternative is POSTed through a real server session (so it is valid FHIR as the
server sees it) and graded from the session's write log.
"""

from __future__ import annotations

from tests.tasks._util import edit, stored, task_of

UCUM = "http://unitsofmeasure.org"
DOSE = "dosageInstruction.0.doseAndRate.0.doseQuantity"
RATE = "dosageInstruction.0.doseAndRate.0.rateQuantity"
ROUTE = "dosageInstruction.0.route"
MED = "medicationCodeableConcept"
SCT, LOINC, NDC = "http://snomed.info/sct", "http://loinc.org", "http://hl7.org/fhir/sid/ndc"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def qty(value, unit, ucum=None):
    out = {"value": value, "unit": unit}
    return out | {"system": UCUM, "code": ucum} if ucum else out


def coded(system, code):
    return {"coding": [{"system": system, "code": code}]}


def _grade_variants(run_trial, task, variants, index=0):
    oracle = run_trial(task)
    resources = stored(oracle.writes)
    results = {}
    for name, change in variants.items():
        writes = list(resources)
        writes[index] = change(writes[index])
        results[name] = run_trial(task, solver=None, answer=oracle.answer, resources=writes).grade
    return results


def _expect(results, passed: bool):
    wrong = {n: g.failed for n, g in results.items() if g.passed != passed}
    assert not wrong, wrong


# -- category 5: magnesium ---------------------------------------------------------------

def _mg(task):
    return task.expected["order"]


def test_magnesium_alternatives_pass(small_suite, run_trial):
    task = task_of(small_suite, 5, "order_")
    g = _mg(task)["dose_g"]
    h = _mg(task)["hours"]
    variants = {
        "dose in mg": lambda r: edit(r, DOSE, qty(g * 1000, "mg", "mg")),
        "rate mg/h": lambda r: edit(r, RATE, qty(g * 1000 / h, "mg/h", "mg/h")),
        "rateRatio": lambda r: edit(edit(r, RATE, None), RATE.replace("Quantity", "Ratio"), {
            "numerator": qty(g, "g", "g"),
            "denominator": qty(h * 60, "min", "min")}),
        "duration": lambda r: edit(edit(r, RATE, None), "dosageInstruction.0.timing",
                                   {"repeat": {"duration": h, "durationUnit": "h"}}),
        "route text": lambda r: edit(r, ROUTE, {"text": "IV"}),
        "route coded": lambda r: edit(r, ROUTE, coded(SCT, "47625008")),
        "drug by text": lambda r: edit(r, MED, {"text": "Magnesium Sulfate 50% injection"}),
        "authored in -05:00": lambda r: edit(r, "authoredOn", "2023-11-13T05:15:00-05:00"),
        "authored Z": lambda r: edit(r, "authoredOn", "2023-11-13T10:15:00Z"),
        "dose and rate in two entries": lambda r: edit(r, "dosageInstruction.0.doseAndRate", [
            {"doseQuantity": qty(g, "g")},
            {"rateQuantity": qty(g / h, "g/h")}]),
        "NDC without dashes": lambda r: edit(r, MED, {"coding": [
            {"system": "http://hl7.org/fhir/sid/ndc", "code": "0338171540"}]}),
    }
    _expect(_grade_variants(run_trial, task, variants), True)


def test_magnesium_wrong_orders_fail(small_suite, run_trial):
    task = task_of(small_suite, 5, "order_")
    g, h = _mg(task)["dose_g"], _mg(task)["hours"]
    variants = {
        "wrong dose": lambda r: edit(r, DOSE, qty(g + 1, "g", "g")),
        "g as mg": lambda r: edit(r, DOSE, qty(g, "mg", "mg")),
        "wrong rate": lambda r: edit(r, RATE, qty(2 * g / h, "g/h", "g/h")),
        "no rate": lambda r: edit(r, RATE, None),
        "oral": lambda r: edit(r, ROUTE, {"text": "oral"}),
        "other drug": lambda r: edit(r, MED, coded(NDC, "40032-917-01")),
        "draft": lambda r: edit(r, "status", "draft"),
        "plan": lambda r: edit(r, "intent", "plan"),
    }
    _expect(_grade_variants(run_trial, task, variants), False)


# -- category 9: potassium ---------------------------------------------------------------

def test_potassium_alternatives_pass(small_suite, run_trial):
    task = task_of(small_suite, 9, "order")
    dose = task.expected["order"]["dose_meq"]
    drug = {
        "mmol": lambda r: edit(r, DOSE, qty(dose, "mmol", "mmol")),
        "rounded": lambda r: edit(r, DOSE, qty(round(dose), "mEq")),
        "route PO": lambda r: edit(r, ROUTE, {"text": "PO"}),
        "route coded": lambda r: edit(r, ROUTE, coded(SCT, "26643006")),
        "drug by text": lambda r: edit(r, MED, {"text": "potassium chloride ER tablet"}),
        "milliequivalents": lambda r: edit(r, DOSE, qty(dose, "milliequivalents")),
    }
    recheck = {
        "local code": lambda r: edit(r, "code", coded("urn:medagent:lab", "K")),
        "offset": lambda r: edit(r, "occurrenceDateTime", "2023-11-14T03:00:00-05:00"),
        "Z": lambda r: edit(r, "occurrenceDateTime", "2023-11-14T08:00:00Z"),
        "period start": lambda r: edit(edit(r, "occurrenceDateTime", None), "occurrencePeriod",
                                       {"start": "2023-11-14T08:00:00+00:00"}),
        "authored today (date)": lambda r: edit(r, "authoredOn", "2023-11-13"),
    }
    _expect(_grade_variants(run_trial, task, drug, index=0), True)
    _expect(_grade_variants(run_trial, task, recheck, index=1), True)


def test_potassium_wrong_orders_fail(small_suite, run_trial):
    task = task_of(small_suite, 9, "order")
    dose = task.expected["order"]["dose_meq"]
    drug = {
        "wrong dose": lambda r: edit(r, DOSE, qty(dose + 10, "mEq")),
        "IV": lambda r: edit(r, ROUTE, {"text": "intravenous"}),
        "grams": lambda r: edit(r, DOSE, qty(dose, "g")),
    }
    recheck = {
        "09:00": lambda r: edit(r, "occurrenceDateTime", "2023-11-14T09:00:00+00:00"),
        "a date only": lambda r: edit(r, "occurrenceDateTime", "2023-11-14"),
        "authored yesterday (date)": lambda r: edit(r, "authoredOn", "2023-11-12"),
        "no time": lambda r: edit(r, "occurrenceDateTime", None),
        "magnesium": lambda r: edit(r, "code", coded(LOINC, "19123-9")),
    }
    _expect(_grade_variants(run_trial, task, drug, index=0), False)
    _expect(_grade_variants(run_trial, task, recheck, index=1), False)
    oracle = run_trial(task)
    only_drug = run_trial(task, solver=None, answer=oracle.answer,
                          resources=stored(oracle.writes)[:1])
    assert not only_drug.grade.passed


# -- category 10: HbA1c ------------------------------------------------------------------

def test_a1c_order_alternatives_and_wrong_code(small_suite, run_trial):
    task = task_of(small_suite, 10, "order_")
    ok = {"local code": lambda r: edit(r, "code", coded("urn:medagent:lab", "A1C")),
          "loinc no display": lambda r: edit(r, "code", coded(LOINC, "4548-4"))}
    bad = {"glucose": lambda r: edit(r, "code", coded(LOINC, "2345-7")),
           "text only": lambda r: edit(r, "code", {"text": "A1C"})}
    _expect(_grade_variants(run_trial, task, ok), True)
    _expect(_grade_variants(run_trial, task, bad), False)


# -- category 3: blood pressure ----------------------------------------------------------

def test_blood_pressure_alternatives_pass_and_wrong_values_fail(small_suite, run_trial):
    task = task_of(small_suite, 3)
    s, d = task.params["systolic"], task.params["diastolic"]
    ok = {
        "valueString": lambda r: edit(edit(r, "component", None), "valueString", f"{s}/{d} mmHg"),
        "old category system": lambda r: edit(r, "category", [{"coding": [
            {"system": "http://hl7.org/fhir/observation-category", "code": "vital-signs"}]}]),
        "55284-4": lambda r: edit(r, "code", coded(LOINC, "55284-4")),
        "text code": lambda r: edit(r, "code", {"text": "Blood pressure"}),
        "mmHg unit only": lambda r: edit(r, "component.0.valueQuantity", qty(s, "mmHg")),
        "offset": lambda r: edit(r, "effectiveDateTime", "2023-11-13T11:15:00+01:00"),
    }
    bad = {
        "swapped": lambda r: edit(edit(r, "component.0.valueQuantity.value", d),
                                  "component.1.valueQuantity.value", s),
        "wrong string": lambda r: edit(edit(r, "component", None), "valueString",
                                       f"{s + 1}/{d} mmHg"),
        "preliminary": lambda r: edit(r, "status", "preliminary"),
        "laboratory": lambda r: edit(r, "category", [{"coding": [
            {"system": CATEGORY, "code": "laboratory"}]}]),
        "heart rate code": lambda r: edit(r, "code", coded(LOINC, "8867-4")),
    }
    _expect(_grade_variants(run_trial, task, ok), True)
    _expect(_grade_variants(run_trial, task, bad), False)


# -- category 8: referral ----------------------------------------------------------------

def test_referral_alternatives_pass_and_wrong_referrals_fail(small_suite, run_trial):
    task = task_of(small_suite, 8)
    sbar = task.params["sbar"]
    ok = {
        "international code": lambda r: edit(r, "code", coded(SCT, "183545006")),
        "note reformatted": lambda r: edit(r, "note", [
            {"text": "  " + sbar.upper().replace(". ", ".\n")}]),
        "note in two parts": lambda r: edit(r, "note", [{"text": "Urgent."}, {"text": sbar}]),
    }
    bad = {
        "routine": lambda r: edit(r, "priority", "routine"),
        "no note": lambda r: edit(r, "note", None),
        "half the note": lambda r: edit(r, "note", [{"text": sbar[: len(sbar) // 2]}]),
        "cardiology": lambda r: edit(r, "code", coded(SCT, "183519002")),
    }
    _expect(_grade_variants(run_trial, task, ok), True)
    _expect(_grade_variants(run_trial, task, bad), False)
