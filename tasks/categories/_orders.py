"""Orders shared by the action categories: the common checks, the dosage and drug
readers, and the builders the reference solutions use.

Every order must be ``status`` active, ``intent`` order (or a code below it in the FHIR
hierarchy: original-order, reflex-order, filler-order, instance-order), for the task's
patient, authored now (``authoredOn`` = 2023-11-13T10:15:00+00:00 in any offset, or the
date 2023-11-13), and not negated: ``doNotPerform`` true or an as-needed (PRN)
``dosageInstruction`` fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._clock import NOW_ISO
from ..models import Check
from ._fhir import NDC, SNOMED, check, field_check, instant_check, subject_check

_V3_ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
_V2_ROUTE = "http://terminology.hl7.org/CodeSystem/v2-0162"
_IV_WORDS = ("iv", "intravenous", "intravenously", "intravenous route")
_ORAL_WORDS = ("oral", "orally", "po", "by mouth", "oral route")
_OTHER_ROUTES = ("im", "intramuscular", "subcutaneous", "subcut", "sc", "sq", "rectal",
                 "topical", "sublingual", "inhaled", "inhalation", "intrathecal")
# (accepted codes, naming words, words of a contradicting route)
ROUTE_IV = ({(SNOMED, "47625008"), (_V3_ROUTE, "IVINJ"), (_V3_ROUTE, "IVINFUS"),
             (_V2_ROUTE, "IV")}, _IV_WORDS, _ORAL_WORDS + _OTHER_ROUTES)
ROUTE_ORAL = ({(SNOMED, "26643006"), (_V3_ROUTE, "PO"), (_V2_ROUTE, "PO")},
              _ORAL_WORDS, _IV_WORDS + _OTHER_ROUTES)
ORDER_INTENTS = ("order", "original-order", "reflex-order", "filler-order", "instance-order")

ACTION_CONTEXT = (
    "Orders you place take effect now: status 'active', intent 'order', authoredOn the "
    "current time, subject the patient ({'reference': 'Patient/<MRN>'}). Give quantities "
    "in UCUM units and routes as CodeableConcepts. Place only the orders the task calls for."
)


def order_checks(resource: dict, mrn: str) -> list[Check]:
    checks = [
        subject_check(resource, mrn),
        field_check(resource, "status", ("active",)),
        field_check(resource, "intent", ORDER_INTENTS),
        instant_check("authoredOn", resource.get("authoredOn"), NOW_ISO, date_ok=True),
    ]
    if resource.get("doNotPerform") is True:  # an order NOT to do it
        checks.append(check("doNotPerform", False, False, True,
                            "doNotPerform is true: this orders the opposite"))
    as_needed = [i for i, di in enumerate(resource.get("dosageInstruction") or [])
                 if isinstance(di, dict) and (di.get("asNeededBoolean") is True
                                              or "asNeededCodeableConcept" in di)]
    if as_needed:
        checks.append(check("asNeeded", False, False, True,
                            f"dosageInstruction[{as_needed[0]}] is as needed (PRN): not an "
                            "order to give it now"))
    return checks


def ucum(value: float, code: str, unit: str | None = None) -> dict:
    """A UCUM Quantity (``unit`` is the human-readable form, the code when not given)."""
    return {"value": value, "unit": unit or code, "system": "http://unitsofmeasure.org",
            "code": code}


def _order(resource_type: str, mrn: str, **fields: Any) -> dict:
    return {"resourceType": resource_type, "status": "active", "intent": "order",
            "subject": {"reference": f"Patient/{mrn}"}, "authoredOn": NOW_ISO, **fields}


def service_request(mrn: str, system: str, code: str, display: str, **fields: Any) -> dict:
    concept = {"coding": [{"system": system, "code": code, "display": display}], "text": display}
    return _order("ServiceRequest", mrn, code=concept, **fields)


def medication_request(mrn: str, ndc: str, display: str, route: tuple[str, str],
                       dose: dict, rate: dict | None = None) -> dict:
    dose_rate: dict = {"doseQuantity": dose}
    if rate is not None:
        dose_rate["rateQuantity"] = rate
    route_code, route_text = route
    return _order(
        "MedicationRequest", mrn,
        medicationCodeableConcept={
            "coding": [{"system": NDC, "code": ndc, "display": display}],
            "text": display},
        dosageInstruction=[{
            "route": {"coding": [{"system": SNOMED, "code": route_code, "display": route_text}],
                      "text": route_text},
            "doseAndRate": [dose_rate]}],
    )


@dataclass(slots=True)
class Dosage:
    """Every route, dose, rate and infusion duration an order gives, over all its
    ``dosageInstruction`` and ``doseAndRate`` entries, each with where it was found: a
    second instruction that changes the dose is seen (and must agree), not ignored."""

    routes: list[tuple[str, Any]] = field(default_factory=list)
    doses: list[tuple[str, Any]] = field(default_factory=list)
    rates: list[tuple[str, dict]] = field(default_factory=list)
    durations: list[tuple[str, dict]] = field(default_factory=list)


def dosage(resource: dict) -> Dosage:
    out = Dosage()
    instructions = resource.get("dosageInstruction") or []
    for i, di in enumerate(instructions if isinstance(instructions, list) else []):
        if not isinstance(di, dict):
            continue
        where = f"dosageInstruction[{i}]"
        if "route" in di:
            out.routes.append((where, di["route"]))
        repeat = (di.get("timing") or {}).get("repeat") or {}
        if isinstance(repeat, dict) and repeat.get("duration") is not None:
            out.durations.append((f"{where}.timing.repeat", repeat))
        for j, dr in enumerate(di.get("doseAndRate") or []):
            if not isinstance(dr, dict):
                continue
            at = f"{where}.doseAndRate[{j}]"
            for key in ("doseQuantity", "doseRange"):
                if key in dr:
                    out.doses.append((f"{at}.{key}", dr[key]))
            if any(k in dr for k in ("rateQuantity", "rateRatio", "rateRange")):
                out.rates.append((at, dr))
    return out


def medication_concept(resource: dict) -> Any:
    """The drug of a MedicationRequest: ``medicationCodeableConcept``, or the ``code`` of
    the contained Medication a ``medicationReference`` ("#id") points to."""
    if "medicationCodeableConcept" in resource:
        return resource["medicationCodeableConcept"]
    ref = (resource.get("medicationReference") or {}).get("reference")
    if isinstance(ref, str) and ref.startswith("#"):
        for c in resource.get("contained") or []:
            if isinstance(c, dict) and c.get("resourceType") == "Medication" \
                    and c.get("id") == ref[1:]:
                return c.get("code")
    return None


def all_agree(name: str, found: list[tuple[str, Any]], judge: Any, missing: str) -> Check:
    """One check over every place an order states something: each must pass ``judge``
    (``(where, value) -> Check``); none given fails with ``missing``."""
    if not found:
        return check(name, False, "given", None, f"{name}: {missing}")
    results = [(where, judge(where, value)) for where, value in found]
    bad = [(where, r) for where, r in results if not r.passed]
    if not bad:
        return results[0][1]
    where, first = bad[0]
    extra = f" ({len(found)} given; every one must agree)" if len(found) > 1 else ""
    return first.model_copy(update={"message": f"{where}: {first.message}{extra}"})
