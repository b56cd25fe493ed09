"""A `medagent bench` killed with SIGKILL and resumed loses no trial and re-runs none."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from medagent.cli import main
from medagent.runfolder import read_run
from tests.fake_openai import FakeOpenAI, ReplayPolicy

ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def test_resume_after_sigkill(bench_suite, bench_suite_path, oracle_scripts, fast_retries, tmp_path):
    out = tmp_path / "run"
    trials_file = out / "trials.jsonl"
    with FakeOpenAI(ReplayPolicy(oracle_scripts), delay_s=0.03) as fake:
        cmd = [sys.executable, "-m", "medagent", "bench", "--suite", str(bench_suite_path), "--out", str(out),
               "--model", "m", "--base-url", fake.url, "--concurrency", "2", "--quiet"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(_lines(trials_file)) < 3:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the run never finished a trial"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        before = _lines(trials_file)
        complete_before = [line for line in before if line.endswith(b"\n")]
        assert 3 <= len(complete_before) < len(bench_suite.tasks), "kill the run mid-way"
        finished = {read_line["trial_id"] for read_line in read_run(out).trials}

        served_before = dict(fake.served)
        assert main(["bench", "--resume", str(out), "--concurrency", "8", "--quiet"]) == 0

    after = _lines(trials_file)
    assert after[: len(complete_before)] == complete_before  # finished trials untouched
    ids = [t["trial_id"] for t in read_run(out).trials]
    assert sorted(ids) == sorted(f"{t.id}#1" for t in bench_suite.tasks)  # none lost…
    assert len(ids) == len(set(ids))  # …none twice
    # the model was not asked again about a finished task (tasks sharing one prompt are
    # served under the first one's id, so a prompt counts when all its tasks had finished)
    from medagent.agents._react import task_prompt

    for prompt, (served_as, _) in oracle_scripts.items():
        sharing = [t.id for t in bench_suite.tasks if task_prompt(t) == prompt]
        if all(f"{task_id}#1" in finished for task_id in sharing):
            assert fake.served[served_as] == served_before.get(served_as), sharing
    summary = read_run(out, need_summary=True).summary
    assert summary["n_trials"] == len(bench_suite.tasks) and summary["overall"] == 1.0


def test_resume_refuses_other_settings(bench_suite_path, tmp_path, capsys):
    out = tmp_path / "run"
    ids = ["1"]
    assert main(["bench", "--suite", str(bench_suite_path), "--out", str(out), "--agent", "oracle",
                 "--tasks", *ids, "--quiet"]) == 0
    assert main(["bench", "--resume", str(out), "--agent", "null", "--quiet"]) == 2
    assert "agent was 'oracle'" in capsys.readouterr().err
    # a finished run resumed is a no-op that keeps every trial
    n = len(read_run(out).trials)
    assert main(["bench", "--resume", str(out), "--quiet"]) == 0
    assert len(read_run(out).trials) == n
    assert main(["bench", "--suite", str(bench_suite_path), "--out", str(out), "--agent", "oracle", "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_resume_of_a_corrupt_run_folder_is_one_line(bench_suite_path, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["bench", "--suite", str(bench_suite_path), "--out", str(out), "--quiet",
                 "--agent", "null", "--tasks", "1"]) == 0
    (out / "run.json").write_bytes(b'{"model": ')  # a run.json cut short
    capsys.readouterr()
    assert main(["bench", "--resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run.json: not valid JSON" in err[0]
