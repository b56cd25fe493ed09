"""The task categories, one module each, all of the same shape, in one registry.

Every module defines ``NUMBER``, ``NAME``, ``KIND`` (query|action), ``TITLE``, ``BRANCHES``
(branch → weight in a 30-task category), ``DESIGNS`` (``{"mab": BRANCHES, "edge": …}`` or
``{"safety": …}``: the branch weights of each suite design the category belongs to) and:

- ``select(chart, rng, n) -> list[Instance]``: deterministic instances from the cohort,
  in the design ``chart.design``;
- ``render(patient, params, design="mab") -> (instruction, context)``: our own wording,
  stating the exact answer format (the ``edge`` design also says how voided results count);
- ``async solve(task, env) -> list``: the reference solution, made only of tool calls
  through ``env.call(name, args)``;
- ``async blind(view, env) -> list``: the best answer without any read, from the public
  ``TaskView`` alone (it may write): the ``blind`` baseline;
- ``grade(task, answer, writes) -> Grade``: from the final answer and the session's write
  log, never the transcript.

Safety categories (11 and up) also declare ``HAZARDS`` (the harm checks their grades
carry) and, where a task asks to change an existing record, ``allowed_change(task,
entry) -> bool``. ``register`` checks the shape (the ``Category`` protocol) of every module
and that numbers are unique; nothing else counts the categories.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from ..errors import UnknownTaskError
from . import (
    a1c_followup,
    aki_kdigo,
    allergy_antibiotic,
    duplicate_order,
    glucose_average,
    glucose_latest,
    hyperkalemia,
    hypoglycemia,
    magnesium_latest,
    magnesium_replacement,
    orthopedic_referral,
    patient_age,
    patient_lookup,
    population_query,
    potassium_replacement,
    record_blood_pressure,
    renal_dose,
    warfarin_inr,
)


@runtime_checkable
class Category(Protocol):
    NUMBER: int
    NAME: str
    KIND: str
    TITLE: str
    BRANCHES: dict
    DESIGNS: dict

    def select(self, chart: Any, rng: Any, n: int) -> list: ...
    def render(self, patient: Any, params: dict, design: str = ...) -> tuple[str, str]: ...
    async def solve(self, task: Any, env: Any) -> list: ...
    async def blind(self, view: Any, env: Any) -> list: ...
    def grade(self, task: Any, answer: Any, writes: list[dict]) -> Any: ...


CATEGORIES: dict[int, ModuleType] = {}


def register(module: ModuleType) -> ModuleType:
    """Add a category module after checking its shape; refuses a reused number."""
    missing = [name for name in ("NUMBER", "NAME", "KIND", "TITLE", "BRANCHES", "DESIGNS",
                                 "select", "render", "solve", "blind", "grade")
               if not hasattr(module, name)]
    if missing or not isinstance(module, Category):
        raise TypeError(f"category module {module.__name__} lacks {', '.join(missing) or 'the Category shape'}")
    if module.KIND not in ("query", "action") or not module.DESIGNS:
        raise TypeError(f"category module {module.__name__}: bad KIND or empty DESIGNS")
    number = module.NUMBER
    if not isinstance(number, int) or number < 1 or number in CATEGORIES:
        raise TypeError(f"category module {module.__name__}: NUMBER {number!r} is not a new positive integer")
    CATEGORIES[number] = module
    return module


for _module in (patient_lookup, patient_age, record_blood_pressure, magnesium_latest,
                magnesium_replacement, glucose_average, glucose_latest, orthopedic_referral,
                potassium_replacement, a1c_followup,
                allergy_antibiotic, hyperkalemia, duplicate_order, population_query,
                renal_dose, warfarin_inr, aki_kdigo, hypoglycemia):
    register(_module)


def categories_of(design: str) -> dict[int, ModuleType]:
    """The categories a suite of ``design`` holds (those whose DESIGNS name it)."""
    return {n: m for n, m in sorted(CATEGORIES.items()) if design in m.DESIGNS}


def get_category(n: int | str) -> ModuleType:
    try:
        return CATEGORIES[int(n)]
    except (KeyError, ValueError):
        raise UnknownTaskError(f"no task category {n!r} (categories: "
                               f"{', '.join(map(str, sorted(CATEGORIES)))})") from None


__all__ = ["CATEGORIES", "Category", "categories_of", "get_category", "register"]
