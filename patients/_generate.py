"""``generate()``: plan the cohort, build patients (in parallel), write NDJSON + manifest."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import medagent.patients.scenarios as scenarios
from ._patient import Job, generate_patient, ndjson
from ._plan import CohortPlan, ages, make_plan
from ._time import NOW, to_minutes
from .errors import CohortError, ScenarioError
from .manifest import FileEntry, Manifest
from .profiles import DEFAULT_PROFILE, get_profile

GENERATOR_VERSION = "1"
DEFAULT_SEED = 42
DEFAULT_PATIENTS = 100
TYPES = ("Organization", "Practitioner", "Patient", "Encounter", "Condition", "Observation",
         "Procedure", "MedicationRequest")


def _jobs(plan: CohortPlan, now: datetime) -> Iterator[Job]:
    now_m = to_minutes(now)
    practitioners, organizations = tuple(plan.practitioner_ids), tuple(plan.organization_ids)
    for p, age in zip(plan.patients, ages(plan, now), strict=True):
        yield Job(plan.seed, p.index, now_m, p.mrn, p.gender, age, p.states, p.gp, p.org,
                  practitioners, organizations, plan.profile, p.variants)


def _results(plan: CohortPlan, now: datetime, workers: int) -> Iterator[dict[str, bytes]]:
    jobs = list(_jobs(plan, now))
    if workers <= 1:
        yield from map(generate_patient, jobs)
        return
    # spawn: safe even when the caller runs threads (test servers); workers import little
    # workers ignore SIGINT: a Ctrl-C reaches the parent alone, which stops the pool at once
    with multiprocessing.get_context("spawn").Pool(workers, signal.signal, (signal.SIGINT, signal.SIG_IGN)) as pool:
        yield from pool.imap(generate_patient, jobs, chunksize=1)


def _default_workers(n: int) -> int:
    return 1 if n < 20 else max(1, min(os.cpu_count() or 1, 4))


def _membership(plan: CohortPlan) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for axis, states in scenarios.AXES.items():
        out[axis] = {s: sorted(p.mrn for p in plan.patients if p.states[axis] == s) for s in states}
    out[scenarios.LOOKALIKE] = {
        state: sorted(plan.patients[i].mrn for pair in pairs for i in pair)
        for state, pairs in plan.lookalikes.items()
    }
    if plan.edge:
        out["edge"] = plan.edge
    return out


def validate_args(seed: object, n_patients: object, profile: object = DEFAULT_PROFILE) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise CohortError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(n_patients, int) or isinstance(n_patients, bool) or n_patients < scenarios.MIN_PATIENTS:
        raise CohortError(f"a cohort needs at least {scenarios.MIN_PATIENTS} patients, got {n_patients!r}")
    get_profile(profile)  # type: ignore[arg-type]


def generate(
    out_dir: str | Path, seed: int = DEFAULT_SEED, n_patients: int = DEFAULT_PATIENTS,
    now: datetime = NOW, scenarios: scenarios.Request | None = None, workers: int | None = None,
    profile: str = DEFAULT_PROFILE,
) -> Manifest:
    """Write the cohort of ``seed`` as FHIR Bulk Data NDJSON plus ``manifest.json``.

    Same profile, seed, size, ``now``, scenario request and generator version give
    byte-identical files (whatever ``workers``). ``scenarios`` optionally fixes how many
    patients get a state (see ``patients.scenarios``); ``profile`` names the recipe
    (``patients.profiles``; default ``mab-v1``).
    """
    validate_args(seed, n_patients, profile)
    if now.tzinfo is None:
        raise ScenarioError("now must be a timezone-aware datetime")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = make_plan(seed, n_patients, now, scenarios, profile)
    types = TYPES + get_profile(profile).types
    handles = {t: (out / f"{t}.ndjson").open("wb") for t in types}
    hashes = {t: hashlib.sha256() for t in types}
    counts = dict.fromkeys(types, 0)

    def put(rtype: str, blob: bytes) -> None:
        if blob:
            handles[rtype].write(blob)
            hashes[rtype].update(blob)
            counts[rtype] += blob.count(b"\n")

    try:
        for rtype, items in (("Organization", plan.organizations), ("Practitioner", plan.practitioners),
                             ("Patient", [p.resource for p in plan.patients])):
            put(rtype, ndjson(items))
        for result in _results(plan, now, workers or _default_workers(n_patients)):
            for rtype, blob in result.items():
                put(rtype, blob)
    finally:
        for fh in handles.values():
            fh.close()
    files = {t: FileEntry(path=f"{t}.ndjson", count=counts[t], sha256=hashes[t].hexdigest()) for t in types}
    manifest = Manifest(
        generator_version=GENERATOR_VERSION, profile=profile, seed=seed, n_patients=n_patients, now=now.isoformat(),
        files=files, total=sum(counts.values()), checksum=Manifest.checksum_of(files),
        scenarios=_membership(plan),
    )
    manifest.write(out)
    return manifest
