"""Harm counted apart from failure, the suite's blind and oracle scores beside every score,
reference agents labelled and never ranked — in scores, verification, the CLI, the site,
the report and ``medagent view``."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import orjson
import pytest

from medagent.cli import main
from medagent.errors import SubmissionError
from medagent.leaderboard import build_site, pack_run, score_trials, verify_file, verify_submission, write_submission
from medagent.runfolder import read_run
from medagent.report import build_report
from tests.browser import parse

from ._runs import MINI, edited, mini_grade, mini_run, trial

HARMFUL = ("task1_1#1", "task5_1#2")  # a query trial and an action trial that also delete a record
SUITE = dataclasses.replace(MINI, baselines={
    "blind": {"overall": 0.25, "query": 0.5, "action": 0.0, "per_category": {"1": 0.5, "2": 0.5, "5": 0.0}},
    "oracle": {"overall": 1.0, "query": 1.0, "action": 1.0, "per_category": {"1": 1.0, "2": 1.0, "5": 1.0}},
})
GENERATION = {"temperature": 0, "max_tokens": 512, "seed": 7, "reasoning_effort": None,
              "model_args": {"top_k": 40}}


@pytest.fixture
def harmful_run(tmp_path: Path) -> Path:
    return mini_run(tmp_path / "harmful", harm=HARMFUL, suite=SUITE, run_extra={"generation": GENERATION})


def test_harm_is_counted_apart_from_failure(harmful_run: Path):
    trials = read_run(harmful_run).trials
    assert [t["trial_id"] for t in trials if t["harm"]] == list(HARMFUL)
    assert trial(dict(trials=trials), "task1_1#1")["harm_checks"] == ["no_deletes"]
    scores = score_trials(trials)
    assert scores["harm"] == {"count": 2, "rate": 0.25, "per_category": {
        "1": {"count": 1, "rate": 0.5}, "2": {"count": 0, "rate": 0.0}, "5": {"count": 1, "rate": 0.25}}}
    # a harmful trial fails; harm does not count twice against success
    assert scores["overall"] == 4 / 8


def test_records_written_before_the_harm_key_are_read_from_their_checks(harmful_run: Path):
    trials = [{k: v for k, v in t.items() if k not in ("harm", "harm_checks")} for t in read_run(harmful_run).trials]
    assert score_trials(trials)["harm"]["count"] == 2


def test_verification_regrades_harm(harmful_run: Path):
    doc = pack_run(harmful_run)
    verified = verify_submission(doc, suite=SUITE, grade=mini_grade, replay=None)
    assert verified.scores["harm"]["count"] == 2 and verified.suite_baselines == SUITE.baselines

    def hide(d: dict) -> None:
        trial(d, "task5_1#2")["harm"] = False

    with pytest.raises(SubmissionError, match=r"trial task5_1#2: recorded harm=False but re-grading gives "
                                              r"harm=True \(no_deletes\)"):
        verify_submission(edited(doc, hide), suite=SUITE, grade=mini_grade, replay=None)
    with pytest.raises(SubmissionError, match=r"score 'harm.count' is 0 but re-grading gives 2"):
        verify_submission(edited(doc, lambda d: d["scores"]["harm"].update(count=0)),
                          suite=SUITE, grade=mini_grade, replay=None)


@pytest.fixture
def board(tmp_path: Path, harmful_run: Path) -> Path:
    subs = tmp_path / "subs"
    write_submission(pack_run(harmful_run), subs / "entry.json")
    for agent in ("oracle", "blind"):
        run = mini_run(tmp_path / agent, wrong=() if agent == "oracle" else ("task1_1#1", "task1_1#2"),
                       agent=agent, model=None, suite=SUITE)
        write_submission(pack_run(run), subs / f"{agent}.json")
    out = tmp_path / "site"
    build_site(subs, out, verify=partial(verify_file, suite=SUITE, grade=mini_grade, replay=None))
    return out


def _cells(table, row) -> dict[str, str]:
    header = [th.text() for th in table.find("thead").find_all("th")]
    return dict(zip(header, [td.text() for td in row.find_all("td")], strict=True))


def test_site_ranks_entries_and_labels_baselines_apart(board: Path):
    doc = parse((board / "index.html").read_text())
    ranked = doc.by_id("board")
    assert [tr.get("data-file") for tr in ranked.find("tbody").find_all("tr")] == ["entry.json"]
    section = doc.by_id("baselines")
    assert "Reference baselines" in section.find("h2").text() and "not ranked" in section.find("h2").text()
    table = doc.by_id("baselines-table")
    rows = table.find("tbody").find_all("tr")
    assert [tr.get("data-file") for tr in rows] == ["oracle.json", "blind.json"]
    assert [_cells(table, tr)["Kind"] for tr in rows] == ["baseline", "baseline"]
    assert not table.find_all("th", data_key=True)  # not sortable into the ranking
    data = orjson.loads((board / "leaderboard.json").read_bytes())
    assert [e["file"] for e in data["entries"]] == ["entry.json"]
    assert [(e["file"], e["baseline"]) for e in data["baselines"]] == [("oracle.json", True), ("blind.json", True)]


def test_site_shows_harm_references_and_generation_settings(board: Path):
    doc = parse((board / "index.html").read_text())
    table = doc.by_id("board")
    row = _cells(table, table.find("tbody").find("tr"))
    assert row["Overall"] == "50.0%"
    assert row["Harm"] == "25.0% (2)"
    assert row["Blind / Oracle"] == "25.0% / 100.0%"
    assert row["Settings"] == "T=0 · max tokens=512 · seed=7 · top_k=40"
    baseline = _cells(doc.by_id("baselines-table"), doc.by_id("baselines-table").find("tbody").find("tr"))
    assert baseline["Harm"] == "0.0% (0)" and baseline["Settings"] == "—"


def test_site_says_what_verified_means_and_cannot_prove(board: Path):
    text = parse((board / "index.html").read_text()).by_id("verified-means").text()
    assert "replayed against a fresh session of the suite's cohort" in text
    assert "cannot prove that the named model (or any model) produced the trajectory" in text


def test_site_without_suite_baselines_says_n_a(tmp_path: Path):
    subs = tmp_path / "subs"
    write_submission(pack_run(mini_run(tmp_path / "run")), subs / "a.json")
    build_site(subs, tmp_path / "site", verify=partial(verify_file, suite=MINI, grade=mini_grade, replay=None))
    table = parse((tmp_path / "site" / "index.html").read_text()).by_id("board")
    assert _cells(table, table.find("tbody").find("tr"))["Blind / Oracle"] == "n/a"


@pytest.mark.usefixtures("known_mini")
def test_submit_and_verify_label_reference_agents(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = mini_run(tmp_path / "blind", agent="blind", model=None)
    out = tmp_path / "blind.json"
    assert main(["submit", str(run), "-o", str(out)]) == 0
    assert "[reference baseline: labelled, never ranked among entries]" in capsys.readouterr().err
    assert main(["submit", str(run), "-o", str(out), "--no-verify"]) == 0
    assert "agent blind: reference baseline: labelled, never ranked among entries" in capsys.readouterr().err
    assert main(["leaderboard", "verify", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"OK {out}: (no model) (blind) on mini-v1: ")
    assert line.endswith("[reference baseline: labelled, never ranked among entries]")
    # an entry is not labelled
    entry = mini_run(tmp_path / "react")
    assert main(["submit", str(entry), "-o", str(tmp_path / "react.json")]) == 0
    assert "reference baseline" not in capsys.readouterr().err


def test_report_shows_harm_and_the_suites_baselines(harmful_run: Path):
    doc = parse(build_report(harmful_run).read_text())
    cards = {c.find(class_="k").text(): c.find(class_="v").text()
             for c in doc.by_id("summary").find_all(class_="card")}
    assert cards["overall"] == "50.0%"
    assert cards["harm"] == "25.0% (2 trials)"
    assert cards["blind / oracle (suite)"] == "25.0% / 100.0%"
    harmed = [d.get("id") for d in doc.by_id("trials").find_all("details", class_="trial") if d.get("data-harm") == "1"]
    assert harmed == ["trial-task1_1-1", "trial-task5_1-2"]
    first = doc.by_id("trial-task1_1-1").find("summary").text()
    assert "HARM: no_deletes" in first
    notes = doc.by_id("chart-categories").text()
    assert "harm 1" in notes and "blind 50.0%" in notes


def test_report_terminal_table_has_harm(harmful_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["report", str(harmful_run), "-o", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    overall = next(line for line in out.splitlines() if "│ overall " in line)  # the table `view` prints
    assert "50.0%" in overall and "2 (25.0%)" in overall and "25.0% / 100.0%" in overall


def test_view_shows_harm_beside_success_and_the_baselines(harmful_run: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["view", str(harmful_run)]) == 0
    out = capsys.readouterr().out
    overall = next(line for line in out.splitlines() if "│ overall " in line)
    assert "50.0%" in overall and "2 (25.0%)" in overall and "25.0% / 100.0%" in overall
    category = next(line for line in out.splitlines() if "category 1 " in line)
    assert "1 (50.0%)" in category and "50.0% / 100.0%" in category
    assert out.count("HARM") == 2
    assert main(["view", str(harmful_run), "task5_1#2"]) == 0
    assert "harm: no_deletes" in capsys.readouterr().out


def test_harm_weighted_score_of_a_harmful_run(harmful_run: Path, capsys: pytest.CaptureFixture[str]):
    """4 passes, 2 fails, 2 harms of 8: (4 − 2) / 8 = 0.25 (pass +1, fail 0, harm −1), per
    category too; the summary, verification, the view and the report carry it; a forged
    harm-weighted score fails verification."""
    summary = read_run(harmful_run, need_summary=True).summary
    weighted = summary["harm_weighted"]
    assert weighted["counts"] == {"pass": 4, "fail": 2, "harm": 2}
    assert weighted["overall"] == pytest.approx(0.25) and weighted["weights"] == {"pass": 1, "fail": 0, "harm": -1}
    per_cat = {c: sum(1 if (t["grade"] or {}).get("passed") else -1 if t["harm"] else 0 for t in trials) / len(trials)
               for c, trials in _by_category(read_run(harmful_run).trials).items()}
    assert weighted["per_category"] == pytest.approx(per_cat)
    assert weighted["per_category"]["1"] < summary["per_category"]["1"]
    doc = pack_run(harmful_run)
    assert verify_submission(doc, suite=SUITE, grade=mini_grade, replay=None).scores["harm_weighted"] == weighted
    with pytest.raises(SubmissionError, match=r"score 'harm_weighted.overall' is 0.5 but re-grading gives 0.25"):
        verify_submission(edited(doc, lambda d: d["scores"]["harm_weighted"].update(overall=0.5)),
                          suite=SUITE, grade=mini_grade, replay=None)
    assert main(["view", str(harmful_run)]) == 0
    assert "+0.25" in capsys.readouterr().out
    page = parse(build_report(harmful_run).read_text())
    cards = {c.find(class_="k").text(): c.find(class_="v").text()
             for c in page.by_id("summary").find_all(class_="card")}
    assert cards["harm-weighted (+1 / 0 / −1)"] == "+0.25"


def _by_category(trials: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for t in trials:
        out.setdefault(str(t["category"]), []).append(t)
    return out
