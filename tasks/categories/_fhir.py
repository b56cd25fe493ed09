"""Checks of written FHIR resources by meaning: codings, quantities, references, times.

Accepted equivalences (documented for task authors and agents):
- Codes beat words: a coding in an expected system (NDC, SNOMED, LOINC, the local lab
  system) decides, and every such coding must carry an accepted code; a coding whose
  ``system`` is absent is judged on its code alone (another code contradicts). Only where no expected system is coded,
  and where a category allows it (drugs, routes), does the ``text`` or a coding's
  ``display`` naming the thing match (whole words, case-insensitive). A negated or hedged
  text ("NOT magnesium sulfate - hold", "IV?", "consider …") or one naming a conflicting
  concept (oral vs IV, another drug) fails the concept whatever its codes say.
- Quantities are converted by UCUM-equivalent units: g/mg/mcg/kg; h/min/s/d; mEq/meq/mmol
  (monovalent ions such as potassium); mm[Hg]/mmHg. A rate is a ``rateQuantity`` in
  mass/time (``g/h``, ``mg/h``, ``mg/min``) or a ``rateRatio`` of a mass over a time.
- Subject: ``Patient/<MRN>`` (relative or absolute URL) or a logical identifier reference
  with the MRN as its value; a reference and an identifier that disagree fail.
- Times: the same instant in any offset.
- Doses and rates match within 0.5 % (``REL_TOL``); messages print 6 significant digits.
"""

from __future__ import annotations

import functools
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


_NON_WORD = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=4096)
def _words(text: str) -> str:
    return " " + _NON_WORD.sub(" ", text.lower()).strip() + " "


def names_any(text: Any, names: tuple[str, ...]) -> bool:
    """Whether ``text`` contains one of ``names`` as whole words (case-insensitive)."""
    if text is None:
        return False
    words = _words(str(text))
    return any(_words(n) in words for n in names)


# Words that negate or hedge what a text names: such a text never confirms a concept.
_HEDGES = ("not", "no", "none", "never", "hold", "held", "holding", "consider", "considering",
           "maybe", "perhaps", "possibly", "possible", "avoid", "stop", "stopped", "discontinue",
           "discontinued", "cancel", "cancelled", "canceled", "without", "pending", "unless",
           "if", "instead", "defer", "deferred", "dont", "don t", "do not", "rule out", "r o",
           "d c", "prn", "as needed", "contraindicated")


def hedged(text: Any) -> bool:
    """Whether a text negates or hedges what it says ("NOT magnesium sulfate - hold", "IV?")."""
    return isinstance(text, str) and ("?" in text or names_any(text, _HEDGES))


def _same_code(code: Any, accepted: str) -> bool:
    """Equal codes; an NDC-shaped code (two dashes) also equals its digits."""
    return code == accepted or (isinstance(code, str) and accepted.count("-") == 2
                                and _digits(code) == _digits(accepted))


def concept_verdict(concept: Any, codes: set[tuple[str, str]], names: tuple[str, ...] = (),
                    conflicts: tuple[str, ...] = ()) -> tuple[bool, str]:
    """Whether a CodeableConcept means the expected concept, and why not.

    Codes beat words: when a coding of an expected system is present it decides (every
    such coding must be an accepted code); a coding without a system is judged on its
    code alone (an accepted code matches, any other contradicts).
    Words (``text``, a coding's ``display``) decide only when no expected system is coded,
    and only with ``names``. Whatever the codes say, the concept fails when a text negates
    or hedges it, or names a ``conflicts`` entry (the concept contradicts itself).
    """
    if not isinstance(concept, dict):
        return False, "no CodeableConcept given"
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    texts = [t for t in [concept.get("text"), *(c.get("display") for c in codings)]
             if isinstance(t, str)]
    for text in texts:
        if hedged(text):
            return False, f"{text!r} negates or hedges it"
        if conflicts and names_any(text, conflicts):
            return False, f"{text!r} names something else (contradicts the concept)"
    systems = {s for s, _ in codes}
    hit, wrong = False, []
    for coding in codings:
        code, system = coding.get("code"), coding.get("system")
        if system == NDC and isinstance(code, str):  # NDCs are written with or without dashes
            code = next((c for s, c in codes if s == NDC and _digits(c) == _digits(code)), code)
        if system in systems:
            if (system, code) in codes:
                hit = True
            else:
                wrong.append(f"{system}|{code}")
        elif system is None and code is not None:  # no system: judged on its code alone
            if any(_same_code(code, c) for _, c in codes):
                hit = True
            else:
                wrong.append(f"(no system)|{code}")
    if wrong:
        return False, f"coded {wrong[0]}, which is not the expected code (codes beat words)"
    if hit:
        return True, ""
    if names and any(names_any(t, names) for t in texts):
        return True, ""
    return False, "no accepted code" + (" and no text naming it" if names else "")


def concept_matches(concept: Any, codes: set[tuple[str, str]], names: tuple[str, ...] = (),
                    conflicts: tuple[str, ...] = ()) -> bool:
    """Whether a CodeableConcept means the expected concept (see :func:`concept_verdict`)."""
    return concept_verdict(concept, codes, names, conflicts)[0]


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
    """``Patient/<MRN>`` (relative or absolute) and/or an identifier with the MRN; when both
    a reference and an identifier are given, both must name the patient."""
    subject = resource.get("subject") or {}
    ref = subject.get("reference") if isinstance(subject, dict) else None
    ident = (subject.get("identifier") or {}) if isinstance(subject, dict) else {}
    forms = []
    if ref is not None:
        forms.append(isinstance(ref, str) and (ref == f"Patient/{mrn}"
                                               or ref.endswith(f"/Patient/{mrn}")))
    if ident:
        forms.append(isinstance(ident, dict) and ident.get("value") == mrn)
    ok = bool(forms) and all(forms)
    why = f"written for {ref or ident or 'no subject'}, expected Patient/{mrn}"
    if len(forms) == 2 and forms[0] != forms[1]:
        why = f"the subject's reference ({ref}) and identifier ({ident.get('value')}) disagree"
    return check("subject", ok, f"Patient/{mrn}", ref or ident or None, why)


def instant_check(name: str, value: Any, expected_iso: str, date_ok: bool = False) -> Check:
    """The same instant as ``expected_iso`` (any offset); with ``date_ok`` a plain date equal
    to the expected calendar date also passes (an order authored "today")."""
    got = parse_instant(value)
    ok = got is not None and got == parse_instant(expected_iso)
    if date_ok and isinstance(value, str) and len(value) == 10:
        ok = value == expected_iso[:10]
    return check(name, ok, expected_iso, value)


def occurrence_check(resource: dict, expected_iso: str) -> Check:
    """An order's ``occurrenceDateTime`` (or ``occurrencePeriod.start``) is ``expected_iso``."""
    value = resource.get("occurrenceDateTime") or (resource.get("occurrencePeriod") or {}).get("start")
    return instant_check("occurrence", value, expected_iso)


def field_check(resource: dict, field: str, allowed: tuple[str, ...]) -> Check:
    value = resource.get(field)
    return check(field, value in allowed, allowed[0] if len(allowed) == 1 else list(allowed), value)


def concept_check(name: str, concept: Any, codes: set[tuple[str, str]],
                  names: tuple[str, ...] = (), conflicts: tuple[str, ...] = ()) -> Check:
    ok, why = concept_verdict(concept, codes, names, conflicts)
    want = sorted(f"{s}|{c}" for s, c in codes) + [f"text naming {n!r}" for n in names[:1]]
    got = concept_summary(concept)
    return check(name, ok, want, got, f"{name}: {why}; expected {want[0]}, got {got!r}")


REL_TOL = 0.005  # doses and rates: 0.5 % of the expected value (16.67 mg/min is 1 g/h)


def fmt(x: float) -> str:
    """A number with enough digits to see a difference (up to 6 significant)."""
    return f"{x:.6g}"


def quantity_text(raw: Any) -> str:
    if isinstance(raw, dict) and "value" in raw:
        return f"{raw.get('value')} {raw.get('code') or raw.get('unit') or ''}".strip()
    return repr(raw)


def quantity_check(name: str, got: float | None, expected: float, unit: str, raw: Any,
                   rel: float = REL_TOL, abs_tol: float = 0.0) -> Check:
    """``got`` (already in ``unit``) within ``max(abs_tol, rel × expected)`` of ``expected``."""
    tol = max(abs_tol, rel * abs(expected))
    ok = got is not None and abs(got - expected) <= tol + 1e-9
    limit = f"±{fmt(abs_tol)} {unit}" if abs_tol >= rel * abs(expected) else f"±{rel:.1%}"
    if got is None:
        why = f"{name}: expected {fmt(expected)} {unit}, got {quantity_text(raw)} (no usable quantity)"
    else:
        why = (f"{name}: expected {fmt(expected)} {unit} ({limit}), got {quantity_text(raw)}"
               f" = {fmt(got)} {unit}")
    return check(name, ok, f"{fmt(expected)} {unit}", raw, why)
