"""`medagent bench` end to end: small cohort, small suite, the fake model on a real socket."""

from __future__ import annotations

import pytest

from medagent.cli import main
from medagent.runfolder import read_run
from tests.fake_openai import FakeOpenAI, ReplayPolicy


def _bench(suite_path, out, *extra) -> int:
    return main(["bench", "--suite", str(suite_path), "--out", str(out), "--quiet", *extra])


def _by_id(run_dir) -> dict[str, dict]:
    return {t["trial_id"]: t for t in read_run(run_dir).trials}


def _pick(suite, kind: str, n: int = 1) -> list[str]:
    return [t.id for t in suite.tasks if t.kind == kind][:n]


def test_oracle_scores_100_percent(bench_suite, bench_suite_path, tmp_path):
    assert _bench(bench_suite_path, tmp_path / "run", "--agent", "oracle") == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.summary["overall"] == 1.0
    assert folder.summary["n_trials"] == len(bench_suite.tasks)
    assert all(t["grade"]["passed"] for t in folder.trials)
    assert folder.run["suite_checksum"] == bench_suite.checksum
    assert folder.summary["cohort_checksum"] == bench_suite.cohort_checksum
    # action trials really wrote to their own session, recorded with requests and responses
    writes = [t for t in folder.trials if t["writes"]]
    assert writes and all(w["resourceType"] for t in writes for w in t["writes"])
    assert all(r["status"] and "response" in r for t in folder.trials for r in t["fhir_requests"])


def test_null_agent_scores_its_baseline(bench_suite, bench_suite_path, tmp_path):
    from medagent import tasks

    assert _bench(bench_suite_path, tmp_path / "run", "--agent", "null") == 0
    summary = read_run(tmp_path / "run", need_summary=True).summary
    # the baseline is what the graders give an empty answer with no writes
    baseline = sum(tasks.grade(t, None, []).passed for t in bench_suite.tasks) / len(bench_suite.tasks)
    assert summary["overall"] == pytest.approx(baseline)
    assert summary["overall"] <= 0.15
    assert summary["errors"] == 0


def test_blind_agent_makes_no_read_and_scores_the_suites_blind_baseline(bench_suite, bench_suite_path,
                                                                       bench_service, tmp_path):
    from medagent import tasks

    assert _bench(bench_suite_path, tmp_path / "run", "--agent", "blind") == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    expected = tasks.compute_baselines(bench_suite, bench_service)["blind"]
    assert folder.summary["overall"] == pytest.approx(expected["overall"], abs=1e-4)  # baselines: 4 decimals
    assert folder.summary["per_category"] == pytest.approx(expected["per_category"], abs=1e-4)
    assert {r["method"] for t in folder.trials for r in t["fhir_requests"]} == {"POST"}
    assert folder.summary["per_category"]["3"] == 1.0 and folder.summary["per_category"]["2"] < 1.0
    assert folder.summary["errors"] == 0


def test_fake_model_scores_what_it_answers(bench_suite, bench_suite_path, oracle_scripts, fast_retries, tmp_path):
    wrong = set(_pick(bench_suite, "query", 2))
    flaky_query, flaky_action = _pick(bench_suite, "query", 3)[2], _pick(bench_suite, "action", 1)[0]
    faults = {flaky_query: ["429", "429", "500"], flaky_action: ["500", "slow"]}
    with FakeOpenAI(ReplayPolicy(oracle_scripts, wrong=wrong), faults=faults, slow_s=2.0) as fake:
        rc = _bench(bench_suite_path, tmp_path / "run", "--model", "fake-model", "--base-url", fake.url,
                    "--concurrency", "4")
    assert rc == 0
    trials = _by_id(tmp_path / "run")
    summary = read_run(tmp_path / "run").summary
    n = len(bench_suite.tasks)
    assert summary["overall"] == pytest.approx((n - len(wrong)) / n)
    for trial_id, trial in trials.items():
        assert trial["status"] == "completed", trial["error"]
        assert trial["grade"]["passed"] == (trial["task_id"] not in wrong), trial_id
    assert trials[f"{flaky_query}#1"]["usage"]["retries"] == 3
    assert trials[f"{flaky_action}#1"]["usage"]["retries"] == 2
    assert summary["tokens"]["prompt_tokens"] > 0


def test_provider_errors_are_recorded_not_fatal(bench_suite, bench_suite_path, oracle_scripts, fast_retries, tmp_path):
    broken = _pick(bench_suite, "query", 1)[0]
    with FakeOpenAI(ReplayPolicy(oracle_scripts), faults={broken: ["500"] * 20}) as fake:
        rc = _bench(bench_suite_path, tmp_path / "run", "--model", "fake-model", "--base-url", fake.url)
    assert rc == 1  # the run finished, but a trial is an error: scripts and CI can tell
    trials = _by_id(tmp_path / "run")
    assert len(trials) == len(bench_suite.tasks)
    assert trials[f"{broken}#1"]["status"] == "error"
    assert "HTTP 500" in trials[f"{broken}#1"]["error"]
    summary = read_run(tmp_path / "run").summary
    assert summary["errors"] == 1
    assert summary["overall"] == pytest.approx((len(trials) - 1) / len(trials))


def test_api_key_never_reaches_the_run_folder(bench_suite, bench_suite_path, oracle_scripts, fast_retries, tmp_path, capsys):
    victim = _pick(bench_suite, "query", 1)[0]
    with FakeOpenAI(ReplayPolicy(oracle_scripts), faults={victim: [None, "401"]}) as fake:
        rc = _bench(bench_suite_path, tmp_path / "run", "--model", "fake-model", "--base-url", fake.url,
                    "--tasks", victim, "1")
        assert "Bearer sk-test-SECRET-4242" in fake.auth  # the key was used…
    assert rc == 3  # a refused key stops the run
    files = list((tmp_path / "run").iterdir())
    assert {f.name for f in files} >= {"run.json", "trials.jsonl", "summary.json"}
    for f in files:  # …but is in no result file, nor in what the command printed
        assert "SECRET-4242" not in f.read_text(), f.name
    out = capsys.readouterr()
    assert "SECRET-4242" not in out.out + out.err
    assert "Incorrect API key provided: ***" in out.err


def test_concurrency_gives_the_same_grades_as_sequential(bench_suite, bench_suite_path, oracle_scripts, fast_retries, tmp_path):
    wrong = set(_pick(bench_suite, "action", 2))
    runs = {}
    with FakeOpenAI(ReplayPolicy(oracle_scripts, wrong=wrong)) as fake:
        for concurrency in ("1", "8"):
            out = tmp_path / f"c{concurrency}"
            assert _bench(bench_suite_path, out, "--model", "m", "--base-url", fake.url,
                          "--concurrency", concurrency) == 0
            runs[concurrency] = _by_id(out)
    assert runs["1"].keys() == runs["8"].keys()
    for trial_id, trial in runs["1"].items():
        other = runs["8"][trial_id]
        assert trial["grade"]["passed"] == other["grade"]["passed"], trial_id
        assert [(c["name"], c["passed"]) for c in trial["grade"]["checks"]] == \
            [(c["name"], c["passed"]) for c in other["grade"]["checks"]], trial_id
        assert [w["resourceType"] for w in trial["writes"]] == [w["resourceType"] for w in other["writes"]]


def test_text_protocol_executes_posts(bench_suite, bench_suite_path, oracle_scripts, fast_retries, tmp_path):
    with FakeOpenAI(ReplayPolicy(oracle_scripts)) as fake:
        rc = _bench(bench_suite_path, tmp_path / "run", "--model", "m", "--base-url", fake.url,
                    "--protocol", "text", "--max-steps", "8")
        assert all("tools" not in body for body in fake.requests)
    assert rc == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.run["protocol"] == "text" and folder.run["agent"] == "text"
    assert folder.summary["overall"] == 1.0
    assert any(t["writes"] for t in folder.trials)
    assert any(c["name"] == "POST" for t in folder.trials for c in t["tool_calls"])


def test_epochs_report_pass_k(bench_suite, bench_suite_path, tmp_path):
    ids = _pick(bench_suite, "query", 2)
    assert _bench(bench_suite_path, tmp_path / "run", "--agent", "oracle", "--epochs", "2", "--tasks", *ids) == 0
    summary = read_run(tmp_path / "run").summary
    assert summary["n_trials"] == 4
    assert summary["pass_k"] == {"1": 1.0, "2": 1.0}
    assert set(_by_id(tmp_path / "run")) == {f"{i}#{e}" for i in ids for e in (1, 2)}


def test_custom_agent_example_runs(bench_suite, bench_suite_path, tmp_path):
    assert _bench(bench_suite_path, tmp_path / "run", "--agent", "examples.custom_agent:LookupAgent",
                  "--tasks", "1") == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.run["agent"] == "examples.custom_agent:LookupAgent"
    assert folder.summary["n_trials"] == len(bench_suite.category(1))
    assert folder.summary["overall"] == 1.0
    assert all(t["tool_calls"][0]["name"] == "search_patients" for t in folder.trials)


@pytest.mark.parametrize("argv, fragment", [
    (["--agent", "nosuch"], "known agents"),
    (["--agent", "react"], "--model"),
    (["--agent", "oracle", "--tasks", "task99_1"], "matches no task"),
    (["--agent", "oracle", "--concurrency", "0"], "at least 1"),
])
def test_bad_input_is_one_line(bench_suite_path, tmp_path, capsys, fast_retries, argv, fragment):
    assert _bench(bench_suite_path, tmp_path / "run", *argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("medagent: error:") and fragment in err
    assert "\n" not in err
