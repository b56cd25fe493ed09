"""The frozen clock of every task and datetime helpers shared by builders and graders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NOW = datetime(2023, 11, 13, 10, 15, tzinfo=UTC)
NOW_ISO = NOW.isoformat()  # "2023-11-13T10:15:00+00:00"
DAY = timedelta(hours=24)
WINDOW_START = NOW - DAY  # "the last 24 hours" is [NOW - 24 h, NOW]


def parse_instant(value: object) -> datetime | None:
    """An aware datetime from an RFC 3339 / ISO 8601 string (``Z`` or an offset); None if
    not one. RFC 3339 allows a space (or a lower-case ``t``) between date and time, and a
    lower-case ``z``: the same instant.

    A dateTime without an offset is read as UTC (the clock of the record); a plain date
    is not an instant and gives None.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) < 16 or text[10] not in "Tt ":
        return None
    text = text[:10] + "T" + text[11:]
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()
