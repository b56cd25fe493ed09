"""Checks of written FHIR resources by meaning: codings, quantities, references, times.

Accepted equivalences (documented for task authors and agents):
- A code matches in ANY coding of a CodeableConcept; a coding whose ``system`` is absent
  matches on its code alone. Where a category allows it (drugs, routes), the concept's
  ``text`` or a coding's ``display`` naming the thing also matches (whole words,
  case-insensitive).
- Quantities are converted by UCUM-equivalent units: g/mg/mcg/kg; h/min/s/d; mEq/meq/mmol
  (monovalent ions such as potassium); mm[Hg]/mmHg. A rate is a ``rateQuantity`` in
  mass/time (``g/h``, ``mg/h``, ``mg/min``) or a ``rateRatio`` of a mass over a time.
- Subject: ``Patient/<MRN>`` (relative or absolute URL) or a logical identifier reference
  with the MRN as its value.
- Times: the same instant in any offset.
"""

from __future__ import annotations

import re
from typing import Any

from .._clock import parse_instant
from ..models import Check

SNOMED = "http://snomed.info/sct"
NDC = "http://hl7.org/fhir/sid/ndc"

_MASS_G = {"g": 1.0, "gm": 1.0, "gram": 1.0, "grams": 1.0, "mg": 1e-3, "milligram": 1e-3,
           "milligrams": 1e-3, "ug": 1e-6, "mcg": 1e-6, "kg": 1e3}
_TIME_H = {"h": 1.0, "hr": 1.0, "hrs": 1.0, "hour": 1.0, "hours": 1.0, "min": 1 / 60,
           "minute": 1 / 60, "minutes": 1 / 60, "s": 1 / 3600, "sec": 1 / 3600, "d": 24.0,
           "day": 24.0, "days": 24.0}
_MEQ = {"meq": 1.0, "milliequivalent": 1.0, "milliequivalents": 1.0, "mmol": 1.0,
        "eq": 1e3, "mol": 1e3}
_PRESSURE = {"mm[hg]": 1.0, "mmhg": 1.0, "mm hg": 1.0}
TABLES = {"mass_g": _MASS_G, "time_h": _TIME_H, "meq": _MEQ, "mmhg": _PRESSURE}


def _unit(quantity: dict) -> str:
    unit = quantity.get("code") or quantity.get("unit") or ""
    return str(unit).strip().lower().replace("{", "").replace("}", "")


def convert(quantity: Any, table: str) -> float | None:
    """The quantity's value in the table's base unit (g, h, mEq, mm[Hg]); None if not."""
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), int | float):
        return None
    factor = TABLES[table].get(_unit(quantity))
    if factor is None and quantity.get("unit"):  # code may be odd while unit is readable
        factor = TABLES[table].get(str(quantity["unit"]).strip().lower())
    return None if factor is None else quantity["value"] * factor


def rate_g_per_h(dose_rate: dict) -> float | None:
    """A mass-per-time rate from ``rateQuantity`` (``g/h``…) or ``rateRatio``, in g/h."""
    if isinstance(q := dose_rate.get("rateQuantity"), dict):
        parts = _unit(q).split("/")
        if len(parts) == 2 and isinstance(q.get("value"), int | float):
            mass, time = _MASS_G.get(parts[0]), _TIME_H.get(parts[1])
            if mass and time:
                return q["value"] * mass / time
    if isinstance(r := dose_rate.get("rateRatio"), dict):
        mass, time = convert(r.get("numerator"), "mass_g"), convert(r.get("denominator"), "time_h")
        if mass is not None and time:
            return mass / time
    return None


def _digits(code: str) -> str:
    return re.sub(r"\D", "", code)


def _words(text: Any) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip() + " "


def names_any(text: Any, names: tuple[str, ...]) -> bool:
    """Whether ``text`` contains one of ``names`` as whole words (case-insensitive)."""
    return text is not None and any(_words(n) in _words(text) for n in names)


def concept_matches(concept: Any, codes: set[tuple[str, str]], names: tuple[str, ...] = ()) -> bool:
    """Any coding with an accepted (system, code), or, if ``names`` given, a naming text."""
    if not isinstance(concept, dict):
        return False
    for coding in concept.get("coding") or []:
        if not isinstance(coding, dict):
            continue
        code, system = coding.get("code"), coding.get("system")
        if system == NDC and isinstance(code, str):  # NDCs are written with or without dashes
            code = next((c for s, c in codes if s == NDC and _digits(c) == _digits(code)), code)
        if any(code == c and (system is None or system == s) for s, c in codes):
            return True
        if names and names_any(coding.get("display"), names):
            return True
    return bool(names) and names_any(concept.get("text"), names)


def concept_summary(concept: Any) -> Any:
    if not isinstance(concept, dict):
        return concept
    codings = [f"{c.get('system', '')}|{c.get('code', '')}" for c in concept.get("coding") or []
               if isinstance(c, dict)]
    return {"coding": codings, "text": concept.get("text")} if concept.get("text") else codings


def check(name: str, passed: bool, expected: Any, got: Any, why: str = "") -> Check:
    message = f"{name} ok" if passed else (why or f"{name}: expected {expected!r}, got {got!r}")
    return Check(name=name, passed=passed, expected=expected, got=got, message=message)


def subject_check(resource: dict, mrn: str) -> Check:
    subject = resource.get("subject") or {}
    ref = subject.get("reference") if isinstance(subject, dict) else None
    ident = (subject.get("identifier") or {}) if isinstance(subject, dict) else {}
    ok = (isinstance(ref, str) and (ref == f"Patient/{mrn}" or ref.endswith(f"/Patient/{mrn}"))) \
        or ident.get("value") == mrn
    return check("subject", ok, f"Patient/{mrn}", ref or ident or None,
                 f"written for {ref or ident or 'no subject'}, expected Patient/{mrn}")


def instant_check(name: str, value: Any, expected_iso: str, date_ok: bool = False) -> Check:
    """The same instant as ``expected_iso`` (any offset); with ``date_ok`` a plain date equal
    to the expected calendar date also passes (an order authored "today")."""
    got = parse_instant(value)
    ok = got is not None and got == parse_instant(expected_iso)
    if date_ok and isinstance(value, str) and len(value) == 10:
        ok = value == expected_iso[:10]
    return check(name, ok, expected_iso, value)


def field_check(resource: dict, field: str, allowed: tuple[str, ...]) -> Check:
    value = resource.get(field)
    return check(field, value in allowed, allowed[0] if len(allowed) == 1 else list(allowed), value)


def concept_check(name: str, concept: Any, codes: set[tuple[str, str]],
                  names: tuple[str, ...] = ()) -> Check:
    ok = concept_matches(concept, codes, names)
    want = sorted(f"{s}|{c}" for s, c in codes) + [f"text naming {n!r}" for n in names[:1]]
    return check(name, ok, want, concept_summary(concept))


def quantity_check(name: str, got: float | None, expected: float, unit: str, tol: float,
                   raw: Any) -> Check:
    ok = got is not None and abs(got - expected) <= tol + 1e-9
    return check(name, ok, f"{expected:g} {unit}", raw,
                 f"{name}: expected {expected:g} {unit}, got "
                 + (f"{got:g} {unit}" if got is not None else f"{raw!r} (no usable quantity)"))
