"""Category 1 (query): find a patient's MRN from name and date of birth.

Branches: ``found`` (a patient without look-alikes), ``found_lookalike`` (a patient who
has a look-alike: same name with another birth date, or same birth date with a name one
letter apart), ``not_found_birthdate`` (a real name with a birth date nobody with that
name has) and ``not_found_name`` (a real birth date with a name one letter off that no
patient has). Expected: ``[MRN]`` or ``["Patient not found"]``.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from .._chart import Chart, Person
from ..models import Grade, Task
from ._answers import check_answer, same_mrn_or_text
from ._common import call_ok, graded, resources, templated
from ._select import Instance, select_instances

NUMBER, NAME, KIND = 1, "patient_lookup", "query"
TITLE = "Find a patient's MRN"
NOT_FOUND = "Patient not found"
BRANCHES = {"found": 12, "found_lookalike": 10, "not_found_birthdate": 4, "not_found_name": 4}


def _one_letter_apart(a: str, b: str) -> bool:
    if len(a) != len(b) or a == b:
        return False
    return sum(x != y for x, y in zip(a.lower(), b.lower(), strict=True)) == 1


def _has_lookalike(chart: Chart, p: Person) -> bool:
    for q in chart.patients.values():
        if q.id == p.id:
            continue
        if (q.given, q.family) == (p.given, p.family):
            return True
        if q.birth_date == p.birth_date and (
                (q.given == p.given and _one_letter_apart(q.family, p.family))
                or (q.family == p.family and _one_letter_apart(q.given, p.given))):
            return True
    return False


def pools(chart: Chart) -> dict[str, list[str]]:
    lookalike = [m for m, p in chart.patients.items() if _has_lookalike(chart, p)]
    has_lookalike = set(lookalike)
    plain = [m for m in chart.patients if m not in has_lookalike]
    return {"found": plain, "found_lookalike": lookalike,
            "not_found_birthdate": list(chart.patients), "not_found_name": list(chart.patients)}


def _taken(chart: Chart) -> set[tuple[str, str, str]]:
    return {(p.given, p.family, p.birth_date) for p in chart.patients.values()}


def _other_birthdate(p: Person, taken: set, rng: random.Random) -> str:
    born = date.fromisoformat(p.birth_date)
    while True:
        shifted = born + timedelta(days=rng.choice([-1, 1]) * rng.randint(1, 900))
        if (p.given, p.family, shifted.isoformat()) not in taken:
            return shifted.isoformat()


def _other_family(p: Person, taken: set, rng: random.Random) -> str:
    vowels = "aeiou"
    while True:
        i = rng.randrange(1, len(p.family)) if len(p.family) > 1 else 0
        letter = rng.choice(vowels if p.family[i].lower() in vowels else "bcdfghklmnprst")
        family = p.family[:i] + letter + p.family[i + 1:]
        if family != p.family and (p.given, family, p.birth_date) not in taken:
            return family


def instance(chart: Chart, taken: set, branch: str, mrn: str, rng: random.Random) -> Instance:
    p = chart.patients[mrn]
    params = {"given": p.given, "family": p.family, "birthDate": p.birth_date}
    if branch == "not_found_birthdate":
        params["birthDate"] = _other_birthdate(p, taken, rng)
    elif branch == "not_found_name":
        params["family"] = _other_family(p, taken, rng)
    found = branch.startswith("found")
    return Instance(mrn if found else None, branch, params,
                    {"answer": [mrn if found else NOT_FOUND]})


def select(chart: Chart, rng: random.Random, n: int) -> list[Instance]:
    taken = _taken(chart)
    return select_instances(pools(chart), BRANCHES, n, rng,
                            lambda b, m, r: instance(chart, taken, b, m, r))


render = templated(KIND, (
    "What is the MRN of the patient named {given} {family}, born on {birthDate}? Answer with a "
    "list holding only the MRN, e.g. [\"S1234567\"]. If no patient has exactly this name and "
    f"date of birth, answer [\"{NOT_FOUND}\"]."))


async def solve(task: Task, env: Any) -> list:
    p = task.params
    result = await call_ok(env, "search_patients", {
        "given": p["given"], "family": p["family"], "birthdate": p["birthDate"]})
    matches = []
    for r in resources(result):
        for name in r.get("name") or []:
            if (name.get("given") or [""])[0] == p["given"] and name.get("family") == p["family"] \
                    and r.get("birthDate") == p["birthDate"]:
                matches.append(r["id"])
                break
    return [matches[0]] if len(matches) == 1 else [NOT_FOUND]


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return graded(check_answer(answer, task.expected["answer"], [same_mrn_or_text]), writes, [])
