"""The edge design: data on every rule's boundary, so each wrong rule loses tasks.

Default tests work on the small edge cohort through the chart (the ground-truth path);
the slow test runs the mutant solvers through real sessions over mab-edge-v1.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from medagent import tasks
from medagent.tasks.categories import categories_of
from medagent.tasks._chart import load_chart
from medagent.tasks._suite_io import SUITES_DIR, tasks_jsonl
from medagent.tasks.categories._select import allocate

from ._mutants import CORRECT, LAB_OF, MUTANTS, decide, differs, solver

EDGE_SUITE = "mab-edge-v1"


@pytest.fixture(scope="module")
def edge_chart(small_edge_cohort):
    return load_chart(small_edge_cohort[0])


def _judged(suite, chart, rules, categories):
    for task in suite.tasks:
        if task.category in categories:
            yield task, differs(task.category, decide(task.category, rules, chart, task), task.expected)


def test_every_edge_branch_is_present_with_its_full_weight(small_edge_suite):
    counts = small_edge_suite.branch_counts()
    assert small_edge_suite.cohort_profile == "edge-v1"
    for number, module in categories_of("edge").items():
        assert {b.split("/")[1]: c for b, c in counts.items() if b.startswith(f"{number}/")} \
            == allocate(module.DESIGNS["edge"], 30), number


def test_the_correct_rules_reproduce_every_expected_answer(small_edge_suite, edge_chart):
    """The mutant framework with no rule changed IS the ground truth (so a mutant's losses
    come from its one changed rule)."""
    wrong = [t.id for t, bad in _judged(small_edge_suite, edge_chart, CORRECT, (1, *LAB_OF)) if bad]
    assert wrong == []


@pytest.mark.parametrize("name", list(MUTANTS))
def test_each_wrong_rule_loses_at_least_three_tasks(small_edge_suite, edge_chart, name):
    rules, categories = MUTANTS[name]
    lost = [t.id for t, bad in _judged(small_edge_suite, edge_chart, rules, categories) if bad]
    assert len(lost) >= 3, (name, lost)


def test_boundary_values_are_where_the_branches_say(small_edge_suite):
    by_branch = {}
    for t in small_edge_suite.tasks:
        by_branch.setdefault(f"{t.category}/{t.branch}", []).append(t)
    assert {t.expected["answer"][0] for t in by_branch["9/no_order_at_3.5"]} == {3.5}
    assert all(t.expected["order"] is None for t in by_branch["9/no_order_at_3.5"])
    assert {t.expected["order"]["dose_meq"] for t in by_branch["9/order_at_3.4"]} == {10.0}
    for branch, value, grams in (("order_4g_at_0.9", 0.9, 4), ("order_2g_at_1.0", 1.0, 2),
                                 ("order_2g_at_1.4", 1.4, 2), ("order_1g_at_1.5", 1.5, 1),
                                 ("order_1g_at_1.9", 1.9, 1)):
        assert {(t.expected["answer"][0], t.expected["order"]["dose_g"]) for t in by_branch[f"5/{branch}"]} \
            == {(value, grams)}
    assert all(t.expected["order"] is None and t.expected["answer"] == [2.0] for t in by_branch["5/no_order_at_2.0"])
    for branch, days, order in (("no_order_at_364d", 364, False), ("no_order_at_365d", 365, False),
                                ("order_at_366d", 366, True)):
        for t in by_branch[f"10/{branch}"]:
            taken = tasks._clock.parse_instant(t.expected["answer"][1])
            assert tasks.NOW - taken == timedelta(days=days) and t.expected["order"] is order


def test_edge_variants_keep_every_patients_scenario_state(edge_chart):
    from medagent.tasks.categories._states import STATES, by_state

    for axis in STATES:
        computed = {state: sorted(m) for state, m in by_state(edge_chart, axis).items()}
        declared = {state: sorted(m) for state, m in edge_chart.scenarios[axis].items() if m}
        assert computed == declared, axis
    edge = edge_chart.scenarios["edge"]
    assert edge["names:hyphenated"] and edge["names:prefix_pair"]
    assert {k.split(":")[0] for k in edge} == {"magnesium", "glucose", "potassium", "a1c", "names", "offset"}


def test_non_utc_offsets_and_voided_results_are_in_the_data(edge_chart):
    offsets = {p.effective[-6:] for s in edge_chart.labs.values() for p in s}
    assert {"+00:00", "-08:00", "+05:30", "-05:00"} <= offsets
    voided = [p for s in edge_chart.voided_labs.values() for p in s]
    assert any(p.value != p.value for p in voided)  # a cancelled test has no value (NaN)
    assert any(p.value == p.value for p in voided)  # an entered-in-error one keeps its value


def test_lab_instructions_say_how_voided_results_count(small_edge_suite, small_suite):
    for suite, said in ((small_edge_suite, True), (small_suite, False)):
        for t in suite.tasks:
            if t.category in LAB_OF:
                assert ("entered-in-error or cancelled" in t.instruction) is said, t.id


def test_edge_cohort_and_suite_are_deterministic(tmp_path, small_edge_cohort, small_edge_suite):
    from medagent import patients

    a = patients.generate(tmp_path / "a", seed=3, n_patients=6, profile="edge-v1", workers=1)
    b = patients.generate(tmp_path / "b", seed=3, n_patients=6, profile="edge-v1", workers=2)
    assert a.checksum == b.checksum and a.profile == "edge-v1"
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()
    mab = patients.generate(tmp_path / "m", seed=3, n_patients=6, workers=1)
    assert mab.checksum != a.checksum and mab.profile == "mab-v1"
    again = tasks.build_suite("small-edge", small_edge_suite.seed, small_edge_cohort[0])
    assert tasks_jsonl(again.tasks) == tasks_jsonl(small_edge_suite.tasks)
    other = tasks.build_suite("small-edge", small_edge_suite.seed + 1, small_edge_cohort[0])
    assert other.checksum != small_edge_suite.checksum
    assert other.branch_counts() == small_edge_suite.branch_counts()


def test_committed_edge_suite_header():
    suite = tasks.load_suite(EDGE_SUITE)
    assert tasks.DEFAULT_SUITE == EDGE_SUITE
    assert (suite.cohort_profile, suite.cohort_seed, suite.cohort_n_patients) == ("edge-v1", 42, 100)
    assert len(suite.tasks) == 300 and suite.branch_counts() == {
        f"{n}/{b}": w for n, m in categories_of("edge").items()
        for b, w in sorted(allocate(m.DESIGNS["edge"], 30).items())}
    blind, oracle = suite.baselines["blind"], suite.baselines["oracle"]
    assert oracle["overall"] == 1.0 and set(oracle["per_category"]) == {str(n) for n in range(1, 11)}
    mab = tasks.load_suite("mab-v1").baselines["blind"]
    assert blind["overall"] < mab["overall"] < 0.39
    for n in (1, 4, 5, 6, 7, 9, 10):  # every category that can be guessed gives away less
        assert blind["per_category"][str(n)] <= mab["per_category"][str(n)], n


@pytest.mark.slow
def test_full_edge_suite_oracle_and_mutants_through_real_sessions():
    """mab-edge-v1 on its full cohort: the correct rules score 100 %, every mutant loses
    at least 3 tasks, the blind policy scores what the header records."""
    from medagent.embedded import open_service
    from medagent.tasks.baselines import compute_baselines, run_policy

    suite = tasks.load_suite(EDGE_SUITE)
    service = open_service(suite)
    assert compute_baselines(suite, service) == suite.baselines

    async def failures(rules, categories):
        solve = solver(rules)
        chosen = [t for t in suite.tasks if t.category in categories]
        grades = [await run_policy(service, t, solve) for t in chosen]
        return [t.id for t, g in zip(chosen, grades, strict=True) if not g.passed]

    assert asyncio.run(failures(CORRECT, (1, *LAB_OF))) == []
    for name, (rules, categories) in MUTANTS.items():
        lost = asyncio.run(failures(rules, categories))
        assert len(lost) >= 3, (name, lost)


@pytest.mark.slow
def test_committed_edge_suite_rebuilds_byte_identical(tmp_path):
    from medagent import patients

    from medagent.embedded import open_service

    cohort = patients.ensure_cohort(42, 100, "edge-v1")
    suite = tasks.build_suite(EDGE_SUITE, 0, cohort)
    suite = tasks.with_baselines(suite, open_service(suite))
    jsonl, header = tasks.write_suite(suite, tmp_path)
    assert jsonl.read_bytes() == (SUITES_DIR / f"{EDGE_SUITE}.jsonl").read_bytes()
    assert header.read_bytes() == (SUITES_DIR / f"{EDGE_SUITE}.json").read_bytes()
