"""The frozen clock of the cohort and fast time helpers.

Times inside the generator are whole minutes since the Unix epoch (UTC), which keeps
arithmetic cheap and makes "no two labs at the same instant" a set-of-ints check.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

NOW = datetime(2023, 11, 13, 10, 15, tzinfo=timezone.utc)
"""The moment every task is asked at; nothing in the cohort is dated after it."""

DAY = 1440
HOUR = 60
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_minutes(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return int((moment - _EPOCH).total_seconds() // 60)


@lru_cache(maxsize=4096)
def _day(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).date().isoformat()


def iso(minute: int) -> str:
    """``2023-11-12T18:20:00+00:00`` for a minute since the epoch."""
    day, rest = divmod(minute, DAY)
    return f"{_day(day)}T{rest // 60:02d}:{rest % 60:02d}:00+00:00"


def iso_offset(minute: int, offset: int | None) -> str:
    """Like ``iso`` but written in local time at ``offset`` minutes east of UTC."""
    if not offset:
        return iso(minute)
    text = iso(minute + offset)[:19]
    sign = "+" if offset > 0 else "-"
    return f"{text}{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


def day_start(minute: int) -> int:
    return minute - minute % DAY


def age_at(birth: date, moment: datetime) -> int:
    years = moment.year - birth.year
    if (moment.month, moment.day) < (birth.month, birth.day):
        years -= 1
    return years
