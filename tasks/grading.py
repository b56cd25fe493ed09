"""``grade``: one trial's grade from its final answer and the session's write log."""

from __future__ import annotations

from typing import Any

from .categories import get_category
from .categories._harm import harm_checks
from .models import Grade, Task

__all__ = ["grade"]


def grade(task: Task, answer: Any, writes: list[dict] | None) -> Grade:
    """Grade one trial from its final answer and the session's write log: the category's
    checks plus the harm checks every category shares (``categories/_harm.py``)."""
    category = get_category(task.category)
    checks = category.grade(task, answer, writes or []).checks
    harm = harm_checks(task, writes, getattr(category, "allowed_change", None))
    return Grade.of(checks + harm)
