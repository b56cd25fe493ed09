"""Cohort profiles: named recipes layered on the shared generator.

A cohort is identified by ``(profile, seed, n_patients)`` and the generator version. Every
profile starts from the same plan and five-year charts (the ``mab-v1`` cohort) and may add
two hooks, each drawing from its OWN random streams so the shared streams never shift:

- ``names(patients, seed)``: edit the planned demographics before Patient resources are
  built (e.g. add names that share a prefix); returns extra manifest membership lists;
- ``labs(chart, job)``: edit one patient's lab chart after the scenario states are applied
  (boundary values, window edges, voided results); runs in the worker processes;
- ``chart(ch, labs, job, rng)``: add or edit whole resources of one patient (``ch.out``
  maps a resource type to its list; ``ch.next_id``, ``ch.encounter_at``) after ``labs``;
  the types it adds beyond the base eight are declared in ``types`` (their NDJSON files
  and manifest entries exist only for this profile, so other cohorts keep their checksum).

``mab-v1`` has no hooks: its files are byte-identical to what the generator always wrote.
``edge-v1`` (``patients._edge``) puts values on and next to every threshold the tasks use.
``safety-v1`` (``patients._safety``) adds allergies, medication orders, open service
requests, pinned weights and INR/creatinine/potassium/glucose series for the safety suite.

Adding a profile (e.g. ``safety``) is one small step: write its hooks in a module of this
package and add ``Profile("safety", "…", names=…, labs=…)`` to ``_BUILTIN`` below. The cache
folder, the embedded database name and the store meta all carry the profile name, so a new
profile never clashes with an existing cohort.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import CohortError

DEFAULT_PROFILE = "mab-v1"

NamesHook = Callable[[list[Any], set[int], int], dict[str, list[str]]]
LabsHook = Callable[[Any, Any, random.Random], None]
ChartHook = Callable[[Any, Any, Any, random.Random], None]


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    names: NamesHook | None = None
    labs: LabsHook | None = None
    chart: ChartHook | None = None
    types: tuple[str, ...] = ()  # resource types beyond the base eight this profile writes


def _builtin() -> dict[str, Profile]:
    import medagent.patients._edge as _edge
    import medagent.patients._safety as _safety

    return {p.name: p for p in (
        Profile(DEFAULT_PROFILE, "the MedAgentBench-shaped cohort: every scenario state with "
                "safety margins around each threshold (the cohort of suite mab-v1)"),
        Profile("edge-v1", "mab-v1 plus values on and next to every threshold the tasks use, "
                "results minutes inside/outside the 24 h window, non-UTC offsets and voided "
                "results (the cohort of suite mab-edge-v1)", names=_edge.names, labs=_edge.labs),
        Profile("safety-v1", "mab-v1 plus drug allergies, active and stopped medication orders, "
                "open service requests, weights and pinned potassium/creatinine/INR/glucose "
                "series with non-final statuses (the cohort of suite safety-v1)",
                names=_safety.names, chart=_safety.chart, types=_safety.TYPES),
    )}


_PROFILES: dict[str, Profile] = {}


def profiles() -> dict[str, Profile]:
    """Every known profile by name."""
    if not _PROFILES:
        _PROFILES.update(_builtin())
    return dict(_PROFILES)


def get_profile(name: str) -> Profile:
    known = profiles()
    if not isinstance(name, str) or name not in known:
        raise CohortError(f"unknown cohort profile {name!r} (known: {', '.join(sorted(known))})")
    return known[name]
