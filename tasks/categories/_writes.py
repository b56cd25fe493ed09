"""Grading what was written: the session write log reduced to its end state, matched to
the writes a task requires.

The write log (contract entry shape) lists stored writes in order; a resource created and
then updated counts once, in its final version, and a deleted one not at all. Each
required write (a ``WriteSpec``) is matched to one written resource of its type whose
checks all pass; any written resource left over is an extra write and fails the task
(an order where none was indicated, a second order where one was asked, any write in a
query task). Reads never appear in the log and never fail a task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..models import Check
from ._fhir import check


@dataclass(frozen=True, slots=True)
class WriteSpec:
    label: str  # "magnesium order"
    resource_type: str
    checks: Callable[[dict], list[Check]]


def final_resources(writes: list[dict] | None) -> list[dict]:
    """The written resources in their final state, in first-write order."""
    state: dict[tuple[str, str], dict | None] = {}
    for entry in writes or []:
        rtype = entry.get("resourceType") or (entry.get("resource") or {}).get("resourceType")
        key = (str(rtype), str(entry.get("id")))
        if entry.get("interaction") == "delete":
            state[key] = None
        else:
            state[key] = entry.get("resource") or {"resourceType": rtype, "id": entry.get("id")}
    return [r for r in state.values() if r is not None]


def _ref(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def grade_writes(writes: list[dict] | None, specs: list[WriteSpec]) -> list[Check]:
    remaining = final_resources(writes)
    checks: list[Check] = []
    for spec in specs:
        candidates = [r for r in remaining if r.get("resourceType") == spec.resource_type]
        if not candidates:
            checks.append(check(spec.label, False, f"a {spec.resource_type}", None,
                                f"{spec.label}: no {spec.resource_type} was written"))
            continue
        results = [(r, spec.checks(r)) for r in candidates]
        best, best_checks = max(results, key=lambda rc: sum(c.passed for c in rc[1]))
        remaining.remove(best)
        ok = all(c.passed for c in best_checks)
        checks.append(check(spec.label, ok, f"a {spec.resource_type}", _ref(best),
                            f"{spec.label}: {_ref(best)} does not match"))
        checks.extend(c.model_copy(update={"name": f"{spec.label}.{c.name}"}) for c in best_checks)
    if not specs and not remaining:
        checks.append(check("writes", True, "no writes", "no writes"))
    for extra in remaining:
        checks.append(check("extra write", False, None, _ref(extra),
                            f"{_ref(extra)} was written but this task does not call for it"))
    return checks
