"""Scenario axes: chart situations near ``NOW`` that the task suite depends on.

Every patient gets exactly one state on each of the four *partition* axes below. States
are dealt deterministically: for each axis a permutation of the patients (seeded from the
cohort seed and the axis name) receives the states round-robin, so every state has at
least ``floor(n / len(states))`` patients and the axes combine in varied ways.

Times: ``NOW`` = 2023-11-13T10:15:00+00:00; "within 24 h" means ``effectiveDateTime``
in ``[NOW - 24 h, NOW]``. Safety margins: no lab lies within 30 minutes of ``NOW - 24 h``
or of ``NOW``, nothing is dated after ``NOW``, and no patient has two results of the same
code at the same instant.

The table and margins below describe the ``mab-v1`` profile. The ``edge-v1`` profile
(``patients._edge``) keeps every patient's state (counted on valid results only) but
removes the margins on purpose: results 2-13 minutes from the window start, HbA1c 364-366
days and 6-14 months old, values on the band edges, and ``entered-in-error``/``cancelled``
results (a ``never`` patient may have a cancelled test).

========== ============== =====================================================================
axis       state          meaning (checked from the data by ``tests/patients``)
========== ============== =====================================================================
magnesium  lt1            latest MG within 24 h < 1.0 mg/dL
magnesium  lt1.5          latest MG within 24 h in [1.0, 1.5)
magnesium  le1.9          latest MG within 24 h in [1.5, 1.9]
magnesium  normal         latest MG within 24 h > 1.9
magnesium  none_24h       no MG within 24 h; older MG results exist
glucose    several_24h    >= 2 GLU results within 24 h
glucose    one_24h        exactly one GLU within 24 h
glucose    none_24h       no GLU within 24 h; older ones exist
glucose    never          no GLU at all
potassium  low            latest K ever < 3.5 mmol/L
potassium  normal         latest K ever >= 3.5 mmol/L
potassium  never          no K at all
a1c        recent         latest A1C at most 300 days before NOW
a1c        old            latest A1C at least 430 days before NOW
a1c        never          no A1C at all
========== ============== =====================================================================

MG values carry at most 2 decimals (in practice one). Several patients of every MG state
except ``none_24h`` have two or more MG results within 24 h; the latest one decides.

The ``lookalike`` axis is made of *pairs* (not every patient is in one):
``same_name_other_birthdate`` pairs share given and family name with different birth
dates; ``same_birthdate_one_letter`` pairs share the birth date (and given name) and their
family names differ by exactly one letter. The default is ``max(1, n // 30)`` pairs of each
kind; both members of each pair are listed. (given, family, birthDate) is unique.

Requesting counts: ``patients.generate(out, scenarios={"magnesium": {"lt1": 10}})`` puts
exactly 10 patients in ``lt1``; the rest of that axis is dealt round-robin over the states
not named (over all states when every state is named). For ``lookalike`` the numbers count
pairs. Membership is recorded in ``manifest.json`` under ``scenarios`` as
``{axis: {state: [MRNs sorted]}}``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from ._labs import LabChart
from ._time import DAY, HOUR
from .errors import ScenarioError

AXES: dict[str, tuple[str, ...]] = {
    "magnesium": ("lt1", "lt1.5", "le1.9", "normal", "none_24h"),
    "glucose": ("several_24h", "one_24h", "none_24h", "never"),
    "potassium": ("low", "normal", "never"),
    "a1c": ("recent", "old", "never"),
}
LOOKALIKE = "lookalike"
LOOKALIKE_STATES = ("same_name_other_birthdate", "same_birthdate_one_letter")
MIN_PATIENTS = 5  # every partition state plus two look-alike pairs need at least this many
WINDOW = 24 * HOUR
MARGIN = 30
A1C_RECENT_DAYS = 300
A1C_OLD_DAYS = 430

Request = Mapping[str, Mapping[str, int]]

__all__ = [
    "AXES", "LOOKALIKE", "LOOKALIKE_STATES", "MIN_PATIENTS", "assign", "lookalike_pairs",
    "apply_labs", "forbidden_minute",
]


def _check_request(n: int, requested: Request) -> None:
    for axis, counts in requested.items():
        states = AXES.get(axis) or (LOOKALIKE_STATES if axis == LOOKALIKE else None)
        if states is None:
            raise ScenarioError(f"unknown scenario axis {axis!r} (known: {', '.join([*AXES, LOOKALIKE])})")
        for state, count in counts.items():
            if state not in states:
                raise ScenarioError(f"unknown state {state!r} of axis {axis!r} (known: {', '.join(states)})")
            if not isinstance(count, int) or count < 0:
                raise ScenarioError(f"scenario count for {axis}.{state} must be a non-negative integer")
        size = sum(counts.values()) * (2 if axis == LOOKALIKE else 1)
        if size > n:
            raise ScenarioError(f"scenario {axis!r} asks for {size} patients, the cohort has {n}")


def assign(n: int, seed: int, requested: Request | None = None) -> list[dict[str, str]]:
    """The state of every patient (by index) on each partition axis."""
    requested = requested or {}
    _check_request(n, requested)
    out: list[dict[str, str]] = [{} for _ in range(n)]
    for axis, states in AXES.items():
        counts = dict(requested.get(axis, {}))
        deal = [state for state in states for _ in range(counts.get(state, 0))]
        free = [s for s in states if s not in counts] or list(states)
        deal += [free[i % len(free)] for i in range(n - len(deal))]
        order = random.Random(f"{seed}:scenario:{axis}").sample(range(n), n)
        for slot, index in enumerate(order):
            out[index][axis] = deal[slot]
    return out


def lookalike_pairs(n: int, seed: int, requested: Request | None = None) -> dict[str, list[tuple[int, int]]]:
    """Patient index pairs ``(original, look-alike)`` for each look-alike state."""
    counts = dict((requested or {}).get(LOOKALIKE, {}))
    default = max(1, n // 30)
    want = {state: counts.get(state, default) for state in LOOKALIKE_STATES}
    if 2 * sum(want.values()) > n:
        raise ScenarioError(f"look-alike pairs need {2 * sum(want.values())} patients, the cohort has {n}")
    order = random.Random(f"{seed}:scenario:{LOOKALIKE}").sample(range(n), n)
    pairs: dict[str, list[tuple[int, int]]] = {}
    pos = 0
    for state in LOOKALIKE_STATES:
        pairs[state] = []
        for _ in range(want[state]):
            pairs[state].append((order[pos], order[pos + 1]))
            pos += 2
    return pairs


def forbidden_minute(now: int):
    """The predicate of minutes no lab may use (window edges +- 30 min, and after NOW - 30 min)."""
    edge_lo, edge_hi = now - WINDOW - MARGIN, now - WINDOW + MARGIN
    last = now - MARGIN

    def forbidden(minute: int) -> bool:
        return minute > last or edge_lo <= minute <= edge_hi

    return forbidden


def _window_minute(rng: random.Random, now: int) -> int:
    return now - rng.randint(MARGIN + 5, WINDOW - MARGIN - 5)


def _older_minute(rng: random.Random, now: int, lo_days: float, hi_days: float) -> int:
    return now - int(rng.uniform(lo_days, hi_days) * DAY)


def _ensure_older(chart: LabChart, code: str, now: int, rng: random.Random) -> None:
    if not chart.of(code, hi=now - WINDOW):
        chart.add(code, _older_minute(rng, now, 3, 60))


def _band(rng: random.Random, lo: float, hi: float) -> float:
    return round(rng.uniform(lo, hi), 1)


_MG_BANDS = {"lt1": (0.5, 0.94), "lt1.5": (1.0, 1.44), "le1.9": (1.5, 1.9), "normal": (2.0, 2.6)}


def _magnesium(chart: LabChart, state: str, now: int, rng: random.Random) -> None:
    recent = chart.of("MG", lo=now - WINDOW)
    if state == "none_24h":
        chart.remove(recent)
        _ensure_older(chart, "MG", now, rng)
        return
    _ensure_older(chart, "MG", now, rng)
    if not recent:
        recent = [chart.add("MG", _window_minute(rng, now))]
    if len(recent) == 1 and rng.random() < 0.5:
        chart.add("MG", _window_minute(rng, now))
        recent = chart.of("MG", lo=now - WINDOW)
    lo, hi = _MG_BANDS[state]
    recent[-1][2] = _band(rng, lo, hi)
    if state == "normal" and len(recent) > 1 and rng.random() < 0.5:
        recent[-2][2] = _band(rng, 1.2, 1.7)  # repleted since: only the latest decides


def _glucose(chart: LabChart, state: str, now: int, rng: random.Random) -> None:
    recent = chart.of("GLU", lo=now - WINDOW)
    if state == "never":
        chart.remove(chart.of("GLU"))
    elif state == "none_24h":
        chart.remove(recent)
        _ensure_older(chart, "GLU", now, rng)
    elif state == "one_24h":
        chart.remove(recent[:-1])
        if not recent:
            chart.add("GLU", _window_minute(rng, now))
        _ensure_older(chart, "GLU", now, rng)
    else:
        for _ in range(max(0, 2 - len(recent)) + (rng.random() < 0.4)):
            chart.add("GLU", _window_minute(rng, now))


def _potassium(chart: LabChart, state: str, now: int, rng: random.Random) -> None:
    if state == "never":
        chart.remove(chart.of("K"))
        return
    results = chart.of("K") or [chart.add("K", _older_minute(rng, now, 2, 200))]
    latest = results[-1]
    if state == "low":
        latest[2] = _band(rng, 2.8, 3.4)
    elif latest[2] < 3.6:
        latest[2] = _band(rng, 3.6, 4.8)


def _a1c(chart: LabChart, state: str, now: int, rng: random.Random) -> None:
    if state == "never":
        chart.remove(chart.of("A1C"))
    elif state == "old":
        chart.remove(chart.of("A1C", lo=now - (A1C_OLD_DAYS + 10) * DAY))
        if not chart.of("A1C"):
            chart.add("A1C", _older_minute(rng, now, A1C_OLD_DAYS + 20, 1700))
    else:
        if not chart.of("A1C", lo=now - (A1C_RECENT_DAYS - 10) * DAY):
            chart.add("A1C", _older_minute(rng, now, 7, A1C_RECENT_DAYS - 20))


_EDITORS = {"magnesium": _magnesium, "glucose": _glucose, "potassium": _potassium, "a1c": _a1c}


def apply_labs(chart: LabChart, states: Mapping[str, str], now: int, rng: random.Random) -> None:
    """Edit one patient's lab chart so it satisfies its state on every partition axis."""
    for axis, editor in _EDITORS.items():
        editor(chart, states[axis], now, rng)
