"""`medagent report`: the HTML page's content, its escaping, the terminal table, and the page
running in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from medagent.cli import main
from medagent.labels import category_label
from medagent.runfolder import read_run
from medagent.report import build_report, failure_reasons
from tests.browser import dump_dom, file_url, needs_chromium, page_problems, parse
from tests.leaderboard._runs import HOSTILE, mini_run


def C(n: int) -> str:  # noqa: N802 - reads like the page's own label
    return category_label(n, short=True)

IMG = '<img src=x onerror="document.documentElement.setAttribute(\'data-pwned\',\'2\')">'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MINI run (8 trials: 6 pass, task2_1#2 answers wrongly — with markup — and
    task5_2#1 errored)."""
    return mini_run(tmp_path_factory.mktemp("report") / "run", wrong_answer=[HOSTILE, IMG])


@pytest.fixture(scope="module")
def report(run_dir: Path) -> Path:
    return build_report(run_dir)


@pytest.fixture(scope="module")
def doc(report: Path):
    return parse(report.read_text())


def cards(doc) -> dict[str, str]:
    return {c.find(class_="k").text(): c.find(class_="v").text() for c in doc.by_id("summary").find_all(class_="card")}


def test_summary(doc):
    assert cards(doc) == {
        "overall": "75.0%", "query": "75.0%", "action": "75.0%", "harm": "0.0% (0 trials)",
        "harm-weighted (+1 / 0 / −1)": "+0.75",
        "blind / oracle (suite)": "n/a", "95% CI": "55.0% – 95.0%",
        "pass^k": "50.0% (k=2)", "trials": "8", "errors": "1", "tokens": "9,200", "cost": "$0.0350",
        "wall time": "12.5 s",
    }
    assert doc.find("title").text() == "medagent report: gpt-test · react · mini-v1"


def test_per_category_chart(doc):
    chart = doc.by_id("chart-categories")
    # each category by its number and name (the kind is in the note beside the bar)
    assert [r.find("title").text() for r in chart.find_all("rect", class_="bar")] == [
        f"{C(1)}: 100.0%", f"{C(2)}: 50.0%", f"{C(5)}: 75.0%"]
    assert C(5) == "C5 Magnesium replacement"
    assert "action" in chart.text()
    widths = [float(r.get("width")) for r in chart.find_all("rect", class_="bar")]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[2] == pytest.approx(1.5 * widths[1])


def test_success_vs_steps_chart(run_dir: Path, doc):
    counted = {"passed": 0, "failed": 0}
    for rect in doc.by_id("chart-steps").find_all("rect"):
        steps, n, what = re.fullmatch(r"(\d+) steps: (\d+) (passed|failed)", rect.find("title").text()).groups()
        counted[what] += int(n)
    assert counted == {"passed": 6, "failed": 2}
    trials = read_run(run_dir).trials
    labels = {t.text() for t in doc.by_id("chart-steps").find_all("text")}
    assert {str(t["steps"]) for t in trials} <= labels


def test_tokens_and_cost_table(doc):
    rows = {tr.find("td").text(): [td.text() for td in tr.find_all("td")] for tr in doc.by_id("usage").find("tbody").find_all("tr")}
    assert list(rows) == [C(1), C(2), C(5), "all"]
    assert rows["all"][1:5] == ["8", "7,600", "1,600", "$0.0350"]
    assert rows[C(5)][1] == "4"


def test_failure_reasons_are_grouped(run_dir: Path, doc):
    body = doc.by_id("failures").find("tbody")
    rows = [[td.text() for td in tr.find_all("td")] for tr in body.find_all("tr")]
    assert rows == [
        [C(2), "answer", "1", "answer differs from the expected one", "task2_1#2"],
        [C(5), "error: ProviderError: rate limited after 5 retries", "1", "", "task5_2#1"],
    ]
    assert body.find("a").get("href") == "#trial-task2_1-2"
    groups = failure_reasons(read_run(run_dir).trials + read_run(run_dir).trials)
    assert [(c, r, len(g)) for c, r, g in groups][0] == (C(2), "answer", 2)


def test_each_trial_is_an_expandable_trajectory(doc):
    trials = doc.by_id("trials").find_all("details", class_="trial")
    assert len(trials) == 8
    assert {t.get("data-outcome") for t in trials} == {"pass", "fail", "error"}
    assert not any(t.has("open") for t in trials)
    errored = doc.by_id("trial-task5_2-1")
    assert errored.get("data-outcome") == "error"
    assert "ProviderError: rate limited" in errored.text()
    first = doc.by_id("trial-task1_1-1")
    roles = [r.text() for r in first.find_all(class_="role")]
    assert roles == ["system", "user", "assistant", "step 1 · search_patients · 200 · ok",
                     "GET Patient?identifier=S0000001 → 200"]
    assert "finish" in first.text()
    summaries = [d.find("summary").text() for d in first.find_all("details")[1:]]
    assert summaries == ["Tool calls (1)", "FHIR requests (1)"]


def test_long_content_is_cut_with_a_note(tmp_path: Path):
    from medagent.report._report import SHOW_CHARS

    run = mini_run(tmp_path / "run")
    lines = (run / "trials.jsonl").read_bytes().splitlines()
    record = orjson.loads(lines[0])
    record["messages"][1]["content"] = "x" * (SHOW_CHARS + 1234)
    (run / "trials.jsonl").write_bytes(b"\n".join([orjson.dumps(record), *lines[1:]]) + b"\n")
    page = parse(build_report(run).read_text())
    user = page.by_id(f"trial-{record['trial_id'].replace('#', '-')}").find_all(class_="msg")[1]
    assert user.find("pre").text() == "x" * SHOW_CHARS
    assert user.find(class_="more").text() == "… 1,234 more characters in trials.jsonl"


def test_hostile_content_is_escaped(report: Path, doc):
    html = report.read_text()
    assert HOSTILE not in html and IMG not in html
    assert len(doc.find_all("script")) == 2  # the error hook and the page script
    assert not doc.find_all("img")
    answer = doc.by_id("trial-task2_1-2").find("pre").text()
    assert orjson.loads(answer) == [HOSTILE, IMG]  # shown as the text it is


def test_report_without_summary_computes_scores(tmp_path: Path):
    run = mini_run(tmp_path / "run")
    (run / "summary.json").unlink()
    page = parse(build_report(run, tmp_path / "out" / "r.html").read_text())
    assert cards(page)["overall"] == "75.0%" and cards(page)["95% CI"] == "40.9% – 92.9%"  # Wilson, 6 of 8


def test_cli_writes_the_page_and_prints_a_table(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "r.html"
    assert main(["report", str(run_dir), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.exists() and printed.strip().endswith(f"report written to {out}")
    # the one terminal summary of a run, as `medagent view` prints it
    assert re.search(r"│ overall +│ +75\.0% │", printed), printed
    assert re.search(r"│ category 2 ·.*│ +50\.0% │", printed), printed
    assert re.search(r"│ trials / errors +│ +8 / 1 │", printed), printed
    assert re.search(r"│ cost +│ +\$0\.0350 │", printed), printed


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_bytes(orjson.dumps([1]))
    assert main(["report", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"medagent: error: {tmp_path / 'run' / 'run.json'}: expected a JSON object"


# --- in headless Chromium ---------------------------------------------------------------


@needs_chromium
@pytest.mark.parametrize(
    ("fragment", "shown"),
    [("", 8), ("outcome=fail", 1), ("outcome=pass&category=5", 3)],
)
def test_report_runs_cleanly_in_chromium(report: Path, fragment: str, shown: int):
    page = parse(dump_dom(file_url(report, fragment)))
    assert page_problems(page) == {}
    body = page.find("body")
    assert body.get("data-ready") == "1"
    assert not page.find("html").has("data-pwned")
    assert body.get("data-shown") == str(shown)
    visible = [d for d in page.by_id("trials").find_all("details", class_="trial") if not d.has("hidden")]
    assert len(visible) == shown
    assert page.by_id("shown-count").text() == f"{shown} of 8 trials shown"


@needs_chromium
def test_expand_opens_the_shown_trials_in_chromium(report: Path):
    page = parse(dump_dom(file_url(report, "outcome=pass&expand=1")))
    assert page_problems(page) == {}
    opened = {d.get("id") for d in page.by_id("trials").find_all("details", class_="trial") if d.has("open")}
    shown = {d.get("id") for d in page.by_id("trials").find_all("details", class_="trial") if not d.has("hidden")}
    assert opened == shown and len(shown) == 6


@needs_chromium
def test_a_trial_link_opens_its_trajectory_in_chromium(report: Path):
    page = parse(dump_dom(file_url(report, "trial-task2_1-2")))
    assert page_problems(page) == {}
    assert page.by_id("trial-task2_1-2").has("open")
    assert not page.by_id("trial-task1_1-1").has("open")
