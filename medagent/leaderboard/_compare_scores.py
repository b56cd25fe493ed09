"""Recorded scores (summary.json) against the scores recomputed from re-graded trials.

Floats agree within 1e-9; ``pass_k`` may be any subset of k (or one number, the largest
k); ``harm``, ``harm_weighted`` and usage (tokens, cost) are compared when recorded. A disagreement is a
one-line :class:`medagent.errors.SubmissionError` naming the score.
"""

from __future__ import annotations

import math
from typing import Any

from medagent.errors import SubmissionError

__all__ = ["compare_scores"]

_REL_TOL = 1e-9
_ABS_TOL = 1e-9


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _close(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)
    return a == b and type(a) is type(b)


def _mismatch(name: str, recorded: Any, computed: Any) -> SubmissionError:
    return SubmissionError(f"score {name!r} is {recorded!r} but re-grading gives {computed!r}")


def compare_scores(recorded: dict, computed: dict, pass_k: dict[str, float]) -> None:
    for key in ("n_trials", "overall", "query", "action", "per_category"):
        if key not in recorded:
            raise SubmissionError(f"malformed submission: scores lack {key!r}")
    for key in ("n_trials", "errors", "overall", "query", "action"):
        if key in recorded and not _close(recorded[key], computed[key]):
            raise _mismatch(key, recorded[key], computed[key])
    per_cat = recorded["per_category"]
    if not isinstance(per_cat, dict) or set(map(str, per_cat)) != set(computed["per_category"]):
        raise _mismatch("per_category", per_cat, computed["per_category"])
    for cat, value in per_cat.items():
        if not _close(value, computed["per_category"][str(cat)]):
            raise _mismatch(f"per_category.{cat}", value, computed["per_category"][str(cat)])
    _compare_pass_k(recorded.get("pass_k"), pass_k)
    _compare_harm(recorded.get("harm"), computed["harm"])
    _compare_weighted(recorded.get("harm_weighted"), computed["harm_weighted"])
    _compare_usage(recorded, computed)
    ci = recorded.get("overall_ci95")
    if ci is not None and not (
        isinstance(ci, list) and len(ci) == 2 and all(_is_number(v) for v in ci)
        and ci[0] - _ABS_TOL <= computed["overall"] <= ci[1] + _ABS_TOL
    ):
        raise SubmissionError(
            f"score 'overall_ci95' {ci!r} does not contain the re-graded overall {computed['overall']!r}"
        )


def _compare_pass_k(recorded: Any, computed: dict[str, float]) -> None:
    """``recorded`` is ``{"k": value}`` (any subset of k) or one number (the largest k)."""
    if recorded is None:
        return
    if isinstance(recorded, dict):
        for k, value in recorded.items():
            if str(k) not in computed or not _close(value, computed[str(k)]):
                raise _mismatch(f"pass_k.{k}", value, computed.get(str(k)))
    elif not computed or not _close(recorded, computed[max(computed, key=int)]):
        raise _mismatch("pass_k", recorded, computed[max(computed, key=int)] if computed else None)


def _compare_harm(recorded: Any, computed: dict) -> None:
    """A recorded ``harm`` block must agree with the re-graded trials' harm."""
    if recorded is None:
        return
    if not isinstance(recorded, dict):
        raise _mismatch("harm", recorded, computed)
    for key in ("count", "rate"):
        if key in recorded and not _close(recorded[key], computed[key]):
            raise _mismatch(f"harm.{key}", recorded[key], computed[key])
    per_cat = recorded.get("per_category") or {}
    if not isinstance(per_cat, dict):
        raise _mismatch("harm.per_category", per_cat, computed["per_category"])
    for cat, value in per_cat.items():
        mine = computed["per_category"].get(str(cat))
        if not isinstance(value, dict) or mine is None or not _close(value.get("count"), mine["count"]):
            raise _mismatch(f"harm.per_category.{cat}", value, mine)


def _compare_weighted(recorded: Any, computed: dict) -> None:
    """A recorded ``harm_weighted`` block must agree with the re-graded trials' outcomes."""
    if recorded is None:
        return
    if not isinstance(recorded, dict):
        raise _mismatch("harm_weighted", recorded, computed)
    if "overall" in recorded and not _close(recorded["overall"], computed["overall"]):
        raise _mismatch("harm_weighted.overall", recorded["overall"], computed["overall"])
    per_cat = recorded.get("per_category") or {}
    if not isinstance(per_cat, dict):
        raise _mismatch("harm_weighted.per_category", per_cat, computed["per_category"])
    for cat, value in per_cat.items():
        if not _close(value, computed["per_category"].get(str(cat))):
            raise _mismatch(f"harm_weighted.per_category.{cat}", value, computed["per_category"].get(str(cat)))


def _compare_usage(recorded: dict, computed: dict) -> None:
    tokens = recorded.get("tokens")
    if _is_number(tokens):
        if tokens != computed["tokens"]["total_tokens"]:
            raise _mismatch("tokens", tokens, computed["tokens"]["total_tokens"])
    elif isinstance(tokens, dict):
        for key, value in tokens.items():
            if key in computed["tokens"] and value != computed["tokens"][key]:
                raise _mismatch(f"tokens.{key}", value, computed["tokens"][key])
    elif tokens is not None:
        raise _mismatch("tokens", tokens, computed["tokens"])
    cost = recorded.get("cost_usd")
    if cost is None:
        return
    if not _is_number(cost) or not math.isclose(cost, computed["cost_usd"] or 0.0, rel_tol=1e-6, abs_tol=1e-9):
        raise _mismatch("cost_usd", cost, computed["cost_usd"])
