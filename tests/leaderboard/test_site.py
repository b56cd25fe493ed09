"""The static leaderboard: its content, and the page really running in headless Chromium."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from medagent.leaderboard import build_site, verify_file
from tests.browser import dump_dom, file_url, needs_chromium, page_problems, parse

from ._runs import HOSTILE, MINI, board_dir, mini_grade

SORT_KEYS = ["model", "agent", "provider", "overall", "query", "action", "harm", "harm_weighted", "reference",
             *[f"c{n}" for n in range(1, 11)], "pass_k", "cost", "date", "suite", "settings", "faults"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("board")
    out = root / "site"
    build_site(board_dir(root), out, verify=partial(verify_file, suite=MINI, grade=mini_grade, replay=None))
    return out


def rows(doc) -> list[str]:
    """The submission files of the board's rows, top to bottom."""
    return [tr.get("data-file") for tr in doc.by_id("board").find("tbody").find_all("tr")]


def cell(doc, file: str, key: str):
    header = [th.get("data-key") for th in doc.by_id("board").find("thead").find_all("th")]
    row = doc.by_id("board").find("tr", data_file=file)
    return row.find_all("td")[header.index(key)]


def test_columns_rows_and_values(site: Path):
    doc = parse((site / "index.html").read_text())
    keys = [th.get("data-key") for th in doc.by_id("board").find("thead").find_all("th", data_key=True)]
    assert keys == SORT_KEYS
    assert rows(doc) == ["alpha.json", "beta.json.gz", "gamma.json"]
    assert cell(doc, "alpha.json", "overall").text() == "87.5%"
    assert cell(doc, "alpha.json", "overall").get("data-v") == "0.875"
    assert cell(doc, "beta.json.gz", "c2").text() == "50.0%"
    assert cell(doc, "beta.json.gz", "c3").text() == "—" and cell(doc, "beta.json.gz", "c3").get("data-v") == ""
    assert cell(doc, "beta.json.gz", "pass_k").text() == "50.0% (k=2)"
    assert cell(doc, "beta.json.gz", "cost").text() == "$0.0350"
    assert cell(doc, "gamma.json", "date").text() == "2026-11-18"
    assert cell(doc, "beta.json.gz", "provider").text() == "api.example.com"
    # no harm in these runs: the harm-weighted score (pass +1, fail 0, harm -1) is the success rate
    assert cell(doc, "alpha.json", "harm_weighted").text() == "+0.88"
    assert cell(doc, "alpha.json", "harm_weighted").get("data-v") == "0.875"
    assert cell(doc, "alpha.json", "faults").text() == "none"


def test_published_scores_are_apart_and_labelled(site: Path):
    doc = parse((site / "index.html").read_text())
    published = doc.by_id("published")
    assert "as published · not re-verified" in published.find("h2").text()
    assert "MedAgentBench" in published.text()
    first = published.find("tbody").find("tr").find_all("td")
    assert [td.text() for td in first] == ["Claude 3.5 Sonnet v2", "69.67%", "85.33%", "54.00%"]
    board_models = {cell(doc, f, "model").text() for f in rows(doc)}
    assert "GPT-4o" not in board_models  # the paper's rows are not mixed into the verified table
    assert not published.find_all("th", data_key=True)


def test_skipped_submissions_are_listed_with_reasons(site: Path):
    doc = parse((site / "index.html").read_text())
    items = [li.text() for li in doc.by_id("skipped").find_all("li")]
    assert items == ["alpha2.json: duplicate of alpha.json (same digest)",
                     "forged.json: score 'overall' is 1.0 but re-grading gives 0.75"]


def test_hostile_model_name_is_text(site: Path):
    html = (site / "index.html").read_text()
    doc = parse(html)
    assert cell(doc, "gamma.json", "model").text() == "gamma" + HOSTILE
    assert len(doc.find_all("script")) == 2  # the error hook and the sorter, nothing injected
    assert HOSTILE not in html


def test_empty_board(tmp_path: Path):
    (tmp_path / "subs").mkdir()
    board = build_site(tmp_path / "subs", tmp_path / "site")
    assert board.entries == [] and board.skipped == []
    doc = parse((tmp_path / "site" / "index.html").read_text())
    assert doc.by_id("board").find("tr", class_="empty").text() == "No verified submissions yet."


# --- in headless Chromium ---------------------------------------------------------------

SORTED = {
    # fragment: (rows top to bottom, data-sorted)
    "": (["alpha.json", "beta.json.gz", "gamma.json"], "overall:desc"),
    "click=overall": (["gamma.json", "beta.json.gz", "alpha.json"], "overall:asc"),
    "click=cost": (["gamma.json", "alpha.json", "beta.json.gz"], "cost:desc"),
    "click=date,date": (["beta.json.gz", "alpha.json", "gamma.json"], "date:desc"),
}


@needs_chromium
@pytest.mark.parametrize("fragment", list(SORTED))
def test_clicking_headers_sorts_in_chromium(site: Path, fragment: str):
    """``#click=a,b`` makes the page's own script dispatch real clicks on those headers."""
    doc = parse(dump_dom(file_url(site / "index.html", fragment)))
    assert page_problems(doc) == {}
    assert doc.find("body").get("data-ready") == "1"
    want_rows, want_sorted = SORTED[fragment]
    assert rows(doc) == want_rows
    board = doc.by_id("board")
    assert board.get("data-sorted") == want_sorted
    key, direction = want_sorted.split(":")
    assert board.find("th", data_key=key).get("aria-sort") == ("ascending" if direction == "asc" else "descending")
    assert [tr.find("td").text() for tr in board.find("tbody").find_all("tr")] == ["1", "2", "3"]
    assert not doc.find("html").has("data-pwned")


def test_columns_follow_the_categories_the_entries_score():
    from medagent.leaderboard._site import columns

    def entry(*cats):
        return {"scores": {"per_category": {str(c): 1.0 for c in cats}}}
    keys = [c.key for c in columns([entry(1, 2)])]
    assert [k for k in keys if k.startswith("c") and k[1:].isdigit()] == [f"c{n}" for n in range(1, 11)]
    keys = [c.key for c in columns([entry(11, 12, 18), entry(3)])]
    assert [k for k in keys if k.startswith("c") and k[1:].isdigit()] == ["c3", "c11", "c12", "c18"]
