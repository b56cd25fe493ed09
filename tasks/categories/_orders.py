"""Orders shared by the action categories: the common checks and the builders the
reference solutions use.

Every order must be ``status`` active, ``intent`` order, for the task's patient, authored
now (``authoredOn`` = 2023-11-13T10:15:00+00:00 in any offset, or the date 2023-11-13).
"""

from __future__ import annotations

from typing import Any

from .._clock import NOW_ISO
from ..models import Check
from ._fhir import NDC, SNOMED, field_check, instant_check, subject_check

_V3_ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
ROUTE_IV = ({(SNOMED, "47625008"), (_V3_ROUTE, "IVINJ")},
            ("iv", "intravenous", "intravenously", "intravenous route"))
ROUTE_ORAL = ({(SNOMED, "26643006"), (_V3_ROUTE, "PO")},
              ("oral", "orally", "po", "by mouth", "oral route"))

ACTION_CONTEXT = (
    "Orders you place take effect now: status 'active', intent 'order', authoredOn the "
    "current time, subject the patient ({'reference': 'Patient/<MRN>'}). Give quantities "
    "in UCUM units and routes as CodeableConcepts. Place only the orders the task calls for."
)


def order_checks(resource: dict, mrn: str) -> list[Check]:
    return [
        subject_check(resource, mrn),
        field_check(resource, "status", ("active",)),
        field_check(resource, "intent", ("order",)),
        instant_check("authoredOn", resource.get("authoredOn"), NOW_ISO, date_ok=True),
    ]


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


def dosage(resource: dict) -> tuple[dict, dict]:
    """The first dosageInstruction and its doseAndRate entries merged into one dict (the
    first dose and the first rate given, also when they sit in separate entries)."""
    instructions = resource.get("dosageInstruction") or [{}]
    first = instructions[0] if isinstance(instructions[0], dict) else {}
    merged: dict = {}
    for entry in first.get("doseAndRate") or []:
        if isinstance(entry, dict):
            for key, value in entry.items():
                merged.setdefault(key, value)
    return first, merged
