"""The cohort's figures match the original benchmark's (facts in medagentbench-facts.md)."""

from __future__ import annotations

import statistics
from collections import defaultdict

import pytest

from medagent import patients
from medagent.patients._plan import make_plan
from medagent.patients._time import age_at

from ._cohort_data import lab_series, resources

ORIGINAL_MIX = {"Observation": 71.8, "Procedure": 15.9, "Condition": 9.5, "MedicationRequest": 2.8}


def _demographics(people: list[dict]) -> tuple[float, float, float]:
    from datetime import date

    ages = [age_at(date.fromisoformat(p["birthDate"]), patients.NOW) for p in people]
    female = sum(p["gender"] == "female" for p in people) / len(people)
    return statistics.mean(ages), statistics.pstdev(ages), female


def _mix(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts[t] for t in ORIGINAL_MIX)
    return {t: 100 * counts[t] / total for t in ORIGINAL_MIX}


def test_default_cohort_demographics():
    """Patients of the default cohort (seed 42, 100 patients) as the generator plans them."""
    plan = make_plan(patients.DEFAULT_SEED, 100, patients.NOW)
    mean, sd, female = _demographics([p.resource for p in plan.patients])
    assert 55 <= mean <= 61, mean
    assert 17 <= sd <= 23, sd
    assert 0.41 <= female <= 0.53, female


def test_resource_mix_and_volume_per_patient(small_cohort):
    _, manifest = small_cohort
    mix = _mix(manifest.counts)
    for rtype, share in ORIGINAL_MIX.items():
        assert abs(mix[rtype] - share) <= max(1.5, share * 0.12), (rtype, mix[rtype])
    assert manifest.total / manifest.n_patients >= 7000  # 100 patients -> >= 700,000 resources
    assert manifest.counts["Encounter"] > 0 and manifest.counts["Practitioner"] > 0


def test_physiology_follows_conditions(small_cohort):
    directory, _ = small_cohort
    diagnoses = defaultdict(set)
    for c in resources(directory, "Condition"):
        diagnoses[c["subject"]["reference"][8:]].add(c["code"]["coding"][1]["code"])
    labs = lab_series(directory)

    def median(code, with_dx, dx):
        values = [v for m, codes in labs.items() if (dx in diagnoses[m]) == with_dx for _, v in codes.get(code, [])]
        return statistics.median(values) if values else None

    glucose_dm, glucose_other = median("GLU", True, "E11.9"), median("GLU", False, "E11.9")
    assert glucose_dm is not None and glucose_other is not None, "small cohort has diabetics and others"
    assert glucose_dm > glucose_other + 25
    cr_ckd, cr_other = median("CR", True, "N18.9"), median("CR", False, "N18.9")
    if cr_ckd is not None:
        assert cr_ckd > cr_other + 0.4


@pytest.mark.slow
def test_default_cohort_figures():
    directory = patients.ensure_cohort()
    manifest = patients.Manifest.load(directory)
    assert manifest.total >= 700_000
    mix = _mix(manifest.counts)
    for rtype, share in ORIGINAL_MIX.items():
        assert abs(mix[rtype] - share) <= max(1.0, share * 0.1), (rtype, mix[rtype])
    mean, sd, female = _demographics(list(resources(directory, "Patient")))
    assert 55 <= mean <= 61 and 17 <= sd <= 23 and 0.41 <= female <= 0.53
    for axis, states in manifest.scenarios.items():
        for state, mrns in states.items():
            assert mrns, (axis, state)
