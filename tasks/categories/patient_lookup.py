"""Category 1 (query): find a patient's MRN from name and date of birth.

Branches: ``found`` (a patient without look-alikes), ``found_lookalike`` (a patient who
has a look-alike: same name with another birth date, or same birth date with a name one
letter apart), ``not_found_birthdate`` (a real name with a birth date nobody with that
name has) and ``not_found_name`` (a real birth date with a name one letter off that no
patient has). Expected: ``[MRN]`` or ``["Patient not found"]``.

The ``edge`` design adds the traps of a prefix search (the server matches the start of a
name, as FHIR string search does): ``found_prefix`` (another patient with the same given
name and birth date has a family name that starts with this one's, so the search returns
both) and ``not_found_prefix`` (the start of a double-barrelled family name with that
patient's given name and birth date: the search returns that patient, who is not a match).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from .._chart import Chart, Person
from ..models import Grade, Task
from ._answers import check_answer, same_mrn_or_text
from ._common import call_ok, graded, guess, resources, templated
from ._select import Instance, select_instances

NUMBER, NAME, KIND = 1, "patient_lookup", "query"
TITLE = "Find a patient's MRN"
NOT_FOUND = "Patient not found"
BRANCHES = {"found": 12, "found_lookalike": 10, "not_found_birthdate": 4, "not_found_name": 4}
EDGE_BRANCHES = {"found": 12, "found_lookalike": 6, "found_prefix": 6, "not_found_birthdate": 2,
                 "not_found_name": 1, "not_found_prefix": 3}
DESIGNS = {"mab": BRANCHES, "edge": EDGE_BRANCHES}


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


def _prefix_hits(chart: Chart, given: str, family: str, birth_date: str) -> list[str]:
    """Who a search by given name, family name and birth date returns (prefix matches)."""
    g, f = given.casefold(), family.casefold()
    return [q.id for q in chart.patients.values() if q.birth_date == birth_date
            and q.given.casefold().startswith(g) and q.family.casefold().startswith(f)]


def edge_pools(chart: Chart, taken: set) -> dict[str, list[str]]:
    out = pools(chart)
    prefix = [m for m, p in chart.patients.items()
              if len(_prefix_hits(chart, p.given, p.family, p.birth_date)) > 1]
    out["found"] = [m for m in out["found"] if m not in set(prefix)]
    out["found_prefix"] = prefix
    out["not_found_prefix"] = [m for m, p in chart.patients.items() if "-" in p.family
                               and (p.given, p.family.split("-")[0], p.birth_date) not in taken]
    return out


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
    elif branch == "not_found_prefix":
        params["family"] = p.family.split("-")[0]
    found = branch.startswith("found")
    return Instance(mrn if found else None, branch, params,
                    {"answer": [mrn if found else NOT_FOUND]})


def select(chart: Chart, rng: random.Random, n: int) -> list[Instance]:
    taken = _taken(chart)
    if chart.design == "mab":
        return select_instances(pools(chart), BRANCHES, n, rng,
                                lambda b, m, r: instance(chart, taken, b, m, r))
    return select_instances(edge_pools(chart, taken), EDGE_BRANCHES, n, rng,
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


# Without reads no MRN can be known: "not found" is the only answer that can be right.
blind = guess([NOT_FOUND])
