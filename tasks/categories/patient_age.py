"""Category 2 (query): a patient's age in completed years at "now".

Branches: ``birthday_passed`` (this year's birthday is on or before today) and
``birthday_ahead`` (still to come: a naive year subtraction is one too many).
Expected: ``[age]`` (an integer; ``52`` and ``52.0`` are equal).
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from .._chart import Chart
from .._clock import NOW
from ..models import Grade, Task
from ._answers import YEARS, check_answer, number_in
from ._common import call_ok, graded, guess, mrn, resources, templated
from ._select import Instance, select_instances

NUMBER, NAME, KIND = 2, "patient_age", "query"
TITLE = "Age in whole years"
BRANCHES = {"birthday_passed": 15, "birthday_ahead": 15}
DESIGNS = {"mab": BRANCHES, "edge": BRANCHES}


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def pools(chart: Chart) -> dict[str, list[str]]:
    today = NOW.date()
    out: dict[str, list[str]] = {b: [] for b in BRANCHES}
    for m, p in chart.patients.items():
        born = date.fromisoformat(p.birth_date)
        ahead = (today.month, today.day) < (born.month, born.day)
        out["birthday_ahead" if ahead else "birthday_passed"].append(m)
    return out


def instance(chart: Chart, branch: str, mrn: str, rng: random.Random) -> Instance:
    born = date.fromisoformat(chart.patients[mrn].birth_date)
    return Instance(mrn, branch, {}, {"answer": [age_on(born, NOW.date())]})


def select(chart: Chart, rng: random.Random, n: int) -> list[Instance]:
    return select_instances(pools(chart), BRANCHES, n, rng,
                            lambda b, m, r: instance(chart, b, m, r))


render = templated(KIND, (
    "How old is patient {patient} today, in completed years? Answer with a list holding one "
    "whole number, e.g. [52]."))


async def solve(task: Task, env: Any) -> list:
    result = await call_ok(env, "search_patients", {"identifier": mrn(task)})
    found = [r for r in resources(result) if r.get("id") == task.patient]
    return [age_on(date.fromisoformat(found[0]["birthDate"]), NOW.date())]


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return graded(check_answer(answer, task.expected["answer"], [number_in(YEARS, integer=True)]), writes, [])


# Without reads: the cohort's typical age (MedAgentBench's mean age is 58.2 years).
blind = guess([58])
