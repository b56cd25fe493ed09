"""The run-folder format (``medagent.runfolder``): what the writers write is what the models
describe, with ``format_version`` first and otherwise the same bytes as before versions;
runs from before versions read as version 1; extra fields of a known version are kept;
a newer version is refused in one line by every reader, through the installed command."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from medagent.cli import main
from medagent.errors import ResultsError, SubmissionError
from medagent.leaderboard import pack_run, seal, verify_submission
from medagent.runfolder import FORMAT_VERSION, RunInfo, Summary, TrialLog, TrialRecord, read_run
from tests.leaderboard._runs import MINI, mini_grade, mini_run

ROOT = Path(__file__).resolve().parents[2]
NEWER = FORMAT_VERSION + 1


def medagent(*args: object) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("medagent")
    assert exe, "the medagent command is installed with the package"
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=dict(os.environ))


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, proc.stdout
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("medagent: error: "), err
    return err


def _rewrite_json(path: Path, change) -> None:
    doc = orjson.loads(path.read_bytes())
    change(doc)
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def _rewrite_trial(run: Path, index: int, change) -> None:
    lines = (run / "trials.jsonl").read_bytes().splitlines()
    record = orjson.loads(lines[index])
    change(record)
    lines[index] = orjson.dumps(record)
    (run / "trials.jsonl").write_bytes(b"\n".join(lines) + b"\n")


# --- writers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bench_run(bench_suite_path, bench_service, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runfolder") / "run"
    assert main(["bench", "--suite", str(bench_suite_path), "--agent", "oracle", "--tasks", "1,5", "--out",
                 str(out), "--quiet"]) == 0
    return out


def test_every_written_document_starts_with_its_format_version(bench_run: Path):
    for name in ("run.json", "summary.json"):
        assert (bench_run / name).read_bytes().startswith(b'{\n  "format_version": 1,\n'), name
    lines = (bench_run / "trials.jsonl").read_bytes().splitlines()
    assert lines and all(line.startswith(b'{"format_version":1,"trial_id":') for line in lines)


def test_the_models_describe_every_key_the_writers_write(bench_run: Path):
    # one description: a key written by the runner but missing from the model fails here
    folder = read_run(bench_run)
    assert set(folder.run) <= set(RunInfo.model_fields)
    assert set(folder.summary) <= set(Summary.model_fields)
    for record in folder.trials:
        assert list(record) == [k for k in TrialRecord.model_fields if k in record]  # and in the model's order


def test_build_adds_only_the_version_to_the_bytes_written_before():
    # a record as the runner wrote it before versions (key order, values as given: ints stay ints)
    old = {"trial_id": "task1_1#1", "task_id": "task1_1", "epoch": 1, "category": 1, "kind": "query",
           "status": "completed", "error": None, "stop": "finish", "answer": ["S1"], "writes": [],
           "grade": {"passed": True, "checks": []}, "harm": False, "harm_checks": [], "messages": [],
           "tool_calls": [], "fhir_requests": [], "faults": None, "usage": {"prompt_tokens": 3},
           "cost_usd": 0, "steps": 1, "duration_s": 1, "timing": {"tools_s": 0.1}}
    assert orjson.dumps(TrialRecord.build(**old)) == b'{"format_version":1,' + orjson.dumps(old)[1:]
    summary = {"suite": "s", "n_trials": 1, "overall": 1, "wall_time_s": 2}
    assert orjson.dumps(Summary.build(**summary)) == b'{"format_version":1,' + orjson.dumps(summary)[1:]
    with pytest.raises(ResultsError, match="cannot write a trial record: epoch"):
        TrialRecord.build(**{**old, "epoch": "first"})


def test_the_trial_log_refuses_to_resume_onto_a_newer_format(tmp_path: Path):
    run = mini_run(tmp_path / "run")
    _rewrite_trial(run, 0, lambda r: r.update(format_version=NEWER))
    with pytest.raises(ResultsError, match=f"trials.jsonl:1: written in run-folder format {NEWER}"):
        TrialLog(run / "trials.jsonl").open()


# --- readers: old runs, extra fields ------------------------------------------------------


def test_a_run_from_before_versions_reads_as_version_1(tmp_path: Path):
    run = mini_run(tmp_path / "run")  # written by hand as before: no format_version anywhere
    assert b"format_version" not in b"".join(p.read_bytes() for p in run.iterdir())
    proc = medagent("view", run)
    assert proc.returncode == 0, proc.stderr
    assert "75.0%" in proc.stdout
    assert medagent("report", run, "-o", tmp_path / "r.html").returncode == 0


def test_unknown_fields_of_a_known_version_are_kept_and_ignored(tmp_path: Path):
    run = mini_run(tmp_path / "run")
    _rewrite_json(run / "run.json", lambda d: d.update(format_version=1, gpu={"kind": "none"}))
    _rewrite_json(run / "summary.json", lambda d: d.update(format_version=1, calibration=[0.1, 0.2]))
    _rewrite_trial(run, 0, lambda r: r.update(format_version=1, reasoning={"tokens": 12}))
    folder = read_run(run)
    assert folder.run["gpu"] == {"kind": "none"} and folder.trials[0]["reasoning"] == {"tokens": 12}
    view = medagent("view", run, "task1_1")
    assert view.returncode == 0, view.stderr
    report = medagent("report", run, "-o", tmp_path / "r.html")
    assert report.returncode == 0, report.stderr
    doc = pack_run(run)  # packed as recorded: the extras travel with the submission
    assert doc["trials"][0]["reasoning"] == {"tokens": 12}
    assert verify_submission(doc, suite=MINI, grade=mini_grade, replay=None).n_trials == 8


# --- readers: a newer format is refused in one line ---------------------------------------


@pytest.mark.parametrize("where", ["run.json", "summary.json", "trials.jsonl"])
def test_view_report_and_submit_refuse_a_newer_format(tmp_path: Path, where: str):
    run = mini_run(tmp_path / "run")
    if where == "trials.jsonl":
        _rewrite_trial(run, 2, lambda r: r.update(format_version=NEWER))
    else:
        _rewrite_json(run / where, lambda d: d.update(format_version=NEWER))
    for args in (("view", run), ("report", run, "-o", tmp_path / "r.html"),
                 ("submit", run, "-o", tmp_path / "s.json", "--no-verify")):
        err = one_error_line(medagent(*args))
        assert where in err and f"format {NEWER}, newer than this medagent reads" in err, err
        assert "upgrade medagent" in err
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "s.json").exists()


def test_a_malformed_known_field_is_one_line_naming_file_and_field(tmp_path: Path):
    run = mini_run(tmp_path / "run")
    _rewrite_trial(run, 1, lambda r: r.update(category="five"))
    err = one_error_line(medagent("view", run))
    assert "trials.jsonl:2: category: Input should be a valid integer" in err


def test_leaderboard_verify_refuses_a_submission_holding_a_newer_run_format(tmp_path: Path):
    doc = pack_run(mini_run(tmp_path / "run"))
    newer_run = seal({**doc, "run": {**doc["run"], "format_version": NEWER}})
    path = tmp_path / "newer.json"
    path.write_bytes(orjson.dumps(newer_run))
    err = one_error_line(medagent("leaderboard", "verify", path))
    assert f"run: written in run-folder format {NEWER}" in err
    newer_trial = seal({**doc, "trials": [{**doc["trials"][0], "format_version": NEWER}, *doc["trials"][1:]]})
    with pytest.raises(SubmissionError, match=f"trials.0: written in run-folder format {NEWER}"):
        verify_submission(newer_trial, suite=MINI, grade=mini_grade, replay=None)


def test_a_submission_packed_before_versions_still_verifies(tmp_path: Path):
    doc = pack_run(mini_run(tmp_path / "run"))
    assert "format_version" not in doc["run"] and "format_version" not in doc["trials"][0]
    assert verify_submission(doc, suite=MINI, grade=mini_grade, replay=None).n_trials == 8


def test_resume_refuses_a_run_of_a_newer_format(tmp_path: Path):
    run = mini_run(tmp_path / "run")
    _rewrite_json(run / "run.json", lambda d: d.update(format_version=NEWER))
    err = one_error_line(medagent("bench", "--resume", run))
    assert f"run.json: written in run-folder format {NEWER}" in err
