"""Helpers of the task tests: pick tasks by branch, edit oracle resources."""

from __future__ import annotations

import copy
from typing import Any


def task_of(suite: Any, category: int, branch_prefix: str = "") -> Any:
    for task in suite.category(category):
        if task.branch.startswith(branch_prefix):
            return task
    raise AssertionError(f"no task of category {category} with branch {branch_prefix!r}*")


def stored(writes: list[dict]) -> list[dict]:
    """The written resources as a client would POST them again (no id, no meta)."""
    out = []
    for entry in writes:
        r = copy.deepcopy(entry["resource"])
        r.pop("id", None)
        r.pop("meta", None)
        out.append(r)
    return out


def edit(resource: dict, path: str, value: Any) -> dict:
    """A copy of ``resource`` with ``path`` (dots; digits index lists) set to ``value``;
    ``value`` None removes the element."""
    out = copy.deepcopy(resource)
    node: Any = out
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    return out


def other_patient(suite: Any, mrn: str) -> str:
    return next(t.patient for t in suite.tasks if t.patient and t.patient != mrn)
