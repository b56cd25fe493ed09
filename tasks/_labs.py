"""Lab results as time series: the shared path from Observation resources to values.

Used twice, on purpose through different data paths: suite building reads the cohort's
NDJSON (ground truth), reference solutions read what the agent tools return.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ._clock import NOW, WINDOW_START, parse_instant

LAB_SYSTEM = "urn:medagent:lab"
LOINC = "http://loinc.org"
LAB_LOINC = {"MG": "19123-9", "GLU": "2345-7", "K": "2823-3", "A1C": "4548-4"}
_LOCAL_BY_LOINC = {v: k for k, v in LAB_LOINC.items()}
_NOT_RESULTS = {"entered-in-error", "cancelled", "registered"}
VOIDED = ("entered-in-error", "cancelled")  # recorded, then withdrawn: never a result


@dataclass(frozen=True, slots=True)
class LabPoint:
    when: datetime
    value: float
    unit: str
    effective: str  # effectiveDateTime as recorded

    def __lt__(self, other: LabPoint) -> bool:
        return self.when < other.when


def lab_code(resource: dict) -> str | None:
    """The local lab code of an Observation (from the local coding or its LOINC coding)."""
    for coding in (resource.get("code") or {}).get("coding") or []:
        system, code = coding.get("system"), coding.get("code")
        if system == LAB_SYSTEM:
            return code
        if system == LOINC and code in _LOCAL_BY_LOINC:
            return _LOCAL_BY_LOINC[code]
    return None


def lab_point(resource: dict) -> LabPoint | None:
    """A result (time, value, unit) of a lab Observation; None if it is not a usable result."""
    if resource.get("status") in _NOT_RESULTS:
        return None
    when = parse_instant(resource.get("effectiveDateTime"))
    quantity = resource.get("valueQuantity") or {}
    value = quantity.get("value")
    if when is None or when > NOW or not isinstance(value, int | float):
        return None
    return LabPoint(when, float(value), quantity.get("unit") or quantity.get("code") or "",
                    resource["effectiveDateTime"])


def voided_point(resource: dict) -> LabPoint | None:
    """A voided (entered-in-error or cancelled) lab Observation as a point (its value NaN
    when it has none); None for any other resource."""
    if resource.get("status") not in VOIDED:
        return None
    when = parse_instant(resource.get("effectiveDateTime"))
    if when is None:
        return None
    quantity = resource.get("valueQuantity") or {}
    value = quantity.get("value")
    return LabPoint(when, float(value) if isinstance(value, int | float) else math.nan,
                    quantity.get("unit") or "", resource["effectiveDateTime"])


def points(resources: Iterable[dict], code: str) -> list[LabPoint]:
    """The usable results of one lab code, oldest first."""
    out = [p for r in resources if lab_code(r) == code and (p := lab_point(r)) is not None]
    return sorted(out)


def latest(series: list[LabPoint]) -> LabPoint | None:
    return max(series, default=None, key=lambda p: p.when)


def last_24h(series: list[LabPoint]) -> list[LabPoint]:
    return [p for p in series if WINDOW_START <= p.when <= NOW]


def mean(series: list[LabPoint]) -> float | None:
    return sum(p.value for p in series) / len(series) if series else None


def reported(point: LabPoint | None) -> list:
    """The answer list for "the value of this result, or -1 if there is none"."""
    return [-1 if point is None else point.value]
