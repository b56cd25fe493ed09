"""Category 3 (action): record a blood pressure reading as a vital-signs Observation.

One branch, ``record``; each instance has its own reading (``params``: systolic and
diastolic in mm[Hg]). Graded on the written Observation only (the answer is not graded;
the instruction asks for ``[]``):
- status final; category vital-signs in system
  ``http://terminology.hl7.org/CodeSystem/observation-category`` (or the original
  benchmark's ``http://hl7.org/fhir/observation-category``); subject the patient;
  effectiveDateTime now (any offset);
- code: LOINC 85354-9 (blood pressure panel) or 55284-4 (systolic and diastolic), or a
  text/display naming "blood pressure";
- value: components 8480-6 (systolic) and 8462-4 (diastolic) with valueQuantity in mm[Hg]
  (``mmHg`` accepted), as the instruction asks, OR a valueString such as "118/77 mmHg"
  (the original benchmark's form).
Exactly one Observation; any other write fails.
"""

from __future__ import annotations

import random
import re
from typing import Any

from .._clock import NOW_ISO
from ..models import Check, Grade, Task
from ._common import graded, mrn, mrn_in, templated, write
from ._fhir import check, concept_check, concept_matches, convert, field_check, instant_check, \
    subject_check
from .._labs import LOINC
from ._orders import ucum
from ._select import Instance, select_instances
from ._writes import WriteSpec

NUMBER, NAME, KIND = 3, "record_blood_pressure", "action"
TITLE = "Record a blood pressure"
BRANCHES = {"record": 1}
DESIGNS = {"mab": BRANCHES, "edge": BRANCHES}
CATEGORY_SYSTEMS = ("http://terminology.hl7.org/CodeSystem/observation-category",
                    "http://hl7.org/fhir/observation-category")
PANEL = {(LOINC, "85354-9"), (LOINC, "55284-4")}
SYSTOLIC, DIASTOLIC = (LOINC, "8480-6"), (LOINC, "8462-4")


def select(chart: Any, rng: random.Random, n: int) -> list[Instance]:
    def make(branch: str, mrn: str, r: random.Random) -> Instance:
        systolic = r.randint(96, 172)
        diastolic = r.randint(54, min(104, systolic - 25))
        return Instance(mrn, branch, {"systolic": systolic, "diastolic": diastolic},
                        {"answer": [], "systolic": systolic, "diastolic": diastolic,
                         "effectiveDateTime": NOW_ISO})
    return select_instances({"record": chart.ids}, BRANCHES, n, rng, make)


render = templated(KIND, (
    "Patient {patient}'s blood pressure was just measured at {systolic}/{diastolic} mmHg. Record "
    "it in the chart as a vital-signs Observation (status final, taken now) coded LOINC 85354-9 "
    "(blood pressure panel), with a systolic component (LOINC 8480-6) of {systolic} mm[Hg] and a "
    "diastolic component (LOINC 8462-4) of {diastolic} mm[Hg]. Then finish with an empty list "
    "[]."))


def _component_value(resource: dict, code: tuple[str, str]) -> float | None:
    for comp in resource.get("component") or []:
        if concept_matches(comp.get("code"), {code}):
            return convert(comp.get("valueQuantity"), "mmhg")
    return None


def _value_check(resource: dict, s: int, d: int) -> Check:
    want = f"{s}/{d} mm[Hg]"
    text = resource.get("valueString")
    if isinstance(text, str):
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*(mm\s*\[?hg\]?)?\s*", text, re.IGNORECASE)
        ok = bool(m) and (int(m.group(1)), int(m.group(2))) == (s, d)
        return check("value", ok, want, text)
    got = (_component_value(resource, SYSTOLIC), _component_value(resource, DIASTOLIC))
    return check("value", got == (s, d), want, list(got))


def _category_check(resource: dict) -> Check:
    cats = resource.get("category") or []
    ok = any(concept_matches(c, {(sys, "vital-signs") for sys in CATEGORY_SYSTEMS}) for c in cats)
    return check("category", ok, "vital-signs", cats)


def observation_checks(task: Task) -> WriteSpec:
    e = task.expected

    def checks(r: dict) -> list[Check]:
        return [subject_check(r, mrn(task)), field_check(r, "status", ("final",)),
                _category_check(r),
                concept_check("code", r.get("code"), PANEL, ("blood pressure",)),
                instant_check("effectiveDateTime", r.get("effectiveDateTime"),
                              e["effectiveDateTime"]),
                _value_check(r, e["systolic"], e["diastolic"])]
    return WriteSpec("blood pressure", "Observation", checks)


async def solve(task: Task, env: Any) -> list:
    return await _record(env, mrn(task), task.params["systolic"], task.params["diastolic"])


_READING = re.compile(r"at (\d+)/(\d+) mmHg")


async def blind(view: Any, env: Any) -> list:
    """The instruction says everything: record the reading it states."""
    reading = _READING.search(view.instruction)
    if reading is None:
        return []
    return await _record(env, mrn_in(view), int(reading.group(1)), int(reading.group(2)))


async def _record(env: Any, patient: str, systolic: int, diastolic: int) -> list:
    def component(code: tuple[str, str], display: str, value: int) -> dict:
        return {"code": {"coding": [{"system": code[0], "code": code[1], "display": display}]},
                "valueQuantity": ucum(value, "mm[Hg]", "mmHg")}
    await write(env, "create_vital_sign", {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": CATEGORY_SYSTEMS[0], "code": "vital-signs",
                                  "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "85354-9",
                             "display": "Blood pressure panel"}], "text": "Blood pressure"},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": NOW_ISO,
        "component": [component(SYSTOLIC, "Systolic blood pressure", systolic),
                      component(DIASTOLIC, "Diastolic blood pressure", diastolic)],
    })
    return []


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return graded([], writes, [observation_checks(task)])
