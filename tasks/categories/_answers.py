"""Parsing and checking final answers: tolerant in form, strict in meaning.

- An answer is a JSON list; a string holding a JSON list (``"[1.8]"``) is read as that list
  and a bare scalar as a one-element list.
- Numbers: ``2``, ``2.0`` and ``"2"`` are equal; a number followed by a unit
  (``"1.8 mg/dL"``) is read as the number; anything else is not a number.
- Datetimes: equal when they are the same instant (any offset, ``Z`` or ``+00:00``); a
  plain date (``2023-05-02``) equals a datetime recorded on that calendar date.
- Text such as ``"Patient not found"``: case, surrounding space and a final period ignored.
- MRNs: ``S1234567`` or ``Patient/S1234567``.
"""

from __future__ import annotations

import math
import re
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


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and (m := _NUMBER.match(value)):
        return float(m.group(1))
    return None


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
    number = as_number(got)
    return number is not None and number == int(number) and int(number) == expected


def same_instant(got: Any, expected: str) -> bool:
    want = parse_instant(expected)
    if isinstance(got, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", got):
        return got.strip() == expected[:10]
    have = parse_instant(got)
    return have is not None and want is not None and have == want


def check_answer(answer: Any, expected: list, compare: list) -> list[Check]:
    """Checks of an answer list against ``expected``, one comparison per position.

    ``compare[i](got, expected[i]) -> bool``. The length must match exactly.
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
        ok = cmp(g, e)
        message = f"answer[{i}] is right" if ok else f"answer[{i}] is {g!r}, expected {e!r}"
        checks.append(Check(name=f"answer[{i}]", passed=ok, expected=e, got=g, message=message))
    return checks


def numeric_answer(answer: Any, expected: list, tol: float = 1e-6) -> list[Check]:
    """Every position a number (``-1`` included) compared within ``tol``."""
    return check_answer(answer, expected, [lambda g, e: same_number(g, e, tol)] * len(expected))
