"""Per-patient lab physiology and the patient's lab chart (records before rendering).

``Physiology`` gives each lab code a personal baseline (tied to sex, conditions and
medications: diabetes raises glucose and HbA1c, kidney disease raises creatinine, BUN,
potassium and magnesium, loop/thiazide diuretics lower potassium and magnesium) and
draws values as an AR(1) series around it, so consecutive results look like one person.
``LabChart`` holds the results as small mutable records that the scenario editors
(``patients.scenarios``) adjust before the resources are rendered.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ._codes import DIURETICS, LABS

# code -> (mean, sd) for a healthy adult, and (lowest, highest) physiologically possible value
_NORMAL = {
    "MG": (2.05, 0.15, 0.5, 4.0), "GLU": (96, 11, 40, 600), "K": (4.2, 0.3, 2.5, 7.0),
    "A1C": (5.3, 0.25, 4.0, 14.0), "CR": (0.95, 0.15, 0.3, 9.0), "NA": (139, 2.2, 118, 160),
    "BUN": (14, 4, 3, 140), "TBIL": (0.6, 0.25, 0.1, 15), "INR": (1.0, 0.06, 0.8, 6.0),
    "HGB": (14.6, 1.0, 5.0, 19.0), "WBC": (7.0, 1.6, 1.0, 35.0), "PLT": (250, 50, 20, 900),
    "CL": (103, 2.5, 85, 120), "CO2": (25, 2, 12, 40), "CA": (9.4, 0.35, 6.5, 12.5),
    "ALT": (24, 8, 5, 400), "AST": (23, 7, 6, 400), "ALB": (4.1, 0.3, 1.8, 5.4),
    "HCT": (43, 3, 18, 58), "PHOS": (3.5, 0.5, 1.0, 8.0),
}


class Physiology:
    """Personal baselines and AR(1) lab series of one patient."""

    def __init__(self, rng: random.Random, gender: str, conditions: set[str], meds: set[str]) -> None:
        self.rng = rng
        base = {code: [mean + rng.gauss(0, sd * 0.5), sd] for code, (mean, sd, _, _) in _NORMAL.items()}
        if gender == "female":
            base["HGB"][0] -= 1.6
            base["HCT"][0] -= 4.5
            base["CR"][0] -= 0.2
        if "diabetes" in conditions:
            base["GLU"] = [rng.uniform(135, 185), 40]
            base["A1C"] = [rng.uniform(6.8, 9.0), 0.6]
        if "ckd" in conditions:
            base["CR"] = [rng.uniform(1.6, 3.2), 0.3]
            base["BUN"] = [rng.uniform(30, 55), 8]
            base["K"][0] += 0.45
            base["MG"][0] += 0.2
            base["HGB"][0] -= 1.8
            base["PHOS"][0] += 1.0
        if meds & DIURETICS:
            base["K"][0] -= 0.45
            base["MG"][0] -= 0.25
        if "spironolactone" in meds:
            base["K"][0] += 0.3
        if "cirrhosis" in conditions:
            base["TBIL"] = [rng.uniform(1.8, 3.5), 0.6]
            base["ALB"][0] -= 0.8
            base["PLT"][0] -= 90
            base["INR"][0] += 0.3
        if "warfarin" in meds:
            base["INR"] = [rng.uniform(2.2, 2.8), 0.35]
        self.base = base
        self.dev = {code: 0.0 for code in base}
        self.shift: dict[str, float] = {}

    def draw(self, code: str) -> float:
        """The next value of ``code`` (rounded to the code's decimals)."""
        mean, sd = self.base[code]
        dev = 0.6 * self.dev[code] + self.rng.gauss(0, sd * 0.8)
        self.dev[code] = dev
        value = mean + dev + self.shift.get(code, 0.0)
        lo, hi = _NORMAL[code][2:]
        return round(min(max(value, lo), hi), LABS[code].decimals)


class LabChart:
    """The lab results of one patient: records ``[code, minute, value, encounter_id]``, plus
    an optional fifth item ``{"status": …}`` for a voided result (``value`` None when cancelled)."""

    def __init__(
        self, phys: Physiology, forbidden: Callable[[int], bool], encounter_at: Callable[[int], str]
    ) -> None:
        self.phys = phys
        self.records: list[list] = []
        self.used: dict[str, set[int]] = {code: set() for code in LABS}
        self.forbidden = forbidden
        self.encounter_at = encounter_at
        self.offset: int | None = None  # minutes east of UTC the lab times are written in

    def add(self, code: str, minute: int, encounter: str | None = None, value: float | None = None,
            exact: bool = False) -> list:
        """Add a result at ``minute`` or the closest earlier free, allowed minute
        (one result per code per minute; never inside the forbidden margins unless
        ``exact``: a profile placing a result on purpose near a window edge)."""
        used = self.used[code]
        while minute in used or (not exact and self.forbidden(minute)):
            minute -= 1
        used.add(minute)
        if value is None:
            value = self.phys.draw(code)
        rec = [code, minute, value, encounter if encounter is not None else self.encounter_at(minute)]
        self.records.append(rec)
        return rec

    def of(self, code: str, lo: int | None = None, hi: int | None = None) -> list[list]:
        """Results of ``code`` with ``lo <= minute <= hi``, oldest first."""
        recs = [
            r for r in self.records
            if r[0] == code and (lo is None or r[1] >= lo) and (hi is None or r[1] <= hi)
        ]
        recs.sort(key=lambda r: r[1])
        return recs

    def remove(self, recs: list[list]) -> None:
        gone = {id(r) for r in recs}
        for r in recs:
            self.used[r[0]].discard(r[1])
        self.records = [r for r in self.records if id(r) not in gone]
