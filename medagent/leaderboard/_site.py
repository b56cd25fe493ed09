"""``medagent leaderboard build``: verified submissions → one static, offline HTML page.

Each submission is verified (re-graded) first; one that fails is left out and listed with
its reason. The page is ``SITE/index.html`` (inline CSS and vanilla JS; sortable by
clicking a column header) plus ``SITE/leaderboard.json`` with the same rows. The
original paper's published scores are shown in a separate, labelled table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from medagent.errors import SubmissionError
from medagent.report._html import attr_num, esc, packaged_text, page, pct, usd

from ._verify import Verified, verify_file

N_CATEGORIES = 10


@dataclass
class Column:
    key: str
    label: str
    type: str  # num | text
    value: Callable[[dict], object]
    show: Callable[[dict], str]


def _pass_k(scores: dict) -> tuple[float | None, str]:
    pass_k = scores.get("pass_k") or {}
    if not pass_k:
        return None, "—"
    k = max(pass_k, key=int)
    return pass_k[k], f"{pct(pass_k[k])} (k={k})"


def _category(n: int) -> Column:
    def value(entry: dict) -> float | None:
        return entry["scores"]["per_category"].get(str(n))

    return Column(f"c{n}", f"C{n}", "num", value, lambda e: pct(value(e)))


COLUMNS: list[Column] = [
    Column("model", "Model", "text", lambda e: e["metadata"]["model"],
           lambda e: e["metadata"]["model"] or "(no model)"),
    Column("agent", "Agent", "text", lambda e: e["metadata"]["agent"], lambda e: e["metadata"]["agent"]),
    Column("provider", "Provider", "text", lambda e: e["metadata"].get("provider"),
           lambda e: e["metadata"].get("provider") or "—"),
    Column("overall", "Overall", "num", lambda e: e["scores"]["overall"], lambda e: pct(e["scores"]["overall"])),
    Column("query", "Query", "num", lambda e: e["scores"]["query"], lambda e: pct(e["scores"]["query"])),
    Column("action", "Action", "num", lambda e: e["scores"]["action"], lambda e: pct(e["scores"]["action"])),
    *[_category(n) for n in range(1, N_CATEGORIES + 1)],
    Column("pass_k", "pass^k", "num", lambda e: _pass_k(e["scores"])[0], lambda e: _pass_k(e["scores"])[1]),
    Column("cost", "Cost", "num", lambda e: e["scores"].get("cost_usd"), lambda e: usd(e["scores"].get("cost_usd"))),
    Column("date", "Date", "text", lambda e: e["metadata"]["date"], lambda e: e["metadata"]["date"][:10]),
    Column("suite", "Suite", "text", lambda e: e["metadata"]["suite"], lambda e: e["metadata"]["suite"]),
]


@dataclass
class Board:
    entries: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)


def submission_files(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder}: no such directory of submissions")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith((".json", ".json.gz")))


def collect(folder: Path, verify: Callable[[Path], Verified] = verify_file) -> Board:
    """Verify every submission in ``folder``; keep the good ones, note why others were skipped."""
    board = Board()
    seen: dict[str, str] = {}
    for path in submission_files(folder):
        try:
            verified = verify(path)
        except SubmissionError as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            board.skipped.append((path.name, reason))
            continue
        if verified.digest in seen:
            board.skipped.append((path.name, f"duplicate of {seen[verified.digest]} (same digest)"))
            continue
        seen[verified.digest] = path.name
        board.entries.append({
            "file": path.name,
            "digest": verified.digest,
            "metadata": verified.metadata,
            "scores": verified.scores,
        })
    board.entries.sort(key=lambda e: -(e["scores"]["overall"] or 0.0))
    return board


def _board_table(entries: list[dict]) -> str:
    head = ['<th class="num">#</th>']
    for col in COLUMNS:
        cls = ' class="num"' if col.type == "num" else ""
        sort = ' aria-sort="descending"' if col.key == "overall" else ""
        head.append(f'<th data-key="{col.key}" data-type="{col.type}"{cls}{sort}>{esc(col.label)}</th>')
    rows = []
    for rank, entry in enumerate(entries, start=1):
        cells = [f'<td class="num">{rank}</td>']
        for col in COLUMNS:
            raw = col.value(entry)
            if col.type == "num":
                cells.append(f'<td class="num" data-v="{attr_num(raw)}">{esc(col.show(entry))}</td>')
            else:
                cells.append(f'<td data-v="{esc(raw or "")}">{esc(col.show(entry))}</td>')
        title = esc(f"{entry['file']} · {entry['digest']} · {entry['scores']['n_trials']} trials")
        rows.append(f'<tr title="{title}" data-file="{esc(entry["file"])}">{"".join(cells)}</tr>')
    if not rows:
        rows.append(f'<tr class="empty"><td colspan="{len(COLUMNS) + 1}">No verified submissions yet.</td></tr>')
    return (
        '<div class="scroll"><table id="board" data-sorted="overall:desc">'
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _published_table() -> str:
    facts = json.loads(packaged_text("medagent.leaderboard", "published.json"))

    def cell(entry: dict, key: str) -> str:
        value = entry.get(key)
        return f'<td class="num">{"—" if value is None else f"{value:.2f}%"}</td>'

    rows = "".join(
        f"<tr><td>{esc(e['model'])}</td>{cell(e, 'overall')}{cell(e, 'query')}{cell(e, 'action')}</tr>"
        for e in facts["entries"]
    )
    return (
        '<section class="published" id="published">'
        '<h2>Published results <span class="badge">as published · not re-verified</span></h2>'
        f'<p class="sub">{esc(facts["note"])} Source: <a href="{esc(facts["url"])}">{esc(facts["source"])}</a>.</p>'
        '<table id="published-table"><thead><tr><th>Model</th><th class="num">Overall</th>'
        '<th class="num">Query</th><th class="num">Action</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


def _skipped_list(skipped: list[tuple[str, str]]) -> str:
    if not skipped:
        return ""
    items = "".join(f"<li><code>{esc(name)}</code>: {esc(reason)}</li>" for name, reason in skipped)
    return f'<h2>Skipped submissions</h2><ul class="skipped" id="skipped">{items}</ul>'


def render_board(board: Board, *, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    body = (
        "<h1>medagent leaderboard</h1>"
        f'<p class="sub">{len(board.entries)} verified submission(s): every trial re-graded from its '
        f"recorded answer and writes. Built {esc(stamp)}. Click a column header to sort.</p>"
        f"{_board_table(board.entries)}"
        f"{_skipped_list(board.skipped)}"
        f"{_published_table()}"
        "<footer>Scores are success rates over all trials (tasks × epochs). pass^k: the chance that "
        "k runs of the same task all succeed.</footer>"
    )
    return page("medagent leaderboard", body, packaged_text("medagent.leaderboard", "sort.js"))


def build_site(folder: Path, out: Path, *, verify: Callable[[Path], Verified] = verify_file) -> Board:
    """Write ``out/index.html`` and ``out/leaderboard.json``; return what was kept and skipped."""
    board = collect(folder, verify)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(render_board(board), encoding="utf-8")
    data = {"entries": board.entries, "skipped": [{"file": f, "reason": r} for f, r in board.skipped]}
    (out / "leaderboard.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return board
