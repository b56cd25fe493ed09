"""Boundary features of a lab series, for the ``edge`` suite design.

Each feature names a wrong rule that the instance catches: computed from the same data
the grader uses (valid results, oldest first, plus the times of voided results), so a
branch built on a feature always holds the situation it promises.

- ``edge_inside``: results in the last 24 h, all within 15 minutes of the window start
  (a 23 h 45 window sees none);
- ``just_outside``: a result in the 15 minutes before the window start (a 24 h 15 window
  sees it);
- ``yesterday_only``: results in the last 24 h, none on today's (UTC) date ("today" sees none);
- ``lowest_differs``: in the last 24 h the lowest (or first) result differs from the latest;
- ``voided_after``: a voided result (entered-in-error, cancelled) taken after the latest
  valid one (of the window when ``window``), which a rule trusting every record would read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .._clock import NOW, WINDOW_START
from .._labs import LabPoint, last_24h, latest

MARGIN = timedelta(minutes=15)
Series = list[LabPoint]


def edge_inside(series: Series) -> bool:
    recent = last_24h(series)
    return bool(recent) and all(p.when < WINDOW_START + MARGIN for p in recent)


def just_outside(series: Series) -> bool:
    return any(WINDOW_START - MARGIN <= p.when < WINDOW_START for p in series)


def yesterday_only(series: Series) -> bool:
    recent = last_24h(series)
    return bool(recent) and all(p.when.astimezone(NOW.tzinfo).date() < NOW.date() for p in recent)


def lowest_differs(series: Series) -> bool:
    recent = last_24h(series)
    if len(recent) < 2:
        return False
    last = latest(recent).value
    return min(p.value for p in recent) != last and recent[0].value != last


def voided_after(series: Series, voided: Series, window: bool = False) -> bool:
    scope = last_24h(series) if window else series
    point = latest(scope)
    lo = point.when if point is not None else (WINDOW_START if window else datetime.min.replace(tzinfo=NOW.tzinfo))
    return any(lo < p.when <= NOW for p in voided)


def voided_in_window(voided: Series) -> bool:
    return any(WINDOW_START <= p.when <= NOW for p in voided)


def mean_24h(series: Series, start: datetime = WINDOW_START) -> float | None:
    values = [p.value for p in series if start <= p.when <= NOW]
    return sum(values) / len(values) if values else None
