"""One helper for every message that quotes a value: :func:`short`."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["short"]


def short(value: Any, limit: int = 80, *, squash: bool = False) -> str:
    """``value`` as text of at most ``limit`` characters, ``…`` marking a cut.

    A string is taken as is; anything else as compact JSON (``str`` for what JSON cannot
    hold). ``squash`` folds runs of whitespace (newlines included) into one space first.
    """
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    if squash:
        text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
