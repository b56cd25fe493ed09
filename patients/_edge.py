"""The ``edge-v1`` profile: the mab-v1 cohort plus data on every rule's boundary.

Each patient keeps its scenario state on every axis (so ``manifest.scenarios`` still
holds) and gets one *variant* of that state, dealt round-robin over the state's patients
in a seeded order (``manifest.scenarios["edge"]`` lists them as ``"<axis>:<variant>"``).
A variant is ``<pinned value>/<pattern>`` (the value may be empty: keep the drawn one):

- ``edge_inside``: the only result(s) of the last 24 h lie 2-12 minutes inside the window
  start (a 23 h 45 window misses them); ``just_outside``: a result 2-13 minutes before the
  window start and none inside (a 24 h 15 window sees it);
- ``yesterday``: every result of the window is from yesterday evening (18:30-23:30 UTC), none
  from today (a "today" rule sees nothing);
- ``three``: three results in the window, the first higher and the middle one lower than the
  latest (first, lowest and latest all differ);
- ``earlier_lower`` / ``earlier_higher``: an older result below / above the latest;
- ``after_error``: a result with status ``entered-in-error`` (or ``cancelled``, without a
  value) recorded after the latest valid one, with a value that would change the decision;
  ``error_inside``: such a voided result is the only one of the window; ``cancelled``: a
  patient without any result has one cancelled test;
- ``364d`` / ``365d`` / ``366d``: the latest HbA1c exactly that many days before NOW;
  ``months``: 190-330 days (recent) or 370-420 days (old).

Magnesium values sit on 0.9, 1.0, 1.4, 1.5, 1.9 and 2.0 mg/dL, potassium on 3.4, 3.5 and
3.6 mmol/L. Half of the patients have their lab times written with a non-UTC offset
(-08:00, +05:30 or -05:00). Names: a few patients get a double-barrelled family name
(``Garcia-Lopez``) and a few pairs share given name and birth date where one family name
starts with the other, so a prefix search for one also finds the other.

All of it draws from streams seeded ``<seed>:edge:…``, never the shared ones.
"""

from __future__ import annotations

import random
from typing import Any

from ._names import FAMILY
from ._time import DAY, HOUR, day_start

W = 24 * HOUR
VARIANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "magnesium": {
        "lt1": ("0.9/edge_inside", "0.9/three", "/yesterday", "0.9/after_error"),
        "lt1.5": ("1.0/plain", "1.0/three", "1.4/edge_inside", "1.0/yesterday"),
        "le1.9": ("1.5/plain", "1.9/three", "1.5/edge_inside", "1.9/yesterday"),
        "normal": ("2.0/plain", "2.0/three", "2.0/after_error", "/yesterday"),
        "none_24h": ("/just_outside", "/error_inside", "/just_outside", "/plain"),
    },
    "glucose": {
        "several_24h": ("/edge_inside", "/yesterday", "/after_error", "/plain"),
        "one_24h": ("/just_outside", "/edge_inside", "/yesterday", "/plain"),
        "none_24h": ("/just_outside", "/error_inside", "/just_outside", "/plain"),
        "never": ("/cancelled", "/plain"),
    },
    "potassium": {
        "low": ("3.4/plain", "3.4/earlier_lower", "/after_error", "/earlier_higher"),
        "normal": ("3.5/plain", "3.5/earlier_lower", "3.6/plain", "/after_error"),
        "never": ("/cancelled", "/plain"),
    },
    "a1c": {
        "recent": ("/364d", "/365d", "/months", "/plain"),
        "old": ("/366d", "/months", "/plain", "/after_error"),
        "never": ("/cancelled", "/plain"),
    },
}
OFFSETS = (None, -8 * 60, None, 5 * 60 + 30, None, -5 * 60)  # minutes east of UTC


# ---------------------------------------------------------------------------- the plan

def _hyphenated(family: str, rng: random.Random) -> str:
    other = rng.choice([f for f in FAMILY if f != family and "-" not in f])
    return f"{family}-{other}"


def names(patients: list[Any], paired: set[int], seed: int) -> dict[str, list[str]]:
    """Prefix names and each patient's variants; returns the ``edge`` membership lists."""
    rng = random.Random(f"{seed}:edge:names")
    free = [p for p in patients if p.index not in paired]
    rng.shuffle(free)
    k = max(1, len(patients) // 20)
    singles, pair_pool = free[:k], free[k:3 * k]
    for p in singles:
        p.family = _hyphenated(p.family, rng)
    prefix_pairs = []
    for a, b in zip(pair_pool[0::2], pair_pool[1::2], strict=False):
        first, second = (a, b) if a.index < b.index else (b, a)  # the longer name comes first
        first.gender, first.given, first.birth_date = second.gender, list(second.given), second.birth_date
        first.family = _hyphenated(second.family, rng)
        prefix_pairs += [first, second]
    members: dict[str, list[str]] = {
        "names:hyphenated": sorted(p.mrn for p in singles),
        "names:prefix_pair": sorted(p.mrn for p in prefix_pairs),
    }
    n = len(patients)
    for axis, table in VARIANTS.items():
        order = random.Random(f"{seed}:edge:{axis}").sample(range(n), n)
        dealt: dict[str, int] = {}
        for index in order:
            p = patients[index]
            state = p.states[axis]
            options = table[state]
            variant = options[dealt.get(state, 0) % len(options)]
            dealt[state] = dealt.get(state, 0) + 1
            p.variants[axis] = variant
            members.setdefault(f"{axis}:{state}:{variant}", []).append(p.mrn)
    order = random.Random(f"{seed}:edge:offset").sample(range(n), n)
    for slot, index in enumerate(order):
        offset = OFFSETS[slot % len(OFFSETS)]
        patients[index].variants["offset"] = offset
        members.setdefault(f"offset:{_offset_text(offset)}", []).append(patients[index].mrn)
    return {key: sorted(value) for key, value in sorted(members.items())}


def _offset_text(offset: int | None) -> str:
    if not offset:
        return "+00:00"
    sign = "+" if offset > 0 else "-"
    return f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


# ---------------------------------------------------------------------------- the labs

def _put(chart: Any, code: str, minute: int, value: float | None, status: str | None = None) -> list:
    rec = chart.add(code, minute, value=0.0 if value is None else value, exact=True)
    if value is None:
        rec[2] = None
    if status:
        rec.append({"status": status})
    return rec


def _void(chart: Any, code: str, minute: int, value: float, rng: random.Random) -> None:
    """A voided result: entered-in-error with a value, or (one time in three) cancelled."""
    if rng.random() < 1 / 3:
        _put(chart, code, minute, None, "cancelled")
    else:
        _put(chart, code, minute, value, "entered-in-error")


def _split(variant: str) -> tuple[float | None, str]:
    pin, _, pattern = variant.partition("/")
    return (float(pin) if pin else None), pattern


def _yesterday(now: int, rng: random.Random) -> int:
    return day_start(now) - rng.randint(30, 330)


def _cancelled_only(chart: Any, code: str, state: str, pattern: str, now: int, rng: random.Random,
                    days: tuple[int, int]) -> bool:
    """A patient without results (state ``never``): nothing, or (``cancelled``) one cancelled
    test ``days`` (a range) ago. True when the state was ``never``, i.e. handled here."""
    if state != "never":
        return False
    if pattern == "cancelled":
        _put(chart, code, now - rng.randint(days[0] * DAY, days[1] * DAY), None, "cancelled")
    return True


def _window_value(chart: Any, code: str, state: str, pin: float | None, pattern: str, now: int,
                  rng: random.Random, around: float, other: float) -> None:
    """Shared by magnesium and glucose: ``around`` is a plausible value, ``other`` one that
    changes the decision or the answer when a voided result is trusted."""
    if state == "none_24h":
        if pattern == "just_outside":
            _put(chart, code, now - W - rng.randint(2, 13), around)
        elif pattern == "error_inside":
            _void(chart, code, now - rng.randint(2 * HOUR, W - HOUR), other, rng)
        return
    recent = chart.of(code, lo=now - W)
    value = pin if pin is not None else recent[-1][2]
    if pattern == "edge_inside":
        if code == "GLU" and state == "several_24h":  # one more result at the edge, off the mean
            _put(chart, code, now - W + rng.randint(2, 12), round(value + 35 + rng.randint(0, 20)))
        else:  # the only result of the window sits at its edge
            chart.remove(recent)
            _put(chart, code, now - W + rng.randint(2, 12), value)
    elif pattern == "yesterday":
        chart.remove(recent)
        count = 2 if code == "GLU" and len(recent) > 1 else 1
        for i in range(count):
            v = value if i == count - 1 else round(value * 1.15 + (0 if code == "MG" else 10), 1 if code == "MG" else 0)
            _put(chart, code, _yesterday(now, rng) - (90 * (count - 1 - i)), v)
    elif pattern == "three":
        chart.remove(recent)
        _put(chart, code, now - rng.randint(16 * HOUR, 20 * HOUR), round(value + 0.4, 1))
        _put(chart, code, now - rng.randint(8 * HOUR, 12 * HOUR), round(max(0.5, value - 0.3), 1))
        _put(chart, code, now - rng.randint(1 * HOUR, 4 * HOUR), value)
    elif pattern == "just_outside":  # one_24h: a result just before the window
        recent[-1][2] = value
        _put(chart, code, now - W - rng.randint(2, 13), round(value + 30 + rng.randint(0, 20)))
    elif pattern == "after_error":
        recent[-1][2] = value
        _void(chart, code, rng.randint(recent[-1][1] + 5, now - 5), other, rng)
    else:
        recent[-1][2] = value


def _magnesium(chart: Any, state: str, variant: str, now: int, rng: random.Random) -> None:
    pin, pattern = _split(variant)
    recent = chart.of("MG", lo=now - W)
    low = recent and (pin if pin is not None else recent[-1][2]) < 1.5
    _window_value(chart, "MG", state, pin, pattern, now, rng, round(rng.uniform(1.3, 2.3), 1),
                  2.2 if low else 1.2)


def _glucose(chart: Any, state: str, variant: str, now: int, rng: random.Random) -> None:
    _, pattern = _split(variant)
    if _cancelled_only(chart, "GLU", state, pattern, now, rng, (3, 60)):
        return
    _window_value(chart, "GLU", state, None, pattern, now, rng, rng.randint(85, 190), 412)


def _potassium(chart: Any, state: str, variant: str, now: int, rng: random.Random) -> None:
    pin, pattern = _split(variant)
    if _cancelled_only(chart, "K", state, pattern, now, rng, (5, 200)):
        return
    latest = chart.of("K")[-1]
    value = pin if pin is not None else latest[2]
    latest[2] = value
    if pattern in ("earlier_lower", "earlier_higher"):
        shift = -0.4 if pattern == "earlier_lower" else 0.6
        _put(chart, "K", latest[1] - rng.randint(DAY, 3 * DAY), round(value + shift, 1))
    elif pattern == "after_error":
        _void(chart, "K", rng.randint(latest[1] + 5, now - 5), 4.1 if value < 3.5 else 3.0, rng)


def _a1c(chart: Any, state: str, variant: str, now: int, rng: random.Random) -> None:
    _, pattern = _split(variant)
    if _cancelled_only(chart, "A1C", state, pattern, now, rng, (30, 300)):
        return
    series = chart.of("A1C")
    value = series[-1][2]
    days = {"364d": 364, "365d": 365, "366d": 366}.get(pattern)
    if pattern == "months":
        days = rng.randint(190, 330) if state == "recent" else rng.randint(370, 420)
    if days is not None:
        chart.remove(chart.of("A1C", lo=now - days * DAY - 1))
        _put(chart, "A1C", now - days * DAY, value)
    elif pattern == "after_error":
        _void(chart, "A1C", now - rng.randint(20, 90) * DAY, round(value + 0.8, 1), rng)


_EDITORS = {"magnesium": _magnesium, "glucose": _glucose, "potassium": _potassium, "a1c": _a1c}


def labs(chart: Any, job: Any, rng: random.Random) -> None:
    """Apply the patient's variants to its lab chart (after the scenario states)."""
    for axis, editor in _EDITORS.items():
        editor(chart, job.states[axis], job.variants[axis], job.now, rng)
    chart.offset = job.variants.get("offset")
