"""Suites: deterministic building, branch mix, private splits, checksums, scores."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from medagent import tasks
from medagent.tasks._suite_io import SUITES_DIR, tasks_jsonl
from tests.fixtures_tasks import SMALL_SUITE_PER_CATEGORY, SMALL_SUITE_SEED


def test_build_is_deterministic_and_another_seed_is_a_fresh_split(small_suite, small_cohort):
    again = tasks.build_suite("small", SMALL_SUITE_SEED, small_cohort[0],
                              per_category=SMALL_SUITE_PER_CATEGORY)
    assert tasks_jsonl(again.tasks) == tasks_jsonl(small_suite.tasks)
    assert again.checksum == small_suite.checksum
    private = tasks.build_suite("small", SMALL_SUITE_SEED + 1, small_cohort[0],
                                per_category=SMALL_SUITE_PER_CATEGORY)
    assert private.checksum != small_suite.checksum
    assert private.branch_counts() == small_suite.branch_counts()
    assert [t.id for t in private.tasks] == [t.id for t in small_suite.tasks]


def test_every_branch_of_every_category_is_present(small_suite):
    from medagent.tasks.categories import categories_of

    counts = small_suite.branch_counts()
    for number, module in categories_of("mab").items():
        for branch in module.BRANCHES:
            assert counts.get(f"{number}/{branch}", 0) >= 1, (number, branch)
        assert len(small_suite.category(number)) == SMALL_SUITE_PER_CATEGORY


def test_action_categories_need_an_order_about_half_the_time(small_suite):
    for number in (5, 9, 10):
        ordering = [t for t in small_suite.category(number) if t.expected["order"]]
        assert 0.3 <= len(ordering) / len(small_suite.category(number)) <= 0.7, number


def test_scenarios_match_computed_states(small_cohort):
    from medagent.tasks._chart import load_chart
    from medagent.tasks.categories._states import STATES, by_state

    chart = load_chart(small_cohort[0])
    assert chart.manifest["checksum"]
    for axis in STATES:
        computed = {s: sorted(m) for s, m in by_state(chart, axis).items()}
        declared = {s: sorted(m) for s, m in chart.scenarios.get(axis, {}).items() if m}
        assert computed == declared, axis


def test_suite_round_trip_and_tampering(small_suite, tmp_path):
    jsonl, header = tasks.write_suite(small_suite, tmp_path)
    loaded = tasks.load_suite(jsonl)
    assert loaded == small_suite
    assert tasks.load_suite(header).checksum == small_suite.checksum
    data = jsonl.read_bytes().replace(b'"branch":"', b'"branch":"x', 1)
    jsonl.write_bytes(data)
    with pytest.raises(tasks.SuiteError, match="checksum"):
        tasks.load_suite(jsonl)
    with pytest.raises(tasks.SuiteError, match="not found"):
        tasks.load_suite(tmp_path / "absent.jsonl")


def test_clock_is_the_cohorts():
    from medagent import patients

    assert tasks.NOW == patients.NOW and tasks.NOW.isoformat() == tasks.NOW_ISO


def test_unknown_suite_id_lists_known_ones():
    with pytest.raises(tasks.SuiteError, match="unknown suite 'nope'.*known suites"):
        tasks.load_suite("nope")


def test_oracle_scores_100_and_null_at_most_15_percent(small_suite, run_trial):
    oracle = [run_trial(t).grade.passed for t in small_suite.tasks]
    null = [run_trial(t, solver=None).grade.passed for t in small_suite.tasks]
    assert sum(oracle) == len(oracle), [t.id for t, ok in zip(small_suite.tasks, oracle) if not ok]
    assert sum(null) / len(null) <= 0.15
    assert Counter(t.kind for t in small_suite.tasks) == {"query": 30, "action": 30}


def test_committed_suite_loads_and_matches_its_header():
    if not (SUITES_DIR / "mab-v1.jsonl").exists():
        pytest.skip("mab-v1 not built yet")
    suite = tasks.load_suite("mab-v1")
    assert len(suite.tasks) == 300
    assert (suite.cohort_seed, suite.cohort_n_patients) == (42, 100)
    assert {b.split("/")[0] for b in suite.branch_counts()} == {str(n) for n in range(1, 11)}


@pytest.mark.slow
def test_committed_suite_rebuilds_byte_identical(tmp_path):
    from medagent import patients

    from medagent.embedded import open_service

    cohort = patients.ensure_cohort(42, 100)  # the mab-v1 profile: checksum fd2eb9aa… as ever
    suite = tasks.build_suite("mab-v1", 0, cohort)
    suite = tasks.with_baselines(suite, open_service(suite))
    jsonl, header = tasks.write_suite(suite, tmp_path)
    assert jsonl.read_bytes() == (SUITES_DIR / "mab-v1.jsonl").read_bytes()
    assert header.read_bytes() == (SUITES_DIR / "mab-v1.json").read_bytes()
    shutil.rmtree(tmp_path)


def test_every_category_module_has_the_same_shape():
    import inspect

    from medagent.tasks.categories import categories_of

    assert sorted(categories_of("mab")) == sorted(categories_of("edge")) == list(range(1, 11))
    assert min(categories_of("safety")) == 11
    kinds = {n: m.KIND for n, m in categories_of("mab").items()}
    assert [n for n, k in kinds.items() if k == "query"] == [1, 2, 4, 6, 7]
    for number, module in tasks.CATEGORIES.items():
        assert module.NUMBER == number and module.NAME == module.__name__.rsplit(".", 1)[-1]
        assert module.TITLE and module.BRANCHES and all(w > 0 for w in module.BRANCHES.values())
        assert callable(module.select) and callable(module.render) and callable(module.grade)
        assert inspect.iscoroutinefunction(module.solve)
        assert tasks.get_category(str(number)) is module
    with pytest.raises(tasks.UnknownTaskError):
        tasks.get_category(max(tasks.CATEGORIES) + 1)


def test_baselines_record_blind_and_oracle_and_refuse_a_broken_suite(small_suite, task_service):
    from medagent.tasks.baselines import compute_baselines

    built = tasks.build_suite("small", SMALL_SUITE_SEED, small_suite_cohort_dir(small_suite),
                              per_category=SMALL_SUITE_PER_CATEGORY, service=task_service)
    assert built.checksum == small_suite.checksum  # baselines live in the header, not the tasks
    blind, oracle = built.baselines["blind"], built.baselines["oracle"]
    assert oracle == {"overall": 1.0, "query": 1.0, "action": 1.0,
                      "per_category": {str(n): 1.0 for n in range(1, 11)}}
    assert blind["per_category"]["3"] == blind["per_category"]["8"] == 1.0  # fully specified
    assert blind["per_category"]["2"] == 0.0 or blind["per_category"]["2"] < 0.5
    assert 0 < blind["overall"] < 0.6 and blind["query"] < blind["action"]
    tampered = built.model_copy(update={"tasks": [
        t.model_copy(update={"expected": {**t.expected, "answer": [99]}}) if t.category == 4 else t
        for t in built.tasks]})
    with pytest.raises(tasks.SuiteError, match="reference solutions fail"):
        compute_baselines(tampered, task_service)


def small_suite_cohort_dir(suite):
    from medagent import patients

    return patients.cohort_dir(suite.cohort_seed, suite.cohort_n_patients)
