"""Parsing and validating request bodies (FHIR R4B models from fhir.resources).

The model is only a gate: what gets stored is the client's own JSON (parsed by orjson,
re-serialised with sorted keys), never the model's re-serialisation, so values such as
decimals and date-times keep the client's spelling.
"""

from __future__ import annotations

import re
from functools import cache

import orjson
from pydantic import BaseModel, ValidationError

from .errors import FhirError

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@cache
def model_class(resource_type: str):  # noqa: ANN201 - a fhir.resources model class
    """The R4B model of ``resource_type``; None when R4B has no such resource."""
    from fhir.resources.R4B import get_fhir_model_class

    if not resource_type[:1].isupper() or not resource_type.isalpha():
        return None
    try:
        return get_fhir_model_class(resource_type)
    except (ValueError, KeyError, AttributeError, ImportError):
        return None


def known_type(resource_type: str) -> bool:
    return model_class(resource_type) is not None


def check_type(resource_type: str) -> None:
    if not known_type(resource_type):
        raise FhirError(404, f"Unknown resource type: {resource_type!r}", code="not-supported")


def check_id(rid: str) -> None:
    if not ID_RE.match(rid):
        raise FhirError(400, f"Invalid resource id: {rid!r}", code="invalid")


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
