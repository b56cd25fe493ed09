"""Deterministic instance selection shared by every category.

A category gives its branches with weights (the mix of a 30-task category) and, per
branch, the pool of patients whose chart puts them in that branch. ``pick`` allocates the
``n`` instances over the branches by largest remainder (every non-empty branch gets at least
one when ``n`` allows), draws patients from each pool with the seeded generator (cycling
through a pool only when it is smaller than its quota) and shuffles the result.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Instance:
    patient: str | None
    branch: str
    params: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)


def allocate(weights: dict[str, float], n: int) -> dict[str, int]:
    if not weights or n <= 0:
        return {b: 0 for b in weights}
    total = sum(weights.values())
    exact = {b: n * w / total for b, w in weights.items()}
    counts = {b: int(x) for b, x in exact.items()}
    order = sorted(weights, key=lambda b: (-(exact[b] - counts[b]), list(weights).index(b)))
    for b in order[: n - sum(counts.values())]:
        counts[b] += 1
    if n >= len(weights):  # every branch present
        for b in weights:
            while counts[b] == 0:
                donor = max(counts, key=lambda k: counts[k])
                counts[donor] -= 1
                counts[b] += 1
    return counts


def pick(pools: dict[str, list[str]], weights: dict[str, float], n: int,
         rng: random.Random) -> list[tuple[str, str]]:
    live = {b: w for b, w in weights.items() if pools.get(b)}
    chosen: list[tuple[str, str]] = []
    for branch, k in allocate(live, n).items():
        pool = sorted(pools[branch])
        rng.shuffle(pool)
        chosen.extend((branch, pool[i % len(pool)]) for i in range(k))
    rng.shuffle(chosen)
    return chosen


def select_instances(pools: dict[str, list[str]], weights: dict[str, float], n: int,
                     rng: random.Random,
                     make: Callable[[str, str, random.Random], Instance]) -> list[Instance]:
    return [make(branch, mrn, rng) for branch, mrn in pick(pools, weights, n, rng)]


def by_chart_state(axis: str, code: str, states: dict[str, tuple[str, ...]],
                   weights: dict[str, float], decide: Callable[[list], dict]) -> Callable:
    """``select`` of a lab-based category: pools by chart state of ``axis``, expected from
    ``decide(series of code)``."""
    from ._states import pools_for

    def select(chart: Any, rng: random.Random, n: int) -> list[Instance]:
        def make(branch: str, mrn: str, r: random.Random) -> Instance:
            return Instance(mrn, branch, {}, decide(chart.series(mrn, code)))
        return select_instances(pools_for(chart, axis, states), weights, n, rng, make)
    return select


Predicate = Callable[[list, list], bool]  # (valid series, voided times) -> in this branch?


def weights_of(table: dict[str, tuple[float, Any]]) -> dict[str, float]:
    return {branch: weight for branch, (weight, _) in table.items()}


def designed(mab_select: Callable, code: str, edge: dict[str, tuple[float, Predicate]],
             decide: Callable[[list], dict]) -> Callable:
    """``select`` of a lab-based category with two designs: the chart's design ``mab`` uses
    ``mab_select``; ``edge`` pools patients by the predicates of ``edge``
    (``{branch: (weight, predicate(series, voided))}``; pools may overlap)."""
    def select(chart: Any, rng: random.Random, n: int) -> list[Instance]:
        if chart.design == "mab":
            return mab_select(chart, rng, n)
        pools = {branch: [m for m in chart.ids if test(chart.series(m, code), chart.voided(m, code))]
                 for branch, (_, test) in edge.items()}

        def make(branch: str, mrn: str, r: random.Random) -> Instance:
            return Instance(mrn, branch, {}, decide(chart.series(mrn, code)))
        return select_instances(pools, weights_of(edge), n, rng, make)
    return select


def select_patients(chart: Any, rng: random.Random, n: int, weights: dict[str, float],
                    judge: Callable[[str], tuple[str, dict[str, Any]] | None]) -> list[Instance]:
    """``n`` one-patient instances (no params): ``judge(mrn)`` gives a patient's branch and
    expected answer, or None when the chart does not fit the category."""
    pools: dict[str, list[str]] = {}
    expected: dict[str, dict[str, Any]] = {}
    for m in chart.ids:
        judged = judge(m)
        if judged is not None:
            branch, expected[m] = judged
            pools.setdefault(branch, []).append(m)

    def make(branch: str, patient: str, r: random.Random) -> Instance:
        return Instance(patient, branch, {}, expected[patient])
    return select_instances(pools, weights, n, rng, make)
