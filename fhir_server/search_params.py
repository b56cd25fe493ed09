"""The search parameters the server supports, per resource type (R4 names and paths).

Each parameter is ``name: (kind, paths)`` (or ``(kind, paths, targets)`` for references);
a path is dotted JSON keys, and choice elements (``effective[x]``) are listed per concrete
key. Every resource type also supports ``_id`` and ``_lastUpdated``. A reference parameter
named ``patient`` is answered from the resource's patient column (see ``indexing``).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from functools import cache

KINDS = ("token", "string", "date", "reference", "quantity")

_SUBJECT = ("reference", ("subject",))
_PATIENT_SUBJECT = ("reference", ("subject",), ("Patient",))
_ENCOUNTER = ("reference", ("encounter",), ("Encounter",))
_IDENTIFIER = ("token", ("identifier",))
_CODE = ("token", ("code",))
_CATEGORY = ("token", ("category",))
_STATUS = ("token", ("status",))
# patient, subject, encounter, identifier: shared by the clinical resources
_CLINICAL = {"patient": _PATIENT_SUBJECT, "subject": _SUBJECT, "encounter": _ENCOUNTER,
             "identifier": _IDENTIFIER}

_DEFS: dict[str, dict[str, tuple]] = {
    "Patient": {
        "identifier": _IDENTIFIER,
        "name": ("string", ("name",)),
        "family": ("string", ("name.family",)),
        "given": ("string", ("name.given",)),
        "birthdate": ("date", ("birthDate",)),
        "gender": ("token", ("gender",)),
        "active": ("token", ("active",)),
        "address": ("string", ("address",)),
        "address-city": ("string", ("address.city",)),
        "address-state": ("string", ("address.state",)),
        "address-postalcode": ("string", ("address.postalCode",)),
        "address-country": ("string", ("address.country",)),
        "telecom": ("token", ("telecom",)),
        "phone": ("token", ("telecom",)),
        "email": ("token", ("telecom",)),
        "general-practitioner": ("reference", ("generalPractitioner",)),
        "organization": ("reference", ("managingOrganization",), ("Organization",)),
    },
    "Observation": {
        **_CLINICAL,
        "code": _CODE,
        "category": _CATEGORY,
        "status": _STATUS,
        "date": ("date", ("effectiveDateTime", "effectivePeriod", "effectiveInstant")),
        "value-quantity": ("quantity", ("valueQuantity",)),
        "value-concept": ("token", ("valueCodeableConcept",)),
        "value-string": ("string", ("valueString",)),
        "performer": ("reference", ("performer",)),
        "based-on": ("reference", ("basedOn",)),
    },
    "Condition": {
        **_CLINICAL,
        "code": _CODE,
        "category": _CATEGORY,
        "clinical-status": ("token", ("clinicalStatus",)),
        "verification-status": ("token", ("verificationStatus",)),
        "onset-date": ("date", ("onsetDateTime", "onsetPeriod")),
        "recorded-date": ("date", ("recordedDate",)),
    },
    "Procedure": {
        **_CLINICAL,
        "code": _CODE,
        "category": _CATEGORY,
        "status": _STATUS,
        "date": ("date", ("performedDateTime", "performedPeriod")),
    },
    "MedicationRequest": {
        **_CLINICAL,
        "code": ("token", ("medicationCodeableConcept",)),
        "medication": ("reference", ("medicationReference",), ("Medication",)),
        "category": _CATEGORY,
        "status": _STATUS,
        "intent": ("token", ("intent",)),
        "priority": ("token", ("priority",)),
        "authoredon": ("date", ("authoredOn",)),
        "requester": ("reference", ("requester",)),
    },
    "ServiceRequest": {
        **_CLINICAL,
        "code": _CODE,
        "category": _CATEGORY,
        "status": _STATUS,
        "intent": ("token", ("intent",)),
        "priority": ("token", ("priority",)),
        "authored": ("date", ("authoredOn",)),
        "occurrence": ("date", ("occurrenceDateTime", "occurrencePeriod")),
        "requester": ("reference", ("requester",)),
    },
    "Encounter": {
        "patient": _PATIENT_SUBJECT,
        "subject": _SUBJECT,
        "identifier": _IDENTIFIER,
        "date": ("date", ("period",)),
        "class": ("token", ("class",)),
        "type": ("token", ("type",)),
        "status": _STATUS,
    },
    "DiagnosticReport": {
        **_CLINICAL,
        "code": _CODE,
        "category": _CATEGORY,
        "status": _STATUS,
        "date": ("date", ("effectiveDateTime", "effectivePeriod")),
        "result": ("reference", ("result",), ("Observation",)),
    },
    "AllergyIntolerance": {
        "patient": ("reference", ("patient",), ("Patient",)),
        "identifier": _IDENTIFIER,
        "code": _CODE,
        "clinical-status": ("token", ("clinicalStatus",)),
        "category": _CATEGORY,
    },
    "MedicationAdministration": {
        "patient": _PATIENT_SUBJECT,
        "subject": _SUBJECT,
        "identifier": _IDENTIFIER,
        "code": ("token", ("medicationCodeableConcept",)),
        "status": _STATUS,
        "effective-time": ("date", ("effectiveDateTime", "effectivePeriod")),
    },
    "MedicationStatement": {
        "patient": _PATIENT_SUBJECT,
        "subject": _SUBJECT,
        "identifier": _IDENTIFIER,
        "code": ("token", ("medicationCodeableConcept",)),
        "status": _STATUS,
    },
    "Immunization": {
        "patient": ("reference", ("patient",), ("Patient",)),
        "identifier": _IDENTIFIER,
        "vaccine-code": ("token", ("vaccineCode",)),
        "status": _STATUS,
        "date": ("date", ("occurrenceDateTime",)),
    },
    "Practitioner": {
        "identifier": _IDENTIFIER,
        "name": ("string", ("name",)),
        "family": ("string", ("name.family",)),
        "given": ("string", ("name.given",)),
    },
    "Organization": {
        "identifier": _IDENTIFIER,
        "name": ("string", ("name",)),
    },
}

# ContactPoint.system values the telecom sub-parameters are restricted to.
TELECOM_SYSTEM = {"phone": "phone", "email": "email"}


@dataclass(frozen=True, slots=True)
class SearchParam:
    resource_type: str
    name: str
    kind: str
    paths: tuple[tuple[str, ...], ...]
    targets: tuple[str, ...] | None
    key: str  # "Observation.code"
    pid: int  # stable integer id of ``key`` used in the index tables

    @property
    def is_patient(self) -> bool:
        return self.name == "patient" and self.kind == "reference"


@cache
def params_for(resource_type: str) -> dict[str, SearchParam]:
    """The indexed search parameters of ``resource_type`` (without ``_id``/``_lastUpdated``)."""
    out: dict[str, SearchParam] = {}
    for name, spec in _DEFS.get(resource_type, {}).items():
        kind, paths = spec[0], spec[1]
        targets = spec[2] if len(spec) > 2 else None
        out[name] = SearchParam(
            resource_type, name, kind, tuple(tuple(p.split(".")) for p in paths),
            targets, f"{resource_type}.{name}", param_id(f"{resource_type}.{name}"),
        )
    return out


def param_id(key: str) -> int:
    return zlib.crc32(key.encode()) & 0x7FFFFFFF


def _check_unique_ids() -> None:
    ids = [param_id(f"{t}.{n}") for t, spec in _DEFS.items() for n in spec]
    if len(ids) != len(set(ids)):  # pragma: no cover - guards future additions
        raise RuntimeError("search parameter id collision; rename a parameter key")


_check_unique_ids()


@cache
def fingerprint() -> str:
    """A short hash of the whole parameter table (names, kinds, paths, targets), recorded in
    the store: index rows written under another table would answer searches wrongly."""
    text = repr(sorted((t, sorted(spec.items())) for t, spec in _DEFS.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def documented_types() -> list[str]:
    """Resource types with type-specific search parameters."""
    return sorted(_DEFS)
