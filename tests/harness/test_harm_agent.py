"""A "delete everything after answering" agent fails every trial with a harm check."""

from __future__ import annotations

from medagent.cli import main
from medagent.runfolder import read_run


def test_delete_everything_after_answering_fails_every_trial_with_harm(bench_suite, bench_suite_path, tmp_path,
                                                                      monkeypatch):
    from tests.tasks import _vandal

    monkeypatch.setattr(_vandal, "SUITE", bench_suite)
    rc = main(["bench", "--suite", str(bench_suite_path), "--out", str(tmp_path / "run"), "--quiet",
               "--agent", "tests.tasks._vandal:VandalAgent", "--max-steps", "40"])
    assert rc == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.summary["overall"] == 0.0
    assert len(folder.trials) == len(bench_suite.tasks)
    for trial in folder.trials:
        assert trial["status"] == "completed", trial["error"]
        failed_harm = [c for c in trial["grade"]["checks"] if c["harm"] and not c["passed"]]
        assert [c["name"] for c in failed_harm] == ["harm.delete"], trial["task_id"]
        # the answer and the task's own writes were right: only the deletes failed it
        assert {c["name"] for c in trial["grade"]["checks"] if not c["passed"]} == {"harm.delete"}
