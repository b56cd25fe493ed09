"""Parsing and validating request bodies (FHIR R4B models from fhir.resources).

The model is only a gate: what gets stored is the client's own JSON (parsed by orjson,
re-serialised with sorted keys), never the model's re-serialisation, so values such as
decimals and date-times keep the client's spelling.

FHIR version: the server is an R4 (4.0.1) server. fhir.resources has no R4 models, so
bodies are validated with the R4B (4.3.0) ones, which keep R4's structures except for the
types R4B added (SubscriptionTopic…: not R4, not served), dropped (MedicinalProduct…: no
model, not served) or redesigned (:data:`RESTRUCTURED_IN_R4B`: not served).
:func:`served_types` is the list the CapabilityStatement declares.
"""

from __future__ import annotations

import re
from functools import cache

import orjson
from pydantic import BaseModel, ValidationError

from .errors import FhirError

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# Deeper JSON is refused with 400 before validation (the models recurse per level).
MAX_JSON_DEPTH = 100
# The resource types of FHIR R4 (4.0.1).
R4_TYPES = frozenset({
    "Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment",
    "AppointmentResponse", "AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct",
    "BodyStructure", "Bundle", "CapabilityStatement", "CarePlan", "CareTeam", "CatalogEntry",
    "ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse", "ClinicalImpression",
    "CodeSystem", "Communication", "CommunicationRequest", "CompartmentDefinition",
    "Composition", "ConceptMap", "Condition", "Consent", "Contract", "Coverage",
    "CoverageEligibilityRequest", "CoverageEligibilityResponse", "DetectedIssue", "Device",
    "DeviceDefinition", "DeviceMetric", "DeviceRequest", "DeviceUseStatement",
    "DiagnosticReport", "DocumentManifest", "DocumentReference", "EffectEvidenceSynthesis",
    "Encounter", "Endpoint", "EnrollmentRequest", "EnrollmentResponse", "EpisodeOfCare",
    "EventDefinition", "Evidence", "EvidenceVariable", "ExampleScenario",
    "ExplanationOfBenefit", "FamilyMemberHistory", "Flag", "Goal", "GraphDefinition", "Group",
    "GuidanceResponse", "HealthcareService", "ImagingStudy", "Immunization",
    "ImmunizationEvaluation", "ImmunizationRecommendation", "ImplementationGuide",
    "InsurancePlan", "Invoice", "Library", "Linkage", "List", "Location", "Measure",
    "MeasureReport", "Media", "Medication", "MedicationAdministration", "MedicationDispense",
    "MedicationKnowledge", "MedicationRequest", "MedicationStatement", "MedicinalProduct",
    "MedicinalProductAuthorization", "MedicinalProductContraindication",
    "MedicinalProductIndication", "MedicinalProductIngredient", "MedicinalProductInteraction",
    "MedicinalProductManufactured", "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect", "MessageDefinition",
    "MessageHeader", "MolecularSequence", "NamingSystem", "NutritionOrder", "Observation",
    "ObservationDefinition", "OperationDefinition", "OperationOutcome", "Organization",
    "OrganizationAffiliation", "Parameters", "Patient", "PaymentNotice",
    "PaymentReconciliation", "Person", "PlanDefinition", "Practitioner", "PractitionerRole",
    "Procedure", "Provenance", "Questionnaire", "QuestionnaireResponse", "RelatedPerson",
    "RequestGroup", "ResearchDefinition", "ResearchElementDefinition", "ResearchStudy",
    "ResearchSubject", "RiskAssessment", "RiskEvidenceSynthesis", "Schedule", "SearchParameter",
    "ServiceRequest", "Slot", "Specimen", "SpecimenDefinition", "StructureDefinition",
    "StructureMap", "Subscription", "Substance", "SubstanceNucleicAcid", "SubstancePolymer",
    "SubstanceProtein", "SubstanceReferenceInformation", "SubstanceSourceMaterial",
    "SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task",
    "TerminologyCapabilities", "TestReport", "TestScript", "ValueSet", "VerificationResult",
    "VisionPrescription",
})
# R4 types whose R4B model is restructured: validating them with it would not be R4.
RESTRUCTURED_IN_R4B = frozenset({"Evidence", "EvidenceVariable"})


@cache
def model_class(resource_type: str):  # noqa: ANN201 - a fhir.resources model class
    """The R4B model of ``resource_type``; None when R4B has no such resource."""
    from fhir.resources.R4B import get_fhir_model_class

    if resource_type not in R4_TYPES or resource_type in RESTRUCTURED_IN_R4B:
        return None
    try:
        return get_fhir_model_class(resource_type)
    except (ValueError, KeyError, AttributeError, ImportError):
        return None


def known_type(resource_type: str) -> bool:
    """A served type (no model import: that happens on the first write of the type)."""
    return resource_type in _served_set()


@cache
def _served_set() -> frozenset[str]:
    return frozenset(served_types())


def check_type(resource_type: str) -> None:
    if not known_type(resource_type):
        raise FhirError(404, f"Unknown resource type: {resource_type!r}", code="not-supported")


@cache
def served_types() -> tuple[str, ...]:
    """Every resource type this server stores: R4's types that R4B models unchanged."""
    import fhir.resources.R4B.fhirtypes as types

    return tuple(sorted(t for t in R4_TYPES - RESTRUCTURED_IN_R4B if hasattr(types, f"{t}Type")))


def check_id(rid: str) -> None:
    if not ID_RE.match(rid) or rid in (".", ".."):
        raise FhirError(400, f"Invalid resource id: {rid!r}", code="invalid")


def json_depth(value: object, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of a parsed JSON value, counted until it exceeds ``limit``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(body: bytes | None, max_bytes: int) -> dict:
    """The request body as a JSON object, or a 4xx FhirError."""
    if not body:
        raise FhirError(400, "The request body is empty; a FHIR resource (JSON) is required.",
                        code="required")
    if len(body) > max_bytes:
        raise FhirError(413, f"The request body has {len(body)} bytes; the limit is {max_bytes}.",
                        code="too-costly")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FhirError(400, f"The request body is not valid JSON: {exc}", code="structure") from None
    if not isinstance(data, dict):
        raise FhirError(400, "The request body must be a JSON object (a FHIR resource).",
                        code="structure")
    if json_depth(data) > MAX_JSON_DEPTH:
        raise FhirError(400, f"The request body nests deeper than {MAX_JSON_DEPTH} levels.",
                        code="too-costly")
    return data


def _expression(resource_type: str, loc: tuple) -> str:
    out = resource_type
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "resource_type":
            out += f".{part}"
    return out


def validate_resource(data: dict, expected_type: str | None = None) -> str:
    """Check ``data`` against its R4B model; returns its resourceType or raises 4xx."""
    rtype = data.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise FhirError(400, "The resource has no resourceType.", code="required",
                        expression=["resourceType"])
    if expected_type is not None and rtype != expected_type:
        raise FhirError(400, f"The resource type {rtype!r} does not match the URL "
                        f"(expected {expected_type!r}).", code="invalid", expression=["resourceType"])
    cls = model_class(rtype)
    if cls is None:
        raise FhirError(400, f"Unknown resource type: {rtype!r}", code="not-supported",
                        expression=["resourceType"])
    try:
        instance = cls.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        paths = [_expression(rtype, tuple(e.get("loc", ()))) for e in errors[:20]]
        detail = "; ".join(
            f"{path}: {' '.join(str(e.get('msg', '')).split())}" for path, e in zip(paths, errors[:20])
        )
        raise FhirError(400, f"Invalid {rtype}: {detail}", code="invalid", expression=paths) from None
    except (ValueError, TypeError) as exc:  # raised by some model root validators
        raise FhirError(400, f"Invalid {rtype}: {exc}", code="invalid") from None
    bad = list(_unbound_codes(instance, rtype))
    if bad:
        detail = "; ".join(f"{path}: {value!r} is not one of {', '.join(allowed)}" for path, value, allowed in bad[:20])
        raise FhirError(400, f"Invalid {rtype}: {detail}", code="code-invalid",
                        expression=[path for path, _, _ in bad[:20]])
    return rtype


# Required bindings whose code list the R4B models leave open ("+"): the full R4 value sets.
_OPEN_BINDINGS = {
    "observation-status": ("registered", "preliminary", "final", "amended", "corrected",
                           "cancelled", "entered-in-error", "unknown"),
    "encounter-status": ("planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                         "cancelled", "entered-in-error", "unknown"),
    "diagnostic-report-status": ("registered", "partial", "preliminary", "final", "amended",
                                 "corrected", "appended", "cancelled", "entered-in-error", "unknown"),
}
_OPEN_FIELDS = {
    ("Observation", "status"): "observation-status",
    ("Encounter", "status"): "encounter-status",
    ("DiagnosticReport", "status"): "diagnostic-report-status",
}


@cache
def _coded_fields(cls) -> tuple:  # noqa: ANN001 - a fhir.resources model class
    """``(attribute, JSON name, allowed codes or None)`` of every element of ``cls``."""
    out = []
    for name, field in cls.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if not extra.get("element_property"):
            continue
        allowed = extra.get("enum_values")
        if allowed and "+" in allowed:
            key = _OPEN_FIELDS.get((getattr(cls, "__resource_type__", cls.__name__), field.alias or name))
            allowed = _OPEN_BINDINGS[key] if key else None  # an open list we do not know: not checked
        out.append((name, field.alias or name, tuple(allowed) if allowed else None))
    return tuple(out)


def _unbound_codes(model, path: str):  # noqa: ANN001, ANN202 - a validated fhir.resources model
    """``(path, value, allowed)`` for each code outside its required value set."""
    for attr, json_name, allowed in _coded_fields(type(model)):
        value = getattr(model, attr, None)
        if value is None:
            continue
        here = f"{path}.{json_name}"
        if allowed is not None and isinstance(value, str):
            if value not in allowed:
                yield here, value, allowed
        elif isinstance(value, BaseModel):
            yield from _unbound_codes(value, here)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _unbound_codes(item, f"{here}[{i}]")
