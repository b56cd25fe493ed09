"""The ten task categories, one module each, all of the same shape.

Every module defines ``NUMBER``, ``NAME``, ``KIND`` (query|action), ``TITLE``, ``BRANCHES``
(branch → weight in a 30-task category of the ``mab`` design), ``DESIGNS`` (``{"mab":
BRANCHES, "edge": …}``: the branch weights of each suite design) and:

- ``select(chart, rng, n) -> list[Instance]``: deterministic instances from the cohort,
  in the design ``chart.design`` (``mab`` for the mab-v1 cohort, ``edge`` otherwise);
- ``render(patient, params, design="mab") -> (instruction, context)``: our own wording,
  stating the exact answer format (the ``edge`` design also says how voided results count);
- ``async solve(task, env) -> list``: the reference solution, made only of tool calls
  through ``env.call(name, args)``;
- ``async blind(view, env) -> list``: the best answer without any read, from the public
  ``TaskView`` alone (it may write): the ``blind`` baseline;
- ``grade(task, answer, writes) -> Grade``: from the final answer and the session's write
  log, never the transcript.
"""

from __future__ import annotations

from types import ModuleType

from ..errors import UnknownTaskError
from . import (
    a1c_followup,
    glucose_average,
    glucose_latest,
    magnesium_latest,
    magnesium_replacement,
    orthopedic_referral,
    patient_age,
    patient_lookup,
    potassium_replacement,
    record_blood_pressure,
)

CATEGORIES: dict[int, ModuleType] = {m.NUMBER: m for m in (
    patient_lookup, patient_age, record_blood_pressure, magnesium_latest,
    magnesium_replacement, glucose_average, glucose_latest, orthopedic_referral,
    potassium_replacement, a1c_followup)}


def get_category(n: int | str) -> ModuleType:
    try:
        return CATEGORIES[int(n)]
    except (KeyError, ValueError):
        raise UnknownTaskError(f"no task category {n!r} (categories are 1-10)") from None


__all__ = ["CATEGORIES", "get_category"]
