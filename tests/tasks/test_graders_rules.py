"""Codes beat words, contradictions fail, and valid answers get their credit (issue 10).

Each near-miss is written through a real server session and graded from its write log;
it must fail with a message naming the cause, and the valid alternative beside it pass.
"""

from __future__ import annotations

import asyncio

from medagent import tasks
from tests.tasks._util import edit, stored, task_of

UCUM = "http://unitsofmeasure.org"
SCT, LOINC, NDC = "http://snomed.info/sct", "http://loinc.org", "http://hl7.org/fhir/sid/ndc"
LAB = "urn:medagent:lab"
MG_NDC, KCL_NDC = "0338-1715-40", "40032-917-01"
DOSE = "dosageInstruction.0.doseAndRate.0.doseQuantity"
RATE = "dosageInstruction.0.doseAndRate.0.rateQuantity"
ROUTE = "dosageInstruction.0.route"
MED = "medicationCodeableConcept"


def qty(value, code):
    return {"value": value, "unit": code, "system": UCUM, "code": code}


def drug(ndc, display=None, text=None):
    coding = {"system": NDC, "code": ndc} | ({"display": display} if display else {})
    return {"coding": [coding]} | ({"text": text} if text else {})


def _variants(run_trial, task, variants, index=0):
    """``{name: Grade}`` of the oracle's writes with one resource changed per variant."""
    oracle = run_trial(task)
    out = {}
    for name, change in variants.items():
        writes = stored(oracle.writes)
        writes[index] = change(writes[index])
        out[name] = run_trial(task, solver=None, answer=oracle.answer, resources=writes).grade
    return out


def _fails_naming(grades, causes):
    """Every variant fails, and one failed check's message contains its cause."""
    for name, grade in grades.items():
        assert not grade.passed, name
        messages = " | ".join(c.message for c in grade.failed)
        assert causes[name] in messages, (name, messages)


def _passes(grades):
    wrong = {n: [c.message for c in g.failed] for n, g in grades.items() if not g.passed}
    assert not wrong, wrong


# -- codes beat words; negated and hedged text never matches ------------------------------

def test_drug_codes_beat_their_labels_and_hedged_text_fails(small_suite, run_trial):
    mg, k = task_of(small_suite, 5, "order_"), task_of(small_suite, 9, "order")
    _fails_naming(_variants(run_trial, mg, {
        "KCl NDC labelled magnesium": lambda r: edit(r, MED, drug(KCL_NDC, "Magnesium sulfate",
                                                                  "Magnesium sulfate")),
        "negated text": lambda r: edit(r, MED, {"text": "NOT magnesium sulfate - hold"}),
        "hedged text": lambda r: edit(r, MED, {"text": "consider magnesium sulfate?"}),
        "right NDC, text says hold": lambda r: edit(r, MED, drug(MG_NDC, text="Magnesium sulfate - hold")),
        "right NDC, text names KCl": lambda r: edit(r, MED, drug(MG_NDC, text="potassium chloride")),
        "KCl code without system": lambda r: edit(r, MED, {"coding": [
            {"code": KCL_NDC, "display": "Magnesium sulfate"}]}),
    }), {"KCl NDC labelled magnesium": f"coded {NDC}|{KCL_NDC}",
         "KCl code without system": f"coded (no system)|{KCL_NDC}",
         "negated text": "negates or hedges", "hedged text": "negates or hedges",
         "right NDC, text says hold": "negates or hedges",
         "right NDC, text names KCl": "names something else"})
    _fails_naming(_variants(run_trial, k, {
        "KCl NDC labelled magnesium": lambda r: edit(r, MED, drug(KCL_NDC, "Magnesium sulfate")),
    }), {"KCl NDC labelled magnesium": "names something else"})
    _passes(_variants(run_trial, mg, {
        "NDC only": lambda r: edit(r, MED, drug(MG_NDC)),
        "NDC without system": lambda r: edit(r, MED, {"coding": [{"code": "0338171540"}]}),
        "text only": lambda r: edit(r, MED, {"text": "Magnesium sulfate 50% injection"}),
        "RxNorm display only": lambda r: edit(r, MED, {"coding": [
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1", "display":
             "magnesium sulfate 500 MG/ML Injectable Solution"}]}),
    }))


def test_route_code_beats_route_text(small_suite, run_trial):
    mg, k = task_of(small_suite, 5, "order_"), task_of(small_suite, 9, "order")
    oral_coded_iv_text = {"coding": [{"system": SCT, "code": "26643006"}], "text": "IV"}
    _fails_naming(_variants(run_trial, mg, {"oral coded, text IV": lambda r: edit(
        r, ROUTE, oral_coded_iv_text)}), {"oral coded, text IV": f"coded {SCT}|26643006"})
    _fails_naming(_variants(run_trial, k, {
        "oral coded, text IV": lambda r: edit(r, ROUTE, oral_coded_iv_text),
        "IV or PO": lambda r: edit(r, ROUTE, {"text": "PO or IV"}),
    }), {"oral coded, text IV": "names something else", "IV or PO": "names something else"})
    _passes(_variants(run_trial, mg, {
        "v3 IV infusion": lambda r: edit(r, ROUTE, {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration",
             "code": "IVINFUS"}]}),
        "IV coded and said": lambda r: edit(r, ROUTE, {"coding": [{"system": SCT, "code": "47625008"}],
                                                       "text": "IV"})}))


def test_lab_codes_must_not_contradict(small_suite, run_trial):
    task = task_of(small_suite, 10, "order_")
    both = {"coding": [{"system": LOINC, "code": "4548-4"}, {"system": LAB, "code": "GLU"}]}
    _fails_naming(_variants(run_trial, task, {"LOINC A1c + local GLU": lambda r: edit(r, "code", both)}),
                  {"LOINC A1c + local GLU": f"coded {LAB}|GLU"})
    agree = {"coding": [{"system": LOINC, "code": "4548-4"}, {"system": LAB, "code": "A1C"}]}
    _passes(_variants(run_trial, task, {"LOINC + local A1C": lambda r: edit(r, "code", agree)}))


# -- a resource that contradicts itself fails ---------------------------------------------

def test_blood_pressure_must_not_contradict_itself(small_suite, run_trial):
    task = task_of(small_suite, 3)
    s, d = task.params["systolic"], task.params["diastolic"]
    _fails_naming(_variants(run_trial, task, {
        "valueString disagrees": lambda r: edit(r, "valueString", f"{s + 10}/{d} mmHg"),
        "two systolic components": lambda r: edit(r, "component", r["component"] + [
            edit(r["component"][0], "valueQuantity.value", s + 5)]),
        "a valueQuantity beside": lambda r: edit(r, "valueQuantity", qty(s, "mm[Hg]")),
    }), {"valueString disagrees": "contradicts itself", "two systolic components": "components says",
         "a valueQuantity beside": "valueQuantity says"})
    _passes(_variants(run_trial, task, {
        "valueString agrees": lambda r: edit(r, "valueString", f"{s}/{d} mmHg")}))


def test_every_dosage_instruction_and_the_rate_and_duration_must_agree(small_suite, run_trial):
    task = task_of(small_suite, 5, "order_")
    g, h = task.expected["order"]["dose_g"], task.expected["order"]["hours"]

    def second(dose):
        return lambda r: edit(r, "dosageInstruction", r["dosageInstruction"] + [
            {"doseAndRate": [{"doseQuantity": qty(dose, "g")}]}])

    def with_duration(hours):
        return lambda r: edit(r, "dosageInstruction.0.timing", {"repeat": {"duration": hours,
                                                                           "durationUnit": "h"}})
    _fails_naming(_variants(run_trial, task, {
        "second instruction doubles the dose": second(2 * g),
        "rate and duration disagree": with_duration(h + 1),
    }), {"second instruction doubles the dose": "dosageInstruction[1].doseAndRate[0].doseQuantity",
         "rate and duration disagree": "every one must agree"})
    _passes(_variants(run_trial, task, {"second instruction repeats the dose": second(g),
                                        "rate and duration agree": with_duration(h)}))


# -- fair to valid answers -----------------------------------------------------------------

def test_rates_and_doses_have_a_half_percent_tolerance_and_clear_messages(small_suite, run_trial):
    task = task_of(small_suite, 5, "order_")
    g, h = task.expected["order"]["dose_g"], task.expected["order"]["hours"]
    per_min = g / h * 1000 / 60  # 16.666… mg/min
    _passes(_variants(run_trial, task, {
        "16.67 mg/min": lambda r: edit(r, RATE, qty(round(per_min, 2), "mg/min")),
        "16.6667 mg/min": lambda r: edit(r, RATE, qty(round(per_min, 4), "mg/min")),
        "dose 0.2 % over": lambda r: edit(r, DOSE, qty(g * 1.002, "g")),
    }))
    grades = _variants(run_trial, task, {
        "16.5 mg/min": lambda r: edit(r, RATE, qty(16.5, "mg/min")),
        "dose 2 % over": lambda r: edit(r, DOSE, qty(g * 1.02, "g")),
    })
    _fails_naming(grades, {"16.5 mg/min": "got 16.5 mg/min = 0.99 g/h",
                           "dose 2 % over": f"= {g * 1.02:g} g"})
    for grade in grades.values():  # never "expected 1 g/h, got 1 g/h"
        for c in grade.failed:
            assert str(c.expected) not in c.message.split("got", 1)[-1], c.message


def test_a_subject_whose_reference_and_identifier_disagree_fails(small_suite, run_trial):
    task = task_of(small_suite, 10, "order_")
    other = next(t.patient for t in small_suite.tasks if t.patient and t.patient != task.patient)
    _fails_naming(_variants(run_trial, task, {"reference to another patient": lambda r: edit(
        r, "subject", {"reference": f"Patient/{other}", "identifier": {"value": task.patient}})}),
        {"reference to another patient": "disagree"})
    _passes(_variants(run_trial, task, {"both name the patient": lambda r: edit(
        r, "subject", {"reference": f"Patient/{task.patient}", "identifier": {"value": task.patient}})}))


def test_do_not_perform_and_as_needed_are_not_orders(small_suite, run_trial):
    task = task_of(small_suite, 9, "order")
    _fails_naming(_variants(run_trial, task, {
        "doNotPerform": lambda r: edit(r, "doNotPerform", True),
        "PRN": lambda r: edit(r, "dosageInstruction.0.asNeededBoolean", True)}),
        {"doNotPerform": "doNotPerform is true", "PRN": "as needed (PRN)"})
    _fails_naming(_variants(run_trial, task, {"doNotPerform": lambda r: edit(r, "doNotPerform", True)},
                            index=1), {"doNotPerform": "doNotPerform is true"})
    _passes(_variants(run_trial, task, {"doNotPerform false": lambda r: edit(r, "doNotPerform", False)}))


def test_intents_below_order_are_orders(small_suite, run_trial):
    task = task_of(small_suite, 9, "order")
    for index in (0, 1):  # the MedicationRequest and the ServiceRequest
        _passes(_variants(run_trial, task, {
            i: (lambda r, i=i: edit(r, "intent", i))
            for i in ("original-order", "reflex-order", "filler-order", "instance-order")}, index))
        _fails_naming(_variants(run_trial, task, {"proposal": lambda r: edit(r, "intent", "proposal")},
                                index), {"proposal": "intent"})


def test_a_contained_medication_carrying_the_ndc_is_that_drug(small_suite, run_trial):
    task = task_of(small_suite, 9, "order")

    def contained(ndc):
        def change(r):
            out = edit(r, MED, None)
            out["contained"] = [{"resourceType": "Medication", "id": "kcl", "code": drug(ndc)}]
            out["medicationReference"] = {"reference": "#kcl"}
            return out
        return change
    _passes(_variants(run_trial, task, {"contained KCl": contained(KCL_NDC)}))
    _fails_naming(_variants(run_trial, task, {"contained MgSO4": contained(MG_NDC)}),
                  {"contained MgSO4": f"coded {NDC}|{MG_NDC}"})


def test_a_space_between_date_and_time_is_the_same_instant(small_suite, run_trial):
    task = task_of(small_suite, 10, "no_order_recent")
    value, when = task.expected["answer"]
    spaced = when.replace("T", " ")
    assert run_trial(task, solver=None, answer=[value, spaced]).grade.passed
    later = spaced.replace(spaced[11:13], f"{(int(spaced[11:13]) + 1) % 24:02d}", 1)
    assert not run_trial(task, solver=None, answer=[value, later]).grade.passed


def test_units_must_be_the_unit_asked_for_or_converted_correctly(small_suite, run_trial):
    def verdict(task, answer):
        grade = run_trial(task, solver=None, answer=answer,
                          resources=stored(run_trial(task).writes)).grade
        return grade.passed, " | ".join(c.message for c in grade.failed)

    mg = next(t for t in small_suite.category(4) if t.expected["answer"][0] != -1)
    v = mg.expected["answer"][0]
    for good in (f"{v} mg/dL", f"{v} MG/DL", f"{v / 2.4305:.2f} mmol/L", f"{v / 1.21525:.2f} mEq/L"):
        assert verdict(mg, [good])[0], good
    ok, why = verdict(mg, [f"{v} mmol/L"])
    assert not ok and "mg/dL" in why
    ok, why = verdict(mg, [f"{v} mg"])
    assert not ok and "not in mg/dL" in why

    age = task_of(small_suite, 2)
    years = age.expected["answer"][0]
    for good in (f"{years} years", f"{years} yrs", f"{years} y"):
        assert verdict(age, [good])[0], good
    ok, why = verdict(age, [f"{years} months"])
    assert not ok and "'months'" in why

    a1c = task_of(small_suite, 10, "no_order_recent")
    value, when = a1c.expected["answer"]
    ifcc = round((value - 2.152) / 0.09148)
    assert verdict(a1c, [f"{value}%", when])[0] and verdict(a1c, [f"{ifcc} mmol/mol", when])[0]
    ok, why = verdict(a1c, [f"{value} mg/dL", when])
    assert not ok and "not in %" in why

    glu = next(t for t in small_suite.category(7) if t.expected["answer"][0] != -1)
    g = glu.expected["answer"][0]
    assert verdict(glu, [f"{g / 18.016:.2f} mmol/L"])[0]
    assert not verdict(glu, [f"{g} mmol/L"])[0]
    k = task_of(small_suite, 9, "order")
    assert verdict(k, [f"{k.expected['answer'][0]} mEq/L"])[0]
    assert not verdict(k, [f"{k.expected['answer'][0]} mg/dL"])[0]


# -- the server's refusal is an error an agent recovers from -----------------------------

def test_a_typo_in_the_mrn_gets_a_422_the_agent_can_fix(small_suite, task_service):
    task = task_of(small_suite, 9, "order")

    async def go():
        sid = task_service.create_session()
        env = tasks.ClientToolEnv(tasks.LocalFhirClient(task_service, sid))
        resource = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                    "code": {"coding": [{"system": LOINC, "code": "2823-3"}]},
                    "subject": {"reference": f"Patient/{task.patient}0"},
                    "authoredOn": tasks.NOW_ISO}
        typo = await env.call("create_service_request", {"resource": resource})
        fixed = await env.call("create_service_request", {"resource": edit(
            resource, "subject", {"reference": f"Patient/{task.patient}"})})
        log = task_service.session_log(sid)
        task_service.delete_session(sid)
        return typo, fixed, log

    typo, fixed, log = asyncio.run(go())
    assert typo.status == 422 and "ServiceRequest.subject" in str(typo.content)
    assert fixed.ok and len(log) == 1
