"""Building a suite from a cohort: deterministic instance selection and ground truth.

``build_suite(suite_id, seed, cohort_dir, per_category=30)`` reads the cohort's NDJSON
and manifest (never the server), lets each category select ``per_category`` instances
with a generator seeded by ``(seed, category)``, renders instructions and computes the
expected answers. Same inputs → byte-identical JSONL. Another ``seed`` gives a fresh
instance set with the same category and branch mix (a private split).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ._chart import load_chart
from ._suite_io import sha256, tasks_jsonl
from .categories import categories_of
from .errors import SuiteError
from .models import Suite, Task
from .toolsets import tool_names


def build_suite(suite_id: str, seed: int, cohort_dir: Path, per_category: int = 30,
                design: str | None = None, service: Any = None) -> Suite:
    """``design`` (``mab`` or ``edge``) defaults to the one of the cohort's profile. With
    ``service`` (a ``fhir_server.FhirService`` holding this cohort) the blind and oracle
    scores are computed and recorded as ``baselines`` (``tasks.baselines``)."""
    if per_category < 1:
        raise SuiteError("per_category must be at least 1")
    chart = load_chart(cohort_dir, design)
    tasks: list[Task] = []
    for number, module in categories_of(chart.design).items():
        rng = random.Random(f"{suite_id}:{seed}:{number}")
        for i, inst in enumerate(module.select(chart, rng, per_category), start=1):
            instruction, context = module.render(inst.patient, inst.params, chart.design)
            tasks.append(Task(
                id=f"task{number}_{i}", category=number, kind=module.KIND, patient=inst.patient,
                instruction=instruction, context=context, branch=inst.branch,
                params=inst.params, expected=inst.expected))
    manifest = chart.manifest
    suite = Suite(id=suite_id, seed=seed, cohort_profile=chart.profile, cohort_seed=manifest["seed"],
                 cohort_n_patients=manifest["n_patients"], cohort_checksum=manifest["checksum"],
                 tasks=tasks, checksum=sha256(tasks_jsonl(tasks)), tools=tool_names(chart.design))
    if service is not None:
        from .baselines import with_baselines

        suite = with_baselines(suite, service)
    return suite
