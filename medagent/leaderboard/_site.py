"""``medagent leaderboard build``: verified submissions → one static, offline HTML page.

Each submission is verified (replayed and re-graded) first; one that fails — edited,
malformed, oversized — is left out and listed with its reason. The page is
``SITE/index.html`` (inline CSS and vanilla JS; sortable by clicking a column header) plus
``SITE/leaderboard.json`` with the same rows. Runs of reference agents (oracle, null,
blind, any agent that reads the full task) are shown in their own labelled table and never
ranked; the original paper's published scores are in another. The page says what
"verified" means and what it cannot prove.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from medagent.errors import SubmissionError
from medagent.labels import category_label, category_title, pct, signed, usd
from medagent.pages import attr_num, esc, packaged_text, page

from ._verify import Verified, verify_file

MAB_CATEGORIES = tuple(range(1, 11))  # the category columns of a board of mab suites


@dataclass
class Column:
    key: str
    label: str
    type: str  # num | text
    value: Callable[[dict], object]
    show: Callable[[dict], str]
    title: str = ""  # the header's tooltip (a category's name)


def _pass_k(scores: dict) -> tuple[float | None, str]:
    pass_k = scores.get("pass_k") or {}
    if not pass_k:
        return None, "—"
    k = max(pass_k, key=int)
    return pass_k[k], f"{pct(pass_k[k])} (k={k})"


def _harm(scores: dict) -> tuple[float | None, str]:
    harm = scores.get("harm") or {}
    if harm.get("rate") is None:
        return None, "—"
    return harm["rate"], f"{pct(harm['rate'])} ({harm.get('count', 0)})"


def _reference(entry: dict, name: str) -> float | None:
    value = (entry.get("suite_baselines") or {}).get(name) or {}
    return value.get("overall") if isinstance(value, dict) else None


def _references(entry: dict) -> str:
    blind, oracle = _reference(entry, "blind"), _reference(entry, "oracle")
    if blind is None and oracle is None:
        return "n/a"
    return f"{pct(blind) if blind is not None else 'n/a'} / {pct(oracle) if oracle is not None else 'n/a'}"


_GENERATION_NAMES = {"temperature": "T", "max_tokens": "max tokens", "seed": "seed",
                     "reasoning_effort": "effort", "top_p": "top_p"}


def generation_text(generation: object) -> str:
    """``T=0 · max tokens=1024 · seed=7 · effort=low · top_k=40`` (— when not recorded)."""
    if not isinstance(generation, dict) or not generation:
        return "—"
    parts = []
    known = list(_GENERATION_NAMES)
    order = sorted(generation, key=lambda k: (isinstance(generation[k], dict),
                                              known.index(k) if k in known else len(known), k))
    for key in order:
        value = generation[key]
        if value is None or value == {}:
            continue
        if isinstance(value, dict):  # model args passed through
            parts.extend(f"{k}={_plain_value(v)}" for k, v in value.items())
        else:
            parts.append(f"{_GENERATION_NAMES.get(key, key)}={_plain_value(value)}")
    return " · ".join(parts) or "—"


def _plain_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _weighted(scores: dict) -> float | None:
    block = scores.get("harm_weighted")
    return block.get("overall") if isinstance(block, dict) else None


def _category(n: int) -> Column:
    def value(entry: dict) -> float | None:
        return entry["scores"]["per_category"].get(str(n))

    return Column(f"c{n}", f"C{n}", "num", value, lambda e: pct(value(e)), category_title(n) or "")


COLUMNS: list[Column | str] = [
    Column("model", "Model", "text", lambda e: e["metadata"]["model"],
           lambda e: e["metadata"]["model"] or "(no model)"),
    Column("agent", "Agent", "text", lambda e: e["metadata"]["agent"], lambda e: e["metadata"]["agent"]),
    Column("provider", "Provider", "text", lambda e: e["metadata"].get("provider"),
           lambda e: e["metadata"].get("provider") or "—"),
    Column("overall", "Overall", "num", lambda e: e["scores"]["overall"], lambda e: pct(e["scores"]["overall"])),
    Column("query", "Query", "num", lambda e: e["scores"]["query"], lambda e: pct(e["scores"]["query"])),
    Column("action", "Action", "num", lambda e: e["scores"]["action"], lambda e: pct(e["scores"]["action"])),
    Column("harm", "Harm", "num", lambda e: _harm(e["scores"])[0], lambda e: _harm(e["scores"])[1]),
    Column("harm_weighted", "Harm-weighted", "num", lambda e: _weighted(e["scores"]),
           lambda e: signed(_weighted(e["scores"]))),
    Column("reference", "Blind / Oracle", "num", lambda e: _reference(e, "blind"), _references),
    "categories",  # one column per category the entries score (see columns())
    Column("pass_k", "pass^k", "num", lambda e: _pass_k(e["scores"])[0], lambda e: _pass_k(e["scores"])[1]),
    Column("cost", "Cost", "num", lambda e: e["scores"].get("cost_usd"), lambda e: usd(e["scores"].get("cost_usd"))),
    Column("date", "Date", "text", lambda e: e["metadata"]["date"], lambda e: e["metadata"]["date"][:10]),
    Column("suite", "Suite", "text", lambda e: e["metadata"]["suite"], lambda e: e["metadata"]["suite"]),
    Column("settings", "Settings", "text", lambda e: generation_text(e["metadata"].get("generation")),
           lambda e: generation_text(e["metadata"].get("generation"))),
    Column("faults", "Faults", "text", lambda e: e["metadata"].get("faults") or "none",
           lambda e: e["metadata"].get("faults") or "none"),
]


@dataclass
class Board:
    entries: list[dict] = field(default_factory=list)  # ranked
    baselines: list[dict] = field(default_factory=list)  # reference agents: shown, never ranked
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
        entry = {
            "file": path.name,
            "digest": verified.digest,
            "metadata": verified.metadata,
            "scores": verified.scores,
            "suite_baselines": verified.suite_baselines,
            "baseline": verified.baseline,
            "replayed_requests": verified.replayed,
        }
        (board.baselines if verified.baseline else board.entries).append(entry)
    board.entries.sort(key=lambda e: -(e["scores"]["overall"] or 0.0))
    board.baselines.sort(key=lambda e: -(e["scores"]["overall"] or 0.0))
    return board


def columns(entries: list[dict]) -> list[Column]:
    """The board's columns: one per category any entry scores (no fixed count of
    categories: a safety-suite entry has categories 11 and up)."""
    numbers = {int(n) for e in entries for n in (e["scores"].get("per_category") or {})}
    if numbers <= set(MAB_CATEGORIES):  # a board of mab suites keeps its ten columns
        numbers |= set(MAB_CATEGORIES)
    cats = [_category(n) for n in sorted(numbers)]
    return [c for col in COLUMNS for c in (cats if col == "categories" else [col])]


def _board_table(entries: list[dict], *, ranked: bool = True) -> str:
    """The ranked table (sortable), or the reference baselines' table (``ranked=False``:
    no rank, no sort keys, labelled in every row)."""
    head = ['<th class="num">#</th>' if ranked else "<th>Kind</th>"]
    cols = columns(entries)
    for col in cols:
        cls = ' class="num"' if col.type == "num" else ""
        cls += f' title="{esc(col.title)}"' if col.title else ""
        if ranked:
            sort = ' aria-sort="descending"' if col.key == "overall" else ""
            head.append(f'<th data-key="{col.key}" data-type="{col.type}"{cls}{sort}>{esc(col.label)}</th>')
        else:
            head.append(f"<th{cls}>{esc(col.label)}</th>")
    rows = []
    for rank, entry in enumerate(entries, start=1):
        cells = [f'<td class="num">{rank}</td>' if ranked else '<td><span class="badge">baseline</span></td>']
        for col in cols:
            raw = col.value(entry)
            if col.type == "num":
                cells.append(f'<td class="num" data-v="{attr_num(raw)}">{esc(col.show(entry))}</td>')
            else:
                cells.append(f'<td data-v="{esc(raw or "")}">{esc(col.show(entry))}</td>')
        title = esc(f"{entry['file']} · {entry['digest']} · {entry['scores']['n_trials']} trials")
        rows.append(f'<tr title="{title}" data-file="{esc(entry["file"])}">{"".join(cells)}</tr>')
    if not rows:
        rows.append(f'<tr class="empty"><td colspan="{len(cols) + 1}">No verified submissions yet.</td></tr>')
    table = ('<table id="board" data-sorted="overall:desc">' if ranked else '<table id="baselines-table">')
    # the board spans the whole window (not the page's 1280 px column): ~25 columns fit
    return (f'<div class="scroll wide">{table}<thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _baselines_section(baselines: list[dict]) -> str:
    if not baselines:
        return ""
    return (
        '<section class="baselines" id="baselines"><h2>Reference baselines '
        '<span class="badge">not ranked</span></h2>'
        '<p class="sub">Runs of reference agents — the oracle (reads the answer key), null (does nothing), '
        "blind (the best policy that reads nothing) and any agent that reads the full task. They show "
        "what the suite gives away and its ceiling; they are verified like entries but never ranked.</p>"
        f"{_board_table(baselines, ranked=False)}</section>"
    )


VERIFIED_MEANS = (
    "<strong>Verified</strong> means: the file is complete and unedited since packing (digest); every "
    "trial's recorded FHIR requests were replayed against a fresh session of the suite's cohort and "
    "gave the recorded responses and the recorded writes (server-generated ids, "
    "<code>meta.lastUpdated</code> and base URLs aside); every trial was re-graded from its answer and "
    "those writes; and the scores, harm included, were recomputed from them. So the trajectory came "
    "from this environment and the score follows from it. "
    "<strong>It cannot prove</strong> that the named model (or any model) produced the trajectory: "
    "anyone can write requests and answers by hand or with another system and record them. "
    "Model, provider and generation settings are as the submitter reports them."
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
        f'<p class="sub">{len(board.entries)} verified submission(s), {len(board.baselines)} reference '
        f"baseline(s): every trial replayed and re-graded. Built {esc(stamp)}. Click a column header to "
        "sort.</p>"
        f'<p class="verified" id="verified-means">{VERIFIED_MEANS}</p>'
        f"{_board_table(board.entries)}"
        f"{_baselines_section(board.baselines)}"
        f"{_skipped_list(board.skipped)}"
        f"{_published_table()}"
        "<footer>Scores are success rates over all trials (tasks × epochs). Harm: the share (and count) of "
        "trials that failed a harm check (a delete, an edit of an existing record, …), counted apart from "
        "failure. Harm-weighted: each trial counts pass +1, fail 0, harm −1, averaged over trials (−1 … +1). "
        "Blind / Oracle: the suite's reference scores (n/a when the suite records none). "
        "Settings: the generation settings the run recorded. Faults: the FHIR fault profile the agent "
        "ran under (none, light, heavy). pass^k: the chance that "
        "k runs of the same task all succeed. "
        f'<span id="category-names">Categories: {esc(_category_legend(board.entries + board.baselines))}.</span></footer>'
    )
    return page("medagent leaderboard", body, packaged_text("medagent.leaderboard", "sort.js"))


def _category_legend(entries: list[dict]) -> str:
    """``C1 Find a patient's MRN · C2 …``: the board's category columns with their names."""
    cats = [c for c in columns(entries) if c.key[:1] == "c" and c.key[1:].isdigit()]
    return " · ".join(category_label(c.key[1:], short=True) for c in cats)


def build_site(folder: Path, out: Path, *, verify: Callable[[Path], Verified] = verify_file) -> Board:
    """Write ``out/index.html`` and ``out/leaderboard.json``; return what was kept and skipped."""
    board = collect(folder, verify)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(render_board(board), encoding="utf-8")
    data = {"entries": board.entries, "baselines": board.baselines, "skipped": [{"file": f, "reason": r} for f, r in board.skipped]}
    (out / "leaderboard.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return board
