"""bench → submit → verify → build, with the real suite, grader and embedded FHIR server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from medagent.cli import main
from medagent.leaderboard import read_submission, write_submission

from ._runs import edited, trial


def test_oracle_run_submits_verifies_and_tampering_fails(bench_run, small_suite, tmp_path: Path, capsys):
    jsonl, run = bench_run
    sub = tmp_path / "oracle.json.gz"
    assert main(["submit", str(run), "-o", str(sub), "--suite", str(jsonl)]) == 0
    assert main(["leaderboard", "verify", str(sub), "--suite", str(jsonl)]) == 0
    out = capsys.readouterr().out
    n = len(small_suite.tasks)
    assert f"OK {sub}: (no model) (oracle) on {small_suite.id}: {n} trials replayed (" in out
    assert "and re-graded, overall 1.0000" in out and "[reference baseline: labelled, never ranked" in out

    doc = read_submission(sub)
    assert doc["metadata"]["suite_checksum"] == small_suite.checksum
    action = next(t for t in doc["trials"] if t["kind"] == "action" and t["writes"])
    query = next(t for t in doc["trials"] if t["kind"] == "query" and t["answer"])

    def drop_writes(d: dict) -> None:
        trial(d, action["trial_id"])["writes"] = []

    def wrong_answer(d: dict) -> None:
        trial(d, query["trial_id"])["answer"] = ["not the answer"]

    def inflate(d: dict) -> None:
        d["scores"]["overall"] = 1.5

    cases = [
        (drop_writes, f"trial {action['trial_id']}: recorded 0 write(s) but replaying its requests gives "),
        (wrong_answer, f"trial {query['trial_id']}: recorded grade passed=True but re-grading gives passed=False"),
        (inflate, "score 'overall' is 1.5 but re-grading gives 1.0"),
    ]
    for change, reason in cases:
        forged = write_submission(edited(doc, change), tmp_path / "forged.json")
        assert main(["leaderboard", "verify", str(forged), "--suite", str(jsonl)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"medagent: error: {forged}: {reason}") and "\n" not in err

    # without --suite the verifier looks for a built-in suite of that id
    assert main(["leaderboard", "verify", str(sub)]) == 2
    assert f"unknown suite {small_suite.id!r}" in capsys.readouterr().err


def test_oracle_run_report_and_board(bench_run, small_suite, tmp_path: Path, capsys):
    from tests.browser import parse

    jsonl, run = bench_run
    subs = tmp_path / "subs"
    assert main(["submit", str(run), "-o", str(subs / "oracle.json"), "--suite", str(jsonl)]) == 0
    assert main(["leaderboard", "build", str(subs), "-o", str(tmp_path / "site"), "--suite", str(jsonl)]) == 0
    board = orjson.loads((tmp_path / "site" / "leaderboard.json").read_bytes())
    assert board["entries"] == []  # the oracle is a reference baseline: shown, never ranked
    assert [e["scores"]["overall"] for e in board["baselines"]] == [1.0]
    assert main(["report", str(run), "-o", str(tmp_path / "r.html"), "--quiet"]) == 0
    page = parse((tmp_path / "r.html").read_text())
    assert len(page.by_id("trials").find_all("details", class_="trial")) == len(small_suite.tasks)
    assert page.by_id("failures").text() == "No failed trials."
    assert page.find("title").text() == f"medagent report: (no model) · oracle · {small_suite.id}"
    first = page.by_id("trials").find("details", class_="trial")
    tool_calls = first.find_all("details")[1]  # [0] is the trial itself
    assert tool_calls.find("summary").text().startswith("Tool calls (") and tool_calls.has("open")


@pytest.mark.slow
def test_oracle_on_the_built_in_suite_verifies_without_suite_flag(tmp_path: Path, capsys):
    """The published path: mab-v1 with the default cohort (seeded on first use: minutes)."""
    run, sub = tmp_path / "run", tmp_path / "oracle.json.gz"
    assert main(["bench", "--agent", "oracle", "--out", str(run), "--quiet"]) == 0
    assert main(["submit", str(run), "-o", str(sub)]) == 0
    assert main(["leaderboard", "verify", str(sub)]) == 0
    assert "on mab-v1: 300 trials re-graded, overall 1.0000" in capsys.readouterr().out
