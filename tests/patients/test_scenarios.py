"""Every scenario state is present and means what patients.scenarios promises, checked
from the NDJSON data itself (not from the manifest alone)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from medagent import patients
from medagent.patients import scenarios

from ._cohort_data import lab_series, resources

NOW = patients.NOW
DAY24 = NOW - timedelta(hours=24)


@pytest.fixture(scope="module")
def labs(small_cohort):
    return lab_series(small_cohort[0])


def _within_24h(series):
    return [(t, v) for t, v in series if DAY24 <= t <= NOW]


def _magnesium_state(series) -> str:
    recent = _within_24h(series)
    if not recent:
        assert series, "none_24h patients still have older MG results"
        return "none_24h"
    value = recent[-1][1]
    assert round(value, 2) == value
    return "lt1" if value < 1.0 else "lt1.5" if value < 1.5 else "le1.9" if value <= 1.9 else "normal"


def _glucose_state(series) -> str:
    if not series:
        return "never"
    recent = _within_24h(series)
    return {0: "none_24h", 1: "one_24h"}.get(len(recent), "several_24h")


def _potassium_state(series) -> str:
    if not series:
        return "never"
    return "low" if series[-1][1] < 3.5 else "normal"


def _a1c_state(series) -> str:
    if not series:
        return "never"
    age = NOW - series[-1][0]
    if age <= timedelta(days=300):
        return "recent"
    assert age >= timedelta(days=430), f"latest A1C {age.days} days old is in the ambiguous gap"
    return "old"


_CLASSIFY = {
    "magnesium": ("MG", _magnesium_state), "glucose": ("GLU", _glucose_state),
    "potassium": ("K", _potassium_state), "a1c": ("A1C", _a1c_state),
}


@pytest.mark.parametrize("axis", list(scenarios.AXES))
def test_every_state_is_present_and_holds_in_the_data(small_cohort, labs, axis):
    _, manifest = small_cohort
    code, classify = _CLASSIFY[axis]
    states = manifest.scenarios[axis]
    assert set(states) == set(scenarios.AXES[axis])
    n = manifest.n_patients
    members = [m for ms in states.values() for m in ms]
    assert sorted(members) == sorted(p["id"] for p in resources(small_cohort[0], "Patient"))
    for state, mrns in states.items():
        assert len(mrns) >= n // len(scenarios.AXES[axis]), state
        assert mrns == sorted(mrns)
        for mrn in mrns:
            assert classify(labs[mrn].get(code, [])) == state, (axis, state, mrn)


def test_latest_magnesium_decides_when_several_within_24h(small_cohort, labs):
    _, manifest = small_cohort
    several = [m for m in labs if len(_within_24h(labs[m].get("MG", []))) >= 2]
    assert several, "some patients have 2+ MG results within 24 h"


def test_safety_margins(small_cohort, labs):
    edges = (DAY24, NOW)
    for mrn, codes in labs.items():
        for code, series in codes.items():
            times = [t for t, _ in series]
            assert len(times) == len(set(times)), f"{mrn} {code}: two results at one instant"
            for t in times:
                assert t <= NOW
                for edge in edges:
                    assert abs(t - edge) > timedelta(minutes=30), f"{mrn} {code} at {t} is near {edge}"


def test_lookalike_pairs(small_cohort):
    directory, manifest = small_cohort
    people = {p["id"]: p for p in resources(directory, "Patient")}
    keys = Counter((p["name"][0]["given"][0], p["name"][0]["family"], p["birthDate"]) for p in people.values())
    assert max(keys.values()) == 1, "(given, family, birthDate) is unique"
    same_name = manifest.scenarios["lookalike"]["same_name_other_birthdate"]
    one_letter = manifest.scenarios["lookalike"]["same_birthdate_one_letter"]
    assert len(same_name) >= 2 and len(one_letter) >= 2
    names = Counter((people[m]["name"][0]["given"][0], people[m]["name"][0]["family"]) for m in same_name)
    assert all(c == 2 for c in names.values())
    for a in one_letter:
        partners = [
            b for b in one_letter if b != a
            and people[b]["birthDate"] == people[a]["birthDate"]
            and _one_letter_apart(people[a]["name"][0]["family"], people[b]["name"][0]["family"])
        ]
        assert len(partners) == 1, a


def _one_letter_apart(x: str, y: str) -> bool:
    return len(x) == len(y) and sum(a != b for a, b in zip(x, y)) == 1


def test_requested_counts_are_honoured(tmp_path):
    manifest = patients.generate(
        tmp_path, seed=5, n_patients=6,
        scenarios={"magnesium": {"lt1": 3}, "potassium": {"low": 4, "normal": 2}},
    )
    mg = manifest.scenarios["magnesium"]
    assert len(mg["lt1"]) == 3
    # the other three patients are dealt round-robin over the states not named
    assert [len(mg[s]) for s in ("lt1.5", "le1.9", "normal", "none_24h")] == [1, 1, 1, 0]
    assert len(manifest.scenarios["potassium"]["low"]) == 4 and manifest.scenarios["potassium"]["never"] == []
    labs = lab_series(tmp_path)
    for mrn in mg["lt1"]:
        assert _magnesium_state(labs[mrn]["MG"]) == "lt1"
    for mrn in manifest.scenarios["potassium"]["low"]:
        assert _potassium_state(labs[mrn]["K"]) == "low"


@pytest.mark.parametrize("request_", [
    {"magnesium": {"tiny": 1}}, {"sodium": {"low": 1}}, {"magnesium": {"lt1": 7}},
    {"lookalike": {"same_name_other_birthdate": 4}}, {"a1c": {"old": -1}},
])
def test_bad_scenario_requests_are_refused(tmp_path, request_):
    with pytest.raises(patients.ScenarioError):
        patients.generate(tmp_path, seed=5, n_patients=6, scenarios=request_)


@pytest.mark.parametrize("n", [5, 6, 7, 10, 13, 29, 100])
def test_dealing_gives_every_state_its_share(n):
    first = scenarios.assign(n, 42)
    assert first == scenarios.assign(n, 42)
    for axis, states in scenarios.AXES.items():
        counts = Counter(p[axis] for p in first)
        assert set(counts) == set(states) and min(counts.values()) >= n // len(states)
    pairs = scenarios.lookalike_pairs(n, 42)
    members = [i for state in pairs.values() for pair in state for i in pair]
    assert len(members) == len(set(members)) == 4 * max(1, n // 30)
    other = scenarios.assign(n, 43)
    assert other != first or n < 6  # another seed deals differently
