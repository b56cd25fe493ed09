"""The run folder writer: atomic appends, torn last lines, the summary's interval."""

from __future__ import annotations

import pytest

from medagent.results import summarize, wilson_interval
from medagent.runfolder import TrialLog, read_trials


def _record(n: int, passed: bool = True) -> dict:
    return {"trial_id": f"task1_{n}#1", "task_id": f"task1_{n}", "epoch": 1, "category": 1, "kind": "query",
            "status": "completed", "grade": {"passed": passed, "checks": []}, "usage": {}, "cost_usd": None}


def test_append_then_reopen_keeps_every_line(tmp_path):
    log = TrialLog(tmp_path / "trials.jsonl")
    assert log.open() == []
    for n in range(3):
        log.append(_record(n))
    log.close()
    again = TrialLog(tmp_path / "trials.jsonl")
    assert [r["trial_id"] for r in again.open()] == ["task1_0#1", "task1_1#1", "task1_2#1"]
    again.close()


def test_torn_last_line_is_cut_before_appending(tmp_path):
    path = tmp_path / "trials.jsonl"
    log = TrialLog(path)
    log.open()
    log.append(_record(1))
    log.close()
    with open(path, "ab") as fh:  # a run killed in the middle of a write
        fh.write(b'{"trial_id": "task1_2#1", "task_')
    log = TrialLog(path)
    assert [r["trial_id"] for r in log.open()] == ["task1_1#1"]
    log.append(_record(3))
    log.close()
    assert [r["trial_id"] for r in read_trials(path)] == ["task1_1#1", "task1_3#1"]


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 0) is None
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 10)[0] == 0.0


def test_summary_has_contract_fields_and_counts_errors_as_failures():
    trials = [_record(1), _record(2, passed=False), {**_record(3), "status": "error", "grade": None}]
    run = {"suite": "s", "suite_checksum": "a", "cohort_checksum": "b", "model": "m", "agent": "react"}
    summary = summarize(trials, run, 1.5)
    for key in ("suite", "suite_checksum", "cohort_checksum", "model", "agent", "n_trials", "errors", "overall",
                "query", "action", "per_category", "overall_ci95", "tokens", "cost_usd", "wall_time_s"):
        assert key in summary, key
    assert summary["n_trials"] == 3 and summary["errors"] == 1
    assert summary["overall"] == pytest.approx(1 / 3)
    lo, hi = summary["overall_ci95"]
    assert lo < 1 / 3 < hi


def test_append_many_is_one_group_commit_of_whole_lines(tmp_path, monkeypatch):
    import os

    path = tmp_path / "trials.jsonl"
    log = TrialLog(path)
    log.open()
    syncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (syncs.append(fd), real_fsync(fd)))
    log.append_many([{**_record(1), "trial_id": "a#1", "note": "key sk-XYZ"}, {**_record(2), "trial_id": "b#1"}],
                    ["sk-XYZ"])
    log.append_many([], ["sk-XYZ"])
    log.close()
    assert len(syncs) == 1
    records = read_trials(path)
    assert [r["trial_id"] for r in records] == ["a#1", "b#1"] and records[0]["note"] == "key ***"


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    from medagent.atomic import atomic_file, atomic_write

    target = tmp_path / "summary.json"
    atomic_write(target, b"old\n")
    with pytest.raises(RuntimeError), atomic_file(target) as out:
        out.write(b"half of the new")
        raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    assert atomic_write(target, "new\n").read_bytes() == b"new\n"
