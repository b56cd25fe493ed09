"""FHIR R4 resource builders (plain dicts; shared sub-objects are reused on purpose,
orjson serialises them the same each time and it keeps the hot path cheap)."""

from __future__ import annotations

from ._codes import (
    BP_DIA, BP_PANEL, BP_SYS, ICD10, INTERPRETATION, LABS, LOCAL_LAB, LOINC, OBS_CATEGORY,
    ROUTES, RXNORM, SNOMED, UCUM, VITALS, Dx, Med,
)
from ._time import DAY, iso, iso_offset

_CT = "http://terminology.hl7.org/CodeSystem/"


def _concept(system: str, code: str, display: str, text: str | None = None) -> dict:
    out = {"coding": [{"system": system, "code": code, "display": display}]}
    if text:
        out["text"] = text
    return out


_CATEGORY = {
    key: [_concept(OBS_CATEGORY, key, display, display)]
    for key, display in (("laboratory", "Laboratory"), ("vital-signs", "Vital Signs"))
}
_FLAGS = {
    flag: [_concept(INTERPRETATION, flag, display)]
    for flag, display in (("H", "High"), ("L", "Low"), ("N", "Normal"))
}


def _lab_parts(code: str) -> tuple[dict, dict]:
    lab = LABS[code]
    concept = {
        "coding": [
            {"system": LOCAL_LAB, "code": code, "display": lab.name},
            {"system": LOINC, "code": lab.loinc, "display": lab.loinc_display},
        ],
        "text": code,
    }

    def qty(v: float) -> dict:
        return {"value": v, "unit": lab.unit_display, "system": UCUM, "code": lab.unit}

    ref = [{"low": qty(lab.low), "high": qty(lab.high), "text": f"{lab.low}-{lab.high} {lab.unit_display}"}]
    return concept, ref


_LAB_PARTS = {code: _lab_parts(code) for code in LABS}


def lab(rid: str, mrn: str, enc: str, code: str, minute: int, issued: int, value: float | None,
        status: str = "final", offset: int | None = None) -> dict:
    spec = LABS[code]
    concept, ref = _LAB_PARTS[code]
    issued_s = iso(issued)
    out = {
        "resourceType": "Observation", "id": rid, "meta": {"lastUpdated": issued_s},
        "status": status, "category": _CATEGORY["laboratory"], "code": concept,
        "subject": {"reference": f"Patient/{mrn}"}, "encounter": {"reference": f"Encounter/{enc}"},
        "effectiveDateTime": iso_offset(minute, offset) if offset else iso(minute), "issued": issued_s,
    }
    if value is None:  # a cancelled test: no value, and why
        out["dataAbsentReason"] = _NOT_PERFORMED
        return out
    flag = "H" if value > spec.high else "L" if value < spec.low else "N"
    out["valueQuantity"] = {"value": value, "unit": spec.unit_display, "system": UCUM, "code": spec.unit}
    out["interpretation"] = _FLAGS[flag]
    out["referenceRange"] = ref
    return out


_NOT_PERFORMED = _concept(_CT + "data-absent-reason", "not-performed", "Not Performed")


_VITAL_CODES = {
    key: {"coding": [{"system": LOINC, "code": v.loinc, "display": v.display}], "text": v.display}
    for key, v in VITALS.items()
}
_BP_CODE = {"coding": [{"system": LOINC, "code": BP_PANEL[0], "display": BP_PANEL[1]}], "text": "Blood pressure"}
_BP_PART = {
    part: {"coding": [{"system": LOINC, "code": code, "display": display}]}
    for part, (code, display) in (("sys", BP_SYS), ("dia", BP_DIA))
}


def _vital_base(rid: str, mrn: str, enc: str, minute: int, code: dict) -> dict:
    when = iso(minute)
    return {
        "resourceType": "Observation", "id": rid, "meta": {"lastUpdated": when},
        "status": "final", "category": _CATEGORY["vital-signs"], "code": code,
        "subject": {"reference": f"Patient/{mrn}"}, "encounter": {"reference": f"Encounter/{enc}"},
        "effectiveDateTime": when, "issued": when,
    }


def vital(rid: str, mrn: str, enc: str, key: str, minute: int, value: float) -> dict:
    out = _vital_base(rid, mrn, enc, minute, _VITAL_CODES[key])
    unit = VITALS[key].unit
    out["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    return out


def blood_pressure(rid: str, mrn: str, enc: str, minute: int, systolic: int, diastolic: int) -> dict:
    out = _vital_base(rid, mrn, enc, minute, _BP_CODE)
    out["component"] = [
        {"code": _BP_PART["sys"], "valueQuantity": {"value": systolic, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
        {"code": _BP_PART["dia"], "valueQuantity": {"value": diastolic, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
    ]
    return out


_CLINICAL = {
    s: _concept(_CT + "condition-clinical", s, s.capitalize()) for s in ("active", "resolved")
}
_VERIFIED = _concept(_CT + "condition-ver-status", "confirmed", "Confirmed")
_COND_CATEGORY = {
    key: [_concept(_CT + "condition-category", key, display)]
    for key, display in (("problem-list-item", "Problem List Item"), ("encounter-diagnosis", "Encounter Diagnosis"))
}
_DX_CACHE: dict[Dx, dict] = {}


def _dx_concept(dx: Dx) -> dict:
    concept = _DX_CACHE.get(dx)
    if concept is None:
        concept = _DX_CACHE[dx] = {
            "coding": [
                {"system": SNOMED, "code": dx.snomed, "display": dx.snomed_display},
                {"system": ICD10, "code": dx.icd10, "display": dx.icd10_display},
            ],
            "text": dx.snomed_display,
        }
    return concept


def condition(
    rid: str, mrn: str, enc: str, dx: Dx, category: str, onset: int, recorded: int,
    abated: int | None = None,
) -> dict:
    out = {
        "resourceType": "Condition", "id": rid, "meta": {"lastUpdated": iso(recorded)},
        "clinicalStatus": _CLINICAL["active" if abated is None else "resolved"],
        "verificationStatus": _VERIFIED, "category": _COND_CATEGORY[category],
        "code": _dx_concept(dx), "subject": {"reference": f"Patient/{mrn}"},
        "encounter": {"reference": f"Encounter/{enc}"},
        "onsetDateTime": iso(onset), "recordedDate": iso(recorded),
    }
    if abated is not None:
        out["abatementDateTime"] = iso(abated)
    return out


_PROC_CACHE: dict[tuple[str, str], dict] = {}


def procedure(rid: str, mrn: str, enc: str, code: tuple[str, str], minute: int, performer: str) -> dict:
    concept = _PROC_CACHE.get(code)
    if concept is None:
        concept = _PROC_CACHE[code] = _concept(SNOMED, code[0], code[1], code[1])
    when = iso(minute)
    return {
        "resourceType": "Procedure", "id": rid, "meta": {"lastUpdated": when},
        "status": "completed", "code": concept, "subject": {"reference": f"Patient/{mrn}"},
        "encounter": {"reference": f"Encounter/{enc}"}, "performedDateTime": when,
        "performer": [{"actor": {"reference": f"Practitioner/{performer}"}}],
    }


_ORDERED = _concept(_CT + "dose-rate-type", "ordered", "Ordered")
_MED_CACHE: dict[Med, tuple[dict, dict]] = {}


def _med_parts(med: Med) -> tuple[dict, dict]:
    parts = _MED_CACHE.get(med)
    if parts is None:
        route = ROUTES[med.route]
        dosage = {
            "sequence": 1, "text": med.text,
            "timing": {"repeat": {"frequency": med.frequency, "period": 1, "periodUnit": "d"}},
            "route": _concept(SNOMED, route[0], route[1]),
            "doseAndRate": [{
                "type": _ORDERED,
                "doseQuantity": {"value": med.dose, "unit": med.dose_unit.strip("[]{}"), "system": UCUM, "code": med.dose_unit},
            }],
        }
        if "as needed" in med.text:
            dosage["asNeededBoolean"] = True
        parts = _MED_CACHE[med] = (_concept(RXNORM, med.rxnorm, med.display, med.display), dosage)
    return parts


_MR_CATEGORY = {
    key: [_concept(_CT + "medicationrequest-category", key, display)]
    for key, display in (("inpatient", "Inpatient"), ("outpatient", "Outpatient"), ("community", "Community"))
}


def medication_request(
    rid: str, mrn: str, enc: str, med: Med, minute: int, status: str, category: str,
    requester: str, days: int, now: int,
) -> dict:
    """An order valid for ``days``; the validity end is left open while it lies after ``now``."""
    concept, dosage = _med_parts(med)
    when, end = iso(minute), minute + days * DAY
    return {
        "resourceType": "MedicationRequest", "id": rid, "meta": {"lastUpdated": when},
        "status": status, "intent": "order", "category": _MR_CATEGORY[category],
        "medicationCodeableConcept": concept, "subject": {"reference": f"Patient/{mrn}"},
        "encounter": {"reference": f"Encounter/{enc}"}, "authoredOn": when,
        "requester": {"reference": f"Practitioner/{requester}"}, "dosageInstruction": [dosage],
        "dispenseRequest": {
            "validityPeriod": {"start": when, "end": iso(end)} if end <= now else {"start": when},
            "expectedSupplyDuration": {"value": days, "unit": "days", "system": UCUM, "code": "d"},
        },
    }


_ENC_CLASS = {
    "IMP": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP", "display": "inpatient encounter"},
    "AMB": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
    "EMER": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER", "display": "emergency"},
}
_ENC_TYPE = {
    "IMP": [_concept(SNOMED, "32485007", "Hospital admission", "Hospital admission")],
    "AMB": [_concept(SNOMED, "185349003", "Encounter for check up", "Office visit")],
    "EMER": [_concept(SNOMED, "50849002", "Emergency room admission", "Emergency visit")],
    "LAB": [_concept(SNOMED, "185347001", "Encounter for problem", "Laboratory visit")],
}
_ATTENDER = [_concept(_CT + "v3-ParticipationType", "ATND", "attender")]


def encounter(
    rid: str, mrn: str, kind: str, start: int, end: int | None, practitioner: str, org: str,
    reason: Dx | None,
) -> dict:
    period = {"start": iso(start)}
    if end is not None:
        period["end"] = iso(end)
    out = {
        "resourceType": "Encounter", "id": rid, "meta": {"lastUpdated": iso(end if end is not None else start)},
        "status": "finished" if end is not None else "in-progress",
        "class": _ENC_CLASS["AMB" if kind == "LAB" else kind], "type": _ENC_TYPE[kind],
        "subject": {"reference": f"Patient/{mrn}"},
        "participant": [{"type": _ATTENDER, "individual": {"reference": f"Practitioner/{practitioner}"}}],
        "period": period, "serviceProvider": {"reference": f"Organization/{org}"},
    }
    if reason is not None:
        out["reasonCode"] = [_dx_concept(reason)]
    return out
