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
  (the original benchmark's form); when both are given they must agree, and one
  component of each kind (a valueString and components that disagree, two systolic
  components, or another value[x] such as a valueQuantity beside them fail: the
  Observation contradicts itself).
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


def _component_values(resource: dict, code: tuple[str, str]) -> list[float | None]:
    return [convert(comp.get("valueQuantity"), "mmhg") for comp in resource.get("component") or []
            if isinstance(comp, dict) and concept_matches(comp.get("code"), {code})]


def _reading(text: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*(mm\s*\[?hg\]?)?\s*", text, re.IGNORECASE)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _value_check(resource: dict, s: int, d: int) -> Check:
    """Every way the Observation states the reading must say ``s/d``: a valueString and
    components that disagree, or two systolic components, contradict each other."""
    want = f"{s}/{d} mm[Hg]"
    said: list[tuple[str, Any]] = []
    text = resource.get("valueString")
    if text is not None:
        said.append(("valueString", _reading(text) if isinstance(text, str) else None))
    others = sorted(k for k in resource if k.startswith("value") and k != "valueString")
    if others:  # e.g. a valueQuantity: one number cannot state a systolic/diastolic pair
        said.append((others[0], resource[others[0]]))
    systolic, diastolic = _component_values(resource, SYSTOLIC), _component_values(resource, DIASTOLIC)
    if systolic or diastolic or resource.get("component"):
        if len(systolic) > 1 or len(diastolic) > 1:
            said.append(("components", (systolic, diastolic)))
        else:
            said.append(("components", (systolic[0] if systolic else None,
                                        diastolic[0] if diastolic else None)))
    if not said:
        return check("value", False, want, None, "value: no components and no valueString given")
    bad = [(where, got) for where, got in said if got != (s, d)]
    if not bad:
        return check("value", True, want, said[0][1])
    where, got = bad[0]
    why = f"value: {where} says {got!r}, expected {want}"
    if where == "valueString" and got is None:
        why = f"value: valueString {text!r} is not a reading like '{s}/{d} mmHg'"
    right = [w for w, g in said if g == (s, d)]
    if right:
        why += f", while {right[0]} says {want} (the Observation contradicts itself)"
    return check("value", False, want, dict(said), why)


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
