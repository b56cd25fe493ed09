"""Parsing and checking final answers: tolerant in form, strict in meaning.

- An answer is a JSON list; a string holding a JSON list (``"[1.8]"``) is read as that list
  and a bare scalar as a one-element list.
- Numbers: ``2``, ``2.0`` and ``"2"`` are equal; a number may carry a unit
  (``"1.8 mg/dL"``), which must be the unit the task asks for (any case) or one this
  answer converts from correctly (:class:`Unit`): the converted value must equal the
  expected one within the answer's tolerance or once rounded to the expected value's
  decimals ("0.74 mmol/L" is 1.8 mg/dL of magnesium; "1.8 mmol/L" is not; "52 months" is
  not an age of 52 years; "6.4 mg/dL" is not an HbA1c of 6.4 %). Anything else is not a
  number.
- Datetimes: equal when they are the same instant (any offset, ``Z`` or ``+00:00``, ``T``
  or a space between date and time as RFC 3339 allows); a plain date (``2023-05-02``)
  equals a datetime recorded on that calendar date.
- Text such as ``"Patient not found"``: case, surrounding space and a final period ignored.
- MRNs: ``S1234567`` or ``Patient/S1234567``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .._clock import parse_instant
from ..models import Check

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+))\s*([A-Za-z%/\[\]*0-9^]*)\s*$")


def coerce_answer(answer: Any) -> list | None:
    if answer is None:
        return None
    if isinstance(answer, str):
        text = answer.strip()
        if text.startswith("["):
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                return [answer]
            return parsed if isinstance(parsed, list) else [answer]
        return [answer]
    if isinstance(answer, list | tuple):
        return list(answer)
    return [answer]


def number_and_unit(value: Any) -> tuple[float | None, str]:
    """``(number, unit as written)``; ``(None, "")`` when ``value`` is not a number."""
    if isinstance(value, bool):
        return None, ""
    if isinstance(value, int | float):
        return (float(value), "") if math.isfinite(value) else (None, "")
    if isinstance(value, str) and (m := _NUMBER.match(value)):
        return float(m.group(1)), m.group(2)
    return None, ""


def as_number(value: Any) -> float | None:
    return number_and_unit(value)[0]


def _unit_key(unit: str) -> str:
    return unit.replace(" ", "").casefold()


@dataclass(frozen=True, slots=True)
class Unit:
    """The unit an answer is asked in: its spellings and the units converted to it."""

    asked: str
    spellings: frozenset[str]
    conversions: dict[str, Callable[[float], float]] = field(default_factory=dict)

    def value(self, number: float, unit: str) -> tuple[float | None, bool]:
        """``(value in the asked unit or None if the unit is not accepted, converted?)``."""
        key = _unit_key(unit)
        if not key or key in self.spellings:
            return number, False
        convert = self.conversions.get(key)
        return (None, False) if convert is None else (convert(number), True)


MG_24 = 2.4305  # mg/dL per mmol/L of magnesium (24.305 g/mol)
MAGNESIUM_MG_DL = Unit("mg/dL", frozenset({"mg/dl"}), {
    "mmol/l": lambda x: x * MG_24, "meq/l": lambda x: x * MG_24 / 2, "mg/l": lambda x: x / 10})
GLUCOSE_MG_DL = Unit("mg/dL", frozenset({"mg/dl"}), {
    "mmol/l": lambda x: x * 18.016, "mg/l": lambda x: x / 10})  # 180.16 g/mol
POTASSIUM_MMOL_L = Unit("mmol/L", frozenset({"mmol/l"}), {"meq/l": lambda x: x})
A1C_PERCENT = Unit("%", frozenset({"%"}), {  # IFCC mmol/mol -> NGSP % (master equation)
    "mmol/mol": lambda x: 0.09148 * x + 2.152})
YEARS = Unit("years", frozenset({"y", "yr", "yrs", "year", "years", "a"}))


def _decimals(x: float) -> int:
    return 0 if float(x).is_integer() else min(4, len(repr(float(x)).split(".")[1]))


def number_in(unit: Unit | None, tol: float = 1e-6, integer: bool = False) -> Callable:
    """A comparer ``(got, expected) -> (ok, why)`` for a number answered in ``unit``
    (``None``: any unit written is ignored)."""
    def compare(got: Any, expected: float) -> tuple[bool, str]:
        number, written = number_and_unit(got)
        if number is None:
            return False, f"{got!r} is not a number"
        value, converted = (number, False) if unit is None else unit.value(number, written)
        if value is None:
            return False, (f"{got!r} is in {written!r}, not in {unit.asked} (the unit asked "
                           "for) nor in a unit converted to it")
        if integer:
            ok = value == int(value) and int(value) == expected
            return ok, "" if ok else f"{got!r} is not {expected:g} {unit.asked if unit else ''}"
        ok = abs(value - expected) <= tol + 1e-9
        if converted and not ok and expected != -1:
            ok = round(value, _decimals(expected)) == expected
        if ok:
            return True, ""
        shown = f" = {value:.6g} {unit.asked}" if converted else ""
        return False, f"{got!r}{shown} is not {expected!r}" + (f" {unit.asked}" if unit else "")
    return compare


def _norm_text(value: Any) -> str:
    return str(value).strip().rstrip(".").strip().casefold()


def same_mrn_or_text(got: Any, expected: str) -> bool:
    if not isinstance(got, str):
        return False
    text = got.strip()
    if text.startswith("Patient/"):
        text = text[len("Patient/"):]
    return _norm_text(text) == _norm_text(expected)


def same_number(got: Any, expected: float, tol: float = 1e-6) -> bool:
    number = as_number(got)
    return number is not None and abs(number - expected) <= tol + 1e-9


def same_integer(got: Any, expected: int) -> bool:
    """A whole number equal to ``expected``, any unit written ignored (see :func:`number_in`)."""
    return number_in(None, integer=True)(got, expected)[0]


def same_instant(got: Any, expected: str) -> bool:
    want = parse_instant(expected)
    if isinstance(got, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", got):
        return got.strip() == expected[:10]
    have = parse_instant(got)
    return have is not None and want is not None and have == want


def check_answer(answer: Any, expected: list, compare: list) -> list[Check]:
    """Checks of an answer list against ``expected``, one comparison per position.

    ``compare[i](got, expected[i]) -> bool`` or ``-> (bool, why)``. The length must match
    exactly.
    """
    got = coerce_answer(answer)
    if got is None:
        return [Check(name="answer", passed=False, expected=expected, got=None,
                      message="no answer was given")]
    if len(got) != len(expected):
        return [Check(name="answer", passed=False, expected=expected, got=got,
                      message=f"expected a list of {len(expected)} item(s), got {len(got)}")]
    checks = []
    for i, (g, e, cmp) in enumerate(zip(got, expected, compare, strict=True)):
        verdict = cmp(g, e)
        ok, why = verdict if isinstance(verdict, tuple) else (verdict, "")
        message = f"answer[{i}] is right" if ok else f"answer[{i}]: " + (
            why or f"{g!r} is not the expected {e!r}")
        checks.append(Check(name=f"answer[{i}]", passed=ok, expected=e, got=g, message=message))
    return checks


def numeric_answer(answer: Any, expected: list, tol: float = 1e-6,
                   unit: Unit | None = None) -> list[Check]:
    """Every position a number (``-1`` included) in ``unit``, compared within ``tol``."""
    return check_answer(answer, expected, [number_in(unit, tol)] * len(expected))
