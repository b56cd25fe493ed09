"""Answer parsing: tolerant in form (2 == 2.0 == "2", offsets, MRN forms), strict in value."""

from __future__ import annotations

from datetime import datetime, timedelta

from medagent import tasks
from tests.tasks._util import task_of


def _passes(task, answer) -> bool:
    return tasks.grade(task, answer, []).passed


def test_lookup_answer_forms(small_suite):
    found = task_of(small_suite, 1, "found")
    assert _passes(found, [found.patient])
    assert _passes(found, [f"Patient/{found.patient}"])
    assert _passes(found, f'["{found.patient}"]')
    assert not _passes(found, [found.patient, found.patient])
    assert not _passes(found, ["Patient not found"])
    missing = task_of(small_suite, 1, "not_found")
    assert _passes(missing, ["patient not found."])
    assert not _passes(missing, [])
    assert not _passes(missing, ["S0000001"])


def test_lookalike_and_not_found_branches_are_present(small_suite):
    branches = {t.branch for t in small_suite.category(1)}
    assert {"found", "found_lookalike", "not_found_birthdate", "not_found_name"} <= branches


def test_age_number_forms(small_suite):
    task = task_of(small_suite, 2)
    age = task.expected["answer"][0]
    for good in ([age], [float(age)], [str(age)], [f"{age} years"]):
        assert _passes(task, good), good
    for bad in ([age + 1], [age + 0.5], ["about " + str(age)], [None], None):
        assert not _passes(task, bad), bad


def test_glucose_mean_tolerance(small_suite):
    task = task_of(small_suite, 6, "several")
    mean = task.expected["answer"][0]
    assert _passes(task, [mean + 0.09]) and _passes(task, [round(mean, 1)])
    assert not _passes(task, [mean + 0.2])
    none = task_of(small_suite, 6, "none")
    assert _passes(none, [-1]) and _passes(none, ["-1"]) and not _passes(none, [0])


def test_a1c_value_and_time_forms(small_suite):
    task = task_of(small_suite, 10, "no_order_recent")
    value, when = task.expected["answer"]
    shifted = datetime.fromisoformat(when).astimezone(
        tasks.NOW.tzinfo).astimezone(__import__("datetime").timezone(timedelta(hours=-5)))
    assert _passes(task, [value, when])
    assert _passes(task, [f"{value}", shifted.isoformat()])
    assert _passes(task, [value, when[:10]])
    assert not _passes(task, [value])
    assert not _passes(task, [value + 0.1, when])
    assert not _passes(task, [value, (datetime.fromisoformat(when) + timedelta(hours=1)).isoformat()])
    assert not _passes(task, [value, "2020-01-01"])


def test_every_grade_carries_reasons(small_suite):
    for task in small_suite.tasks:
        grade = tasks.grade(task, ["nonsense"], [])
        assert not grade.passed
        for check in grade.checks:
            assert check.name and check.message
