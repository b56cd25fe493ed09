"""Submissions: pack → verify round-trips; every kind of edit is caught with a clear reason."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from medagent.errors import ResultsError, SubmissionError
from medagent.leaderboard import (
    FORMAT,
    VERSION,
    compute_digest,
    pack_run,
    read_submission,
    score_trials,
    verify_file,
    verify_submission,
    write_submission,
)

from ._runs import MINI, edited, mini_grade, mini_run, trial


def verify(doc: dict):
    return verify_submission(doc, suite=MINI, grade=mini_grade, replay=None)


def rejects(doc: dict, reason: str) -> str:
    with pytest.raises(SubmissionError) as info:
        verify(doc)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message
    return message


# --- round trip -------------------------------------------------------------------------


def test_pack_records_metadata_trials_and_scores(doc: dict, run_dir: Path):
    meta = doc["metadata"]
    assert doc["format"] == FORMAT and doc["version"] == VERSION
    assert meta["model"] == "gpt-test" and meta["agent"] == "react"
    assert meta["provider"] == "api.example.com"
    assert meta["suite"] == MINI.id
    assert meta["suite_checksum"] == MINI.checksum and meta["cohort_checksum"] == MINI.cohort_checksum
    assert meta["epochs"] == 2 and meta["date"] == "2026-11-20T09:00:00+00:00"
    assert meta["medagent_version"] == "0.1.0"
    assert len(doc["trials"]) == 8
    recorded = orjson.loads((run_dir / "trials.jsonl").read_bytes().splitlines()[0])
    packed = trial(doc, recorded["trial_id"])
    for key in ("answer", "writes", "grade", "messages", "tool_calls", "fhir_requests", "usage"):
        assert packed[key] == recorded[key]
    assert doc["scores"] == orjson.loads((run_dir / "summary.json").read_bytes())
    assert doc["digest"] == compute_digest(doc)


@pytest.mark.parametrize("name", ["sub.json", "sub.json.gz"])
def test_round_trip_through_a_file(doc: dict, tmp_path: Path, name: str):
    path = write_submission(doc, tmp_path / name)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    assert read_submission(path) == doc
    verified = verify_file(path, suite=MINI, grade=mini_grade, replay=None)
    assert verified.n_trials == 8
    assert verified.scores["overall"] == pytest.approx(0.75)
    assert verified.scores["per_category"] == {"1": 1.0, "2": 0.5, "5": 0.75}
    assert verified.scores["pass_k"] == {"1": 0.75, "2": 0.5}
    assert verified.metadata["model"] == "gpt-test"


def test_single_epoch_run_round_trips(tmp_path: Path):
    doc = pack_run(mini_run(tmp_path / "one", epochs=1, wrong=("task1_1#1",)))
    verified = verify(doc)
    assert verified.scores["overall"] == pytest.approx(0.5)
    assert "pass_k" not in verified.scores


def test_packing_is_deterministic_for_a_fixed_time(run_dir: Path):
    from datetime import UTC, datetime

    when = datetime(2026, 11, 21, tzinfo=UTC)
    assert pack_run(run_dir, now=when) == pack_run(run_dir, now=when)


# --- edits that re-grading catches (the forger re-sealed the digest) ----------------------


def _set(path: str, value):
    """A change that sets a dotted path (``trials.task1_1#1.answer``) in the document."""

    def change(doc: dict) -> None:
        parts = path.split(".")
        node = doc
        if parts[0] == "trials" and len(parts) > 2:
            node, parts = trial(doc, parts[1]), parts[2:]
        for part in parts[:-1]:
            node = node[int(part) if isinstance(node, list) else part]
        node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value

    return change


def _add_write(trial_id: str, resource_type: str):
    def change(doc: dict) -> None:
        trial(doc, trial_id)["writes"].append(
            {"seq": 9, "interaction": "create", "method": "POST", "url": resource_type, "status": 201,
             "resourceType": resource_type, "id": "x", "versionId": "1", "resource": {"resourceType": resource_type}}
        )

    return change


def _drop_trial(trial_id: str):
    def change(doc: dict) -> None:
        doc["trials"] = [t for t in doc["trials"] if t["trial_id"] != trial_id]

    return change


def _duplicate_trial(trial_id: str):
    def change(doc: dict) -> None:
        doc["trials"].append(dict(trial(doc, trial_id)))

    return change


EDITS = {
    # scores
    "overall": (_set("scores.overall", 0.875), "score 'overall' is 0.875 but re-grading gives 0.75"),
    "query": (_set("scores.query", 1.0), "score 'query' is 1.0 but re-grading gives 0.75"),
    "action": (_set("scores.action", 0.5), "score 'action' is 0.5"),
    "category score": (_set("scores.per_category.2", 1.0), "score 'per_category.2' is 1.0 but re-grading gives 0.5"),
    "category missing": (_set("scores.per_category", {"1": 1.0, "2": 0.5}), "score 'per_category'"),
    "pass^k": (_set("scores.pass_k.2", 0.75), "score 'pass_k.2' is 0.75 but re-grading gives 0.5"),
    "n_trials": (_set("scores.n_trials", 9), "score 'n_trials' is 9"),
    "errors": (_set("scores.errors", 0), "score 'errors' is 0 but re-grading gives 1"),
    "tokens": (_set("scores.tokens.total_tokens", 100), "score 'tokens.total_tokens' is 100"),
    "cost": (_set("scores.cost_usd", 0.001), "score 'cost_usd' is 0.001"),
    "cost not a number": (_set("scores.cost_usd", "free"), "scores.cost_usd: Input should be a valid number"),
    "ci95": (_set("scores.overall_ci95", [0.9, 1.0]), "'overall_ci95' [0.9, 1.0] does not contain"),
    "no overall": (lambda d: d["scores"].pop("overall"), "malformed submission: scores lack 'overall'"),
    # answers
    "answer flips a pass": (_set("trials.task1_1#1.answer", ["S0000002"]),
                            "trial task1_1#1: recorded grade passed=True but re-grading gives passed=False "
                            "(failed: answer)"),
    "answer of a failed trial": (_set("trials.task2_1#2.answer", [8]),
                                 "trial task2_1#2: check 'answer' recorded passed=False, got=[7] but "
                                 "re-grading gives passed=False, got=[8]"),
    "answer fixed": (_set("trials.task2_1#2.answer", [42]),
                     "trial task2_1#2: recorded grade passed=False but re-grading gives passed=True"),
    # writes
    "write removed": (_set("trials.task5_1#1.writes", []),
                      "trial task5_1#1: recorded grade passed=True but re-grading gives passed=False "
                      "(failed: writes)"),
    "write added to a query": (_add_write("task1_1#2", "Observation"),
                               "trial task1_1#2: recorded grade passed=True but re-grading gives passed=False "
                               "(failed: no_writes)"),
    "write type changed": (_set("trials.task5_1#2.writes.0.resourceType", "ServiceRequest"),
                           "trial task5_1#2: recorded grade passed=True"),
    # recorded grades and trial fields
    "grade flipped": (_set("trials.task2_1#2.grade.passed", True),
                      "trial task2_1#2: recorded grade passed=True but re-grading gives passed=False"),
    "check dropped": (lambda d: trial(d, "task1_1#1")["grade"]["checks"].pop(),
                      "trial task1_1#1: recorded grade has 1 check(s) but re-grading gives 2"),
    "check renamed": (_set("trials.task1_1#1.grade.checks.0.name", "answers"),
                      "trial task1_1#1: recorded check 'answers' but re-grading gives check 'answer'"),
    "error made a completion": (_set("trials.task5_2#1.status", "completed"),
                                "trial task5_2#1: recorded grade passed=False but re-grading gives passed=True"),
    "unknown status": (_set("trials.task5_2#1.status", "skipped"), "trial task5_2#1: unknown status 'skipped'"),
    "trial category": (_set("trials.task1_1#1.category", 2),
                 "trial task1_1#1: recorded category/kind 2/query differ from the suite's 1/query"),
    # checksums
    "suite checksum": (lambda d: (_set("metadata.suite_checksum", "0" * 64)(d), _set("scores.suite_checksum", "0" * 64)(d),
                                  _set("run.suite_checksum", "0" * 64)(d)),
                       "suite checksum differs from the known suite 'mini-v1'"),
    "cohort checksum": (lambda d: (_set("metadata.cohort_checksum", "1" * 64)(d), _set("scores.cohort_checksum", "1" * 64)(d),
                                   _set("run.cohort_checksum", "1" * 64)(d)),
                        "cohort checksum differs from the one suite 'mini-v1' was built from"),
    "suite checksum in scores only": (_set("scores.suite_checksum", "0" * 64),
                                      "differs from scores.suite_checksum '000"),
    "cohort checksum in run only": (_set("run.cohort_checksum", "1" * 64), "differs from run.cohort_checksum '111"),
    "model in metadata only": (_set("metadata.model", "gpt-5"), "metadata model 'gpt-5' differs from scores.model 'gpt-test'"),
    "max steps in metadata only": (_set("metadata.max_steps", 30), "metadata max_steps 30 differs from run.max_steps 8"),
    "other suite": (_set("metadata.suite", "mab-v1"), "metadata suite 'mab-v1' differs from scores.suite 'mini-v1'"),
    # completeness
    "trial removed": (_drop_trial("task2_1#1"), "incomplete: task task2_1 has 1 epoch(s), expected 2"),
    "task removed": (lambda d: (_drop_trial("task5_2#1")(d), _drop_trial("task5_2#2")(d)),
                     "incomplete: 1 task(s) have no trial (task5_2)"),
    "trial duplicated": (_duplicate_trial("task1_1#1"), "trial task1_1#1 appears more than once"),
    "epoch renumbered": (lambda d: (_set("trials.task2_1#2.epoch", 1)(d), _set("trials.task2_1#2.trial_id", "task2_1#1")(d)),
                         "trial task2_1#1 appears more than once"),
    "trial id inconsistent": (_set("trials.task2_1#2.trial_id", "task2_1#3"),
                              "trial task2_1#3: trial_id does not match task 'task2_1' epoch 2"),
    "foreign task": (lambda d: (_set("trials.task2_1#2.task_id", "task9_1")(d), _set("trials.task2_1#2.trial_id", "task9_1#2")(d)),
                     "trial task9_1#2: task 'task9_1' is not in suite 'mini-v1'"),
    "epochs claimed": (lambda d: (_set("metadata.epochs", 3)(d), _set("run.epochs", 3)(d)),
                       "incomplete: task task1_1 has 2 epoch(s), expected 3"),
    "epochs in metadata only": (_set("metadata.epochs", 3), "metadata epochs 3 differs from run.epochs 2"),
    # shape
    "format": (_set("format", "inspect-log"), "malformed submission: 'format' is not 'medagent-submission'"),
    "version": (_set("version", 2), "malformed submission: unsupported version 2 (expected 1)"),
    "metadata key": (lambda d: d["metadata"].pop("model"), "malformed submission: metadata.model: Field required"),
    "trials not a list": (lambda d: d.update(trials={"a": 1}), "malformed submission: trials:"),
    "unknown top-level key": (_set("extra", 1), "malformed submission: extra: Extra inputs are not permitted"),
    "secret in run.json": (_set("run.api_key", "sk-live-0123456789abcdefghij"),
                           "run.json has a secret-looking field 'api_key'"),
    "key-shaped value in run.json": (_set("run.headers", {"X-Note": "Bearer abcdefghijklmnopqrstuvwx"}),
                                     "run.json has a secret-looking field 'headers.X-Note'"),
    "password in a URL in run.json": (_set("run.config", {"fhir_url": "https://me:hunter2@ehr.example/fhir"}),
                                      "run.json has a secret-looking field 'config.fhir_url'"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_every_edit_is_rejected_with_its_reason(doc: dict, edit: str):
    change, reason = EDITS[edit]
    verify(doc)  # the untouched document passes
    rejects(edited(doc, change), reason)


@pytest.mark.parametrize("edit", ["overall", "answer of a failed trial", "write type changed", "cohort checksum",
                                  "trial removed", "trial duplicated"])
def test_an_edit_without_resealing_fails_on_the_digest(doc: dict, edit: str):
    change, _ = EDITS[edit]
    rejects(edited(doc, change, reseal=False), "digest mismatch: the file was changed after packing")


def test_an_edit_that_changes_nothing_graded_still_breaks_the_digest(doc: dict):
    def reword(d: dict) -> None:
        trial(d, "task1_1#1")["messages"][0]["content"] = "Something else"

    rejects(edited(doc, reword, reseal=False), "digest mismatch")
    verify(edited(doc, reword))  # re-sealed: the trajectory is not graded, so this verifies


def test_a_bad_digest_is_rejected(doc: dict):
    rejects(edited(doc, _set("digest", "sha256:" + "0" * 64), reseal=False), "digest mismatch")


def test_submission_for_another_suite_is_rejected(doc: dict):
    for key in ("metadata", "scores", "run"):
        doc[key]["suite"] = "mab-v1"
    from medagent.leaderboard import seal

    rejects(seal(doc), "submission is for suite 'mab-v1', not 'mini-v1'")


def test_unknown_suite_with_the_default_loader(doc: dict):
    tasks = pytest.importorskip("medagent.tasks")
    if not hasattr(tasks, "load_suite"):
        pytest.skip("tasks.load_suite has not landed yet")
    with pytest.raises(SubmissionError, match="unknown suite 'mini-v1'"):
        verify_submission(doc)


# --- reading and packing errors -----------------------------------------------------------


def test_pack_refuses_a_run_json_with_a_secret(run_dir: Path):
    run = orjson.loads((run_dir / "run.json").read_bytes())
    run["provider_settings"] = {"api_key": "sk-abc"}
    (run_dir / "run.json").write_bytes(orjson.dumps(run))
    with pytest.raises(SubmissionError, match=r"secret-looking field 'provider_settings\.api_key'; refusing"):
        pack_run(run_dir)


def test_pack_accepts_token_counts_and_empty_key_fields(run_dir: Path):
    run = orjson.loads((run_dir / "run.json").read_bytes())
    run.update({"max_tokens": 1024, "api_key": None, "config": {"api_key_env": "OPENAI_API_KEY"},
                "token_env": "MEDAGENT_TOKEN", "tokens_per_minute": "1000"})
    (run_dir / "run.json").write_bytes(orjson.dumps(run))
    verify(pack_run(run_dir))


def test_pack_needs_a_complete_run_folder(tmp_path: Path, run_dir: Path):
    with pytest.raises(ResultsError, match="not a run folder"):
        pack_run(tmp_path / "missing")
    (run_dir / "summary.json").unlink()
    with pytest.raises(ResultsError, match=r"not a run folder \(no summary.json\)"):
        pack_run(run_dir)


def test_pack_refuses_a_run_without_a_suite(run_dir: Path):
    for name in ("run.json", "summary.json"):
        data = orjson.loads((run_dir / name).read_bytes())
        data.pop("suite")
        (run_dir / name).write_bytes(orjson.dumps(data))
    with pytest.raises(ResultsError, match=r"run\.json: suite: Field required"):  # read through RunInfo
        pack_run(run_dir)


def test_a_run_without_a_model_packs_and_verifies(tmp_path: Path):
    run_dir = mini_run(tmp_path / "oracle", model=None, agent="oracle")
    doc = pack_run(run_dir)
    assert doc["metadata"]["model"] is None
    assert verify(doc).metadata["agent"] == "oracle"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "malformed submission: not JSON"),
        (b"[1, 2]", "malformed submission: top level is not an object"),
        (b"\x1f\x8b\x08\x00garbage", "malformed submission: bad gzip data"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=reason):
        read_submission(path)
    with pytest.raises(SubmissionError, match=f"^{path}: {reason}"):
        verify_file(path, suite=MINI, grade=mini_grade, replay=None)


def test_missing_file(tmp_path: Path):
    with pytest.raises(SubmissionError, match="cannot read submission"):
        read_submission(tmp_path / "nope.json")


def test_a_torn_last_line_is_ignored_but_a_torn_middle_line_is_not(run_dir: Path):
    from medagent.runfolder import read_trials

    path = run_dir / "trials.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines) + b'{"trial_id": "task')
    assert len(read_trials(path)) == 8
    path.write_bytes(lines[0] + b"{oops\n" + b"".join(lines[1:]))
    with pytest.raises(ResultsError, match="trials.jsonl:2: not valid JSON"):
        read_trials(path)


def test_gzip_output_is_byte_stable(doc: dict, tmp_path: Path):
    a = write_submission(doc, tmp_path / "a.json.gz").read_bytes()
    b = write_submission(doc, tmp_path / "b.json", compress=True).read_bytes()
    assert a == b
    assert orjson.loads(gzip.decompress(a)) == doc


# --- scores -------------------------------------------------------------------------------


def _t(task_id: str, epoch: int, passed: bool, *, category: int = 1, kind: str = "query", status: str = "completed"):
    return {"trial_id": f"{task_id}#{epoch}", "task_id": task_id, "epoch": epoch, "category": category,
            "kind": kind, "status": status, "grade": {"passed": passed},
            "usage": {"prompt_tokens": 10, "completion_tokens": 5}, "cost_usd": 0.25}


def test_pass_hat_k_is_the_unbiased_estimate():
    trials = [_t("a", 1, True), _t("a", 2, True), _t("a", 3, False),
              _t("b", 1, True, category=5, kind="action"), _t("b", 2, True, category=5, kind="action"),
              _t("b", 3, True, category=5, kind="action", status="error")]
    scores = score_trials(trials)
    # a: 2 of 3 pass; b: 2 of 3 (the errored one fails whatever its recorded grade says)
    assert scores["overall"] == pytest.approx(4 / 6)
    assert scores["query"] == pytest.approx(2 / 3) and scores["action"] == pytest.approx(2 / 3)
    assert scores["per_category"] == {"1": pytest.approx(2 / 3), "5": pytest.approx(2 / 3)}
    assert scores["pass_k"]["1"] == pytest.approx(2 / 3)
    assert scores["pass_k"]["2"] == pytest.approx(1 / 3)  # C(2,2)/C(3,2)
    assert scores["pass_k"]["3"] == 0.0
    assert scores["errors"] == 1
    assert scores["tokens"] == {"prompt_tokens": 60, "completion_tokens": 30, "total_tokens": 90}
    assert scores["cost_usd"] == pytest.approx(1.5)


def test_scores_without_costs_or_trials():
    assert score_trials([])["overall"] is None
    trial = _t("a", 1, False)
    trial.pop("cost_usd")
    assert score_trials([trial])["cost_usd"] is None
