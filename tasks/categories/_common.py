"""Pieces every category uses: the shared context text and the reference solutions'
tool calls (finding a patient's lab series through ``search_lab_observations``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .._clock import NOW_ISO, iso
from .._labs import LabPoint, points
from ..errors import SolveError
from ..models import Check, Grade, Task, ToolResult
from ._orders import ACTION_CONTEXT
from ._writes import WriteSpec, grade_writes

QUERY_CONTEXT = (
    f"The current date and time is {NOW_ISO}. The patient's MRN is the FHIR Patient id. "
    "Answer by calling finish with a JSON list in exactly the format the task gives."
)


def context(kind: str) -> str:
    return QUERY_CONTEXT + (" " + ACTION_CONTEXT if kind == "action" else "")


# Said in every lab instruction of the ``edge`` design (whose cohorts hold voided results).
VOIDED_NOTE = ("Lab results whose status is entered-in-error or cancelled were withdrawn: they "
               "are not results, so ignore them.")


def templated(kind: str, template: str, labs: bool = False
              ) -> Callable[..., tuple[str, str]]:
    """``render(patient, params, design="mab")`` from an instruction template (``{patient}``
    and the task's params); ``labs``: a lab task, which in the ``edge`` design also says how
    voided results count."""
    def render(patient: str | None, params: dict[str, Any], design: str = "mab") -> tuple[str, str]:
        instruction = template.format(patient=patient, **params)
        if labs and design != "mab":
            instruction += " " + VOIDED_NOTE
        return instruction, context(kind)
    return render


def graded(answer_checks: list[Check], writes: list[dict], specs: list[WriteSpec]) -> Grade:
    """The grade of a task: its answer checks plus the write checks."""
    return Grade.of(answer_checks + grade_writes(writes, specs))


# What a careful client does when the EHR misbehaves (``medagent bench --faults``): a 429
# or 503 was not processed, so the call is sent again after the server's Retry-After
# (bounded by MAX_WAIT_S; BACKOFF_S doubling when the reply names none), at most
# MAX_RETRIES times; a search result with a ``next`` link is paged to its end.
RETRY_STATUSES = frozenset({429, 503})
MAX_RETRIES = 4
MAX_WAIT_S = 5.0
BACKOFF_S = 0.5
MAX_PAGES = 100


async def call_retrying(env: Any, name: str, args: dict) -> ToolResult:
    """``env.call`` sent again while the server answers 429/503 (see above)."""
    for attempt in range(MAX_RETRIES + 1):
        result = await env.call(name, args)
        if result.status not in RETRY_STATUSES or attempt == MAX_RETRIES:
            return result
        wait = getattr(result, "retry_after", None)
        if wait is None:
            wait = BACKOFF_S * 2 ** attempt
        await asyncio.sleep(min(wait, MAX_WAIT_S))
    raise AssertionError("unreachable")


def next_link(content: Any) -> str | None:
    """The ``next`` link of a (trimmed) search Bundle, if it has one."""
    if not isinstance(content, dict):
        return None
    return next((link.get("url") for link in content.get("link") or []
                 if isinstance(link, dict) and link.get("relation") == "next"), None)


async def call_ok(env: Any, name: str, args: dict) -> ToolResult:
    """A tool call that must succeed: retried on 429/503, a search paged to its end (the
    result holds every page's entries and no ``next`` link)."""
    result = await call_retrying(env, name, args)
    if not result.ok:
        raise SolveError(f"{name}({args}) failed: {str(result.content)[:300]}")
    url = next_link(result.content)
    if url is None:
        return result
    content = dict(result.content)
    entries = list(content.get("entry") or [])
    for _ in range(MAX_PAGES):
        page = await call_retrying(env, "next_page", {"url": url})
        if not page.ok:
            raise SolveError(f"next_page({url}) failed: {str(page.content)[:300]}")
        entries.extend(page.content.get("entry") or [])
        url = next_link(page.content)
        if url is None:
            break
    else:
        raise SolveError(f"{name}({args}): more than {MAX_PAGES} pages")
    content["entry"] = entries
    content.pop("link", None)
    return ToolResult(True, result.status, content)


def resources(result: ToolResult) -> list[dict]:
    return [e["resource"] for e in (result.content or {}).get("entry") or []]


async def fetch_series(env: Any, mrn: str, code: str,
                       since: datetime | None = None) -> list[LabPoint]:
    """A patient's results of one lab code (from ``since`` on), oldest first."""
    args: dict = {"patient": mrn, "code": code, "count": 1000}
    if since is not None:
        args["date"] = [f"ge{iso(since)}"]
    result = await call_ok(env, "search_lab_observations", args)
    return points(resources(result), code)


def answer_solver(code: str, decide: Callable[[list[LabPoint]], dict],
                  since: datetime | None = None) -> Callable:
    """``solve`` of a lab query: fetch the series through the tools, answer as decided."""
    async def solve(task: Task, env: Any) -> list:
        return decide(await fetch_series(env, mrn(task), code, since=since))["answer"]
    return solve


async def write(env: Any, tool: str, resource: dict) -> None:
    await call_ok(env, tool, {"resource": resource})


_MRN = re.compile(r"\bS\d{7}\b")


def mrn_in(view: Any) -> str:
    """The MRN an instruction names (what a policy without reads can know of the patient)."""
    found = _MRN.search(view.instruction)
    if found is None:
        raise SolveError(f"{view.id}: the instruction names no MRN")
    return found.group(0)


def guess(answer: list) -> Callable:
    """``blind`` of a category whose best guess is a fixed answer and no write."""
    async def blind(view: Any, env: Any) -> list:
        return list(answer)
    return blind


def mrn(task: Task) -> str:
    if task.patient is None:
        raise SolveError(f"{task.id}: task has no patient")
    return task.patient
