"""How results name, order and format things, in one place (terminal views, report, leaderboard).

- :func:`natural_key`: ``task1_2`` before ``task1_10``, ``C2`` before ``C10``.
- :func:`trial_order`: trials by category, task number, epoch.
- :func:`category_title` / :func:`category_label`: a category number with its name from
  the task registry (``tasks.get_category``); a number the registry does not know keeps
  just its number.
- :func:`pct`, :func:`usd`, :func:`signed`: a fraction as a percentage, a cost in dollars,
  a harm-weighted score with its sign; ``—`` for a missing value.
- :func:`number_ranges`: a suite's category numbers as text (``1-10``, ``11-18``, ``1-3, 5``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["category_label", "category_title", "natural_key", "number_ranges", "pct", "signed", "trial_order",
           "usd"]

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: object) -> tuple[tuple[int, int | str], ...]:
    """A sort key comparing the digit runs of ``text`` as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(str(text)) if part)


def trial_order(trial: dict[str, Any]) -> tuple[Any, ...]:
    """``task2_9#1`` before ``task2_10#1``; epochs of one task together."""
    try:
        category = int(trial.get("category") or 0)
    except (TypeError, ValueError):
        category = 0
    return (category, natural_key(trial.get("task_id", "")), int(trial.get("epoch") or 0),
            natural_key(trial.get("trial_id", "")))


@lru_cache(maxsize=256)
def category_title(number: object) -> str | None:
    """The category's title (``"Magnesium replacement"``), or None when it is not registered."""
    try:
        from medagent import tasks

        return str(tasks.get_category(int(str(number))).TITLE)
    except Exception:  # noqa: BLE001 - an unknown or malformed number just has no title
        return None


def category_label(number: object, *, short: bool = False) -> str:
    """``"C5 Magnesium replacement"`` (``short``) or ``"category 5 · Magnesium replacement"``."""
    title = category_title(number)
    head = f"C{number}" if short else f"category {number}"
    if not title:
        return head
    return f"{head} {title}" if short else f"{head} · {title}"


def pct(value: float | None, digits: int = 1) -> str:
    """``62.5%``; ``—`` when there is no value."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def usd(value: float | int | str | None) -> str:
    """``$0.0012`` below a dollar, ``$1,234.56`` from one; ``—`` when no cost is known (an
    agent without a model, an unpriced model)."""
    if value is None:
        return "—"
    value = float(value)
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def signed(value: float | None) -> str:
    """A harm-weighted score (−1 … +1) with its sign, e.g. ``+0.62``."""
    return "—" if value is None else f"{value:+.2f}"


def number_ranges(numbers: Any) -> str:
    """``[1, 2, 3, 5, 11, 12]`` → ``"1-3, 5, 11-12"`` (sorted, duplicates dropped)."""
    runs: list[list[int]] = []
    for n in sorted({int(n) for n in numbers}):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
