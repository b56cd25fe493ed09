"""FHIR date/dateTime/instant values as half-open ranges of epoch milliseconds.

A value with a lower precision covers its whole span: ``2023`` is the year,
``2023-11-13`` the day, ``2023-11-13T10:15`` the minute. Values without a time zone
are read as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .errors import FhirError

NEG_INF = -(2**62)
POS_INF = 2**62
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def date_range(text: str) -> tuple[int, int]:
    """``(lo, hi)`` in epoch ms, ``hi`` exclusive. Raises ValueError for a malformed value."""
    n = len(text)
    if n == 4:
        year = int(text)
        return _ms(datetime(year, 1, 1, tzinfo=UTC)), _ms(datetime(year + 1, 1, 1, tzinfo=UTC))
    if n == 7:
        year, month = int(text[:4]), int(text[5:7])
        if text[4] != "-":
            raise ValueError(text)
        nxt = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return _ms(datetime(year, month, 1, tzinfo=UTC)), _ms(nxt)
    if n == 10:
        if text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        lo = _ms(datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), tzinfo=UTC))
        return lo, lo + 86_400_000
    if n < 13 or text[10] != "T":
        raise ValueError(text)
    time_part = text[11:]
    for i, ch in enumerate(time_part):
        if ch in "Z+-":
            clock = time_part[:i]
            break
    else:
        clock = time_part
    if len(clock) == 2:
        step, text = 3_600_000, text[:13] + ":00" + text[13:]
    elif len(clock) == 5:
        step = 60_000
    elif len(clock) == 8:
        step = 1000
    else:
        step = 1
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    lo = _ms(dt)
    return lo, lo + step


def value_range(value: object) -> tuple[int, int] | None:
    """The range of a stored date-like element (a string or a Period); None if not a date."""
    try:
        if isinstance(value, str):
            return date_range(value)
        if isinstance(value, dict):
            start, end = value.get("start"), value.get("end")
            if start is None and end is None:
                return None
            lo = date_range(start)[0] if isinstance(start, str) else NEG_INF
            hi = date_range(end)[1] if isinstance(end, str) else POS_INF
            return lo, hi
    except ValueError:
        return None
    return None


def parse_search_date(text: str) -> tuple[int, int]:
    try:
        return date_range(text)
    except ValueError:
        raise FhirError(400, f"Invalid date/time value: {text!r}", code="invalid") from None


def now_iso() -> str:
    """The current instant as FHIR ``instant`` text in UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
