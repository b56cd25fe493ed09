"""``medagent report DIR``: one self-contained HTML page about a run folder."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medagent.labels import category_label, natural_key, pct, signed, trial_order, usd
from medagent.pages import esc, packaged_text, page, pretty_json
from medagent.runfolder import RunFolder, read_run
from medagent.results import summary_of
from medagent.scores import reference_scores, trial_harmed, trial_passed

from ._charts import category_bars, steps_bars


def scores_of(folder: RunFolder) -> dict:
    """The recorded summary, completed by scores computed from the trials where it is silent."""
    return summary_of(folder)


def anchor(trial_id: str) -> str:
    return "trial-" + re.sub(r"[^A-Za-z0-9_-]", "-", trial_id)


def outcome(trial: dict) -> str:
    if trial.get("status") == "error":
        return "error"
    return "pass" if trial_passed(trial) else "fail"


def _card(key: str, value: str) -> str:
    return f'<div class="card"><div class="v">{esc(value)}</div><div class="k">{esc(key)}</div></div>'


def _summary(folder: RunFolder, scores: dict) -> str:
    tokens = scores.get("tokens")
    total_tokens = tokens.get("total_tokens", sum(v for v in tokens.values() if isinstance(v, int))) \
        if isinstance(tokens, dict) else tokens
    ci = scores.get("overall_ci95")
    pass_k = scores.get("pass_k")
    if isinstance(pass_k, dict) and pass_k:
        k = max(pass_k, key=int)
        pass_k_text = f"{pct(pass_k[k])} (k={k})"
    else:
        pass_k_text = pct(pass_k) if isinstance(pass_k, float) else "—"
    harm = scores.get("harm") or {}
    blind, oracle = reference_scores(scores.get("baselines") or folder.run.get("baselines"))
    cards = [
        _card("overall", pct(scores.get("overall"))),
        _card("query", pct(scores.get("query"))),
        _card("action", pct(scores.get("action"))),
        _card("harm", f"{pct(harm.get('rate'))} ({harm.get('count', 0)} trials)" if harm else "—"),
        _card("harm-weighted (+1 / 0 / −1)", signed((scores.get("harm_weighted") or {}).get("overall"))),
        _card("blind / oracle (suite)", "n/a" if blind is None and oracle is None
              else f"{pct(blind) if blind is not None else 'n/a'} / {pct(oracle) if oracle is not None else 'n/a'}"),
        _card("95% CI", f"{pct(ci[0])} – {pct(ci[1])}" if ci else "—"),
        _card("pass^k", pass_k_text),
        _card("trials", str(scores.get("n_trials", len(folder.trials)))),
        _card("errors", str(scores.get("errors", 0))),
        _card("tokens", f"{total_tokens:,}" if isinstance(total_tokens, int) else "—"),
        _card("cost", usd(scores.get("cost_usd"))),
        _card("wall time", f"{scores['wall_time_s']:.1f} s" if scores.get("wall_time_s") is not None else "—"),
    ]
    run = folder.run
    config = ", ".join(
        f"{key} {run[key]}" for key in ("suite", "epochs", "concurrency", "max_steps", "protocol", "faults",
                    "fhir_mode", "started_at")
        if run.get(key) is not None
    )
    if run.get("generation"):
        config += "; " + ", ".join(f"{k} {v}" for k, v in sorted(run["generation"].items()))
    if run.get("reference_agent"):
        config += "; reference agent (given the full task)"
    return f'<p class="sub">{esc(config)}</p><div class="cards" id="summary">{"".join(cards)}</div>'


def _category_chart(folder: RunFolder, scores: dict) -> str:
    kinds: dict[str, str] = {}
    counts: dict[str, int] = defaultdict(int)
    for trial in folder.trials:
        kinds[str(trial["category"])] = trial.get("kind", "")
        counts[str(trial["category"])] += 1
    per_cat = scores.get("per_category") or {}
    harm = (scores.get("harm") or {}).get("per_category") or {}
    weighted = (scores.get("harm_weighted") or {}).get("per_category") or {}
    baselines = scores.get("baselines") or folder.run.get("baselines") or {}

    def note(c: str) -> str:
        parts = [p for p in (kinds.get(c, ""), f"n={counts.get(c, 0)}") if p]
        harmed = (harm.get(c) or {}).get("count")
        if harmed:
            parts.append(f"harm {harmed}")
        if weighted.get(c) is not None:
            parts.append(f"weighted {signed(weighted[c])}")
        blind = ((baselines.get("blind") or {}).get("per_category") or {}).get(c)
        if isinstance(blind, int | float):
            parts.append(f"blind {pct(blind)}")
        return " · ".join(parts)

    cats = sorted(set(per_cat) | set(kinds), key=natural_key)
    rows = [(category_label(c, short=True), per_cat.get(c), note(c)) for c in cats]
    return category_bars(rows)


def _steps_chart(trials: list[dict]) -> str:
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for trial in trials:
        counts[int(trial.get("steps") or 0)][0 if trial_passed(trial) else 1] += 1
    return steps_bars({k: (v[0], v[1]) for k, v in counts.items()})


def _usage_table(trials: list[dict]) -> str:
    groups: dict[int, list[dict]] = defaultdict(list)
    for trial in trials:
        groups[int(trial["category"])].append(trial)
    rows = []
    for label, group in [(category_label(c, short=True), groups[c]) for c in sorted(groups)] + [("all", trials)]:
        prompt = sum(int((t.get("usage") or {}).get("prompt_tokens") or 0) for t in group)
        completion = sum(int((t.get("usage") or {}).get("completion_tokens") or 0) for t in group)
        costs = [t["cost_usd"] for t in group if t.get("cost_usd") is not None]
        steps = sum(int(t.get("steps") or 0) for t in group) / max(len(group), 1)
        duration = sum(float(t.get("duration_s") or 0) for t in group) / max(len(group), 1)
        rows.append(
            f"<tr><td>{esc(label)}</td><td class='num'>{len(group)}</td><td class='num'>{prompt:,}</td>"
            f"<td class='num'>{completion:,}</td><td class='num'>{esc(usd(sum(costs)) if costs else '—')}</td>"
            f"<td class='num'>{steps:.1f}</td><td class='num'>{duration:.2f} s</td></tr>"
        )
    return (
        '<table id="usage"><thead><tr><th>category</th><th class="num">trials</th>'
        '<th class="num">prompt tokens</th><th class="num">completion tokens</th><th class="num">cost</th>'
        '<th class="num">mean steps</th><th class="num">mean duration</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def failure_reasons(trials: list[dict]) -> list[tuple[str, str, list[dict]]]:
    """Failed trials grouped by ``(category label, reason)``, biggest group first.

    The reason is the first line of the error for an errored trial, else the name of each
    failed grade check (a trial failing two checks counts in both groups).
    """
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for trial in trials:
        if trial_passed(trial):
            continue
        category = category_label(trial["category"], short=True)
        if trial.get("status") == "error":
            first_line = (str(trial.get("error") or "unknown error").splitlines() or ["unknown error"])[0]
            groups[(category, f"error: {first_line[:160]}")].append(trial)
            continue
        checks = [c for c in (trial.get("grade") or {}).get("checks") or [] if not c.get("passed")]
        for check in checks or [{"name": "failed (no failed check recorded)"}]:
            groups[(category, str(check.get("name")))].append(trial)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), natural_key(item[0][0]), item[0][1]))
    return [(cat, reason, group) for (cat, reason), group in ordered]


def _example_message(trial: dict, reason: str) -> str:
    for check in (trial.get("grade") or {}).get("checks") or []:
        if check.get("name") == reason and not check.get("passed"):
            return str(check.get("message") or "")
    return ""


def _failures(trials: list[dict]) -> str:
    groups = failure_reasons(trials)
    if not groups:
        return '<p id="failures">No failed trials.</p>'
    rows = []
    for category, reason, group in groups:
        links = " ".join(
            f'<a href="#{anchor(t["trial_id"])}">{esc(t["trial_id"])}</a>' for t in group[:8]
        ) + (f" … +{len(group) - 8}" if len(group) > 8 else "")
        rows.append(
            f"<tr><td>{esc(category)}</td><td>{esc(reason)}</td><td class='num'>{len(group)}</td>"
            f"<td>{esc(_example_message(group[0], reason))}</td><td>{links}</td></tr>"
        )
    return (
        '<table id="failures"><thead><tr><th>category</th><th>reason</th><th class="num">trials</th>'
        f"<th>example</th><th>trials</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


# Longest text block shown per item; the run folder keeps everything (the page stays small
# enough to open even for a full suite with every FHIR response recorded).
SHOW_CHARS = 4000


def _content(value: Any, limit: int = SHOW_CHARS) -> str:
    if value in (None, [], {}, ""):
        return ""
    text = value if isinstance(value, str) else pretty_json(value)
    more = ""
    if len(text) > limit:
        more = f'<div class="more">… {len(text) - limit:,} more characters in trials.jsonl</div>'
        text = text[:limit]
    return f"<pre>{esc(text)}</pre>{more}"


def _blocks(items: list, describe: Callable[[dict], tuple[str, list[Any]]], empty: str) -> str:
    """One ``.msg`` block per recorded item: a heading line and its (cut) contents."""
    parts = []
    for item in items or []:
        head, values = describe(item) if isinstance(item, dict) else ("?", [item])
        body = "".join(_content(v) for v in values)
        parts.append(f'<div class="msg"><div class="role">{esc(head)}</div>{body}</div>')
    return "".join(parts) or f"<p>{esc(empty)}</p>"


def _message(message: dict) -> tuple[str, list[Any]]:
    return str(message.get("role", "?")), [message.get("content"), message.get("tool_calls")]


def _tool_call(call: dict) -> tuple[str, list[Any]]:
    """Step, name, status and outcome; the arguments and what the agent got back."""
    ok = call.get("ok")
    step = f"step {call['step']}" if call.get("step") is not None else None
    state = None if ok is None else ("ok" if ok else "failed")
    head = " · ".join(str(x) for x in (step, call.get("name"), call.get("status"), state) if x not in (None, ""))
    return head, [call.get("arguments", call.get("args")), call.get("content")]


def _request(req: dict) -> tuple[str, list[Any]]:
    params = "&".join(f"{p[0]}={p[1]}" for p in req.get("params") or [] if isinstance(p, list | tuple) and len(p) == 2)
    line = f"{req.get('method', '?')} {req.get('path') or req.get('url') or ''}{'?' + params if params else ''}"
    return f"{line} → {req.get('status')}", [req.get("body"), req.get("response")]


def _checks(grade: dict | None) -> str:
    checks = (grade or {}).get("checks") or []
    if not checks:
        return "<p>(no grade checks recorded)</p>"
    rows = "".join(
        f"<tr><td class='{'pass' if c.get('passed') else 'fail'}'>{'✓' if c.get('passed') else '✗'}</td>"
        f"<td>{esc(c.get('name'))}</td><td>{esc(pretty_json(c.get('expected')))}</td>"
        f"<td>{esc(pretty_json(c.get('got')))}</td><td>{esc(c.get('message'))}</td></tr>"
        for c in checks
    )
    return ("<table class='checks'><thead><tr><th></th><th>check</th><th>expected</th><th>got</th>"
            f"<th>message</th></tr></thead><tbody>{rows}</tbody></table>")


def _trial(trial: dict) -> str:
    result = outcome(trial)
    usage = trial.get("usage") or {}
    tokens = int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
    harmed = trial_harmed(trial)
    harm_checks = trial.get("harm_checks") or [
        c.get("name") for c in (trial.get("grade") or {}).get("checks") or [] if c.get("harm") and not c.get("passed")]
    harm = (f"<span class='fail harm'>HARM: {esc(', '.join(map(str, harm_checks)) or 'yes')}</span> "
            if harmed else "")
    head = (
        f"<span class='{'pass' if result == 'pass' else 'fail'}'>{result.upper()}</span> {harm}"
        f"<code>{esc(trial['trial_id'])}</code> · {esc(category_label(trial['category'], short=True))} · "
        f"{esc(trial.get('kind'))} · "
        f"{esc(trial.get('steps'))} steps · {tokens:,} tokens · {esc(usd(trial.get('cost_usd')))} · "
        f"{float(trial.get('duration_s') or 0):.2f} s"
    )
    error = f"<h4>Error</h4>{_content(trial.get('error'))}" if trial.get("error") else ""
    requests = trial.get("fhir_requests") or []
    calls = trial.get("tool_calls") or []
    return (
        f'<details class="trial" id="{anchor(trial["trial_id"])}" data-outcome="{result}" '
        f'data-category="{esc(trial["category"])}" data-harm="{int(harmed)}"><summary>{head}</summary><div class="inner">'
        f"{error}<h4>Answer</h4>{_content(trial.get('answer')) or '<p>(none)</p>'}"
        f"<h4>Grade</h4>{_checks(trial.get('grade'))}"
        f"<h4>Writes ({len(trial.get('writes') or [])})</h4>{_content(trial.get('writes')) or '<p>(none)</p>'}"
        f"<h4>Trajectory</h4>{_blocks(trial.get('messages'), _message, '(no messages recorded)')}"
        # an agent without a model (oracle) has no messages: its tool calls are the trajectory
        f"<details{'' if trial.get('messages') else ' open'}><summary>Tool calls ({len(calls)})</summary>"
        f"<div class='inner'>{_blocks(calls, _tool_call, '(no tool calls recorded)')}</div></details>"
        f"<details><summary>FHIR requests ({len(requests)})</summary><div class='inner'>"
        f"{_blocks(requests, _request, '(no FHIR requests recorded)')}</div></details></div></details>"
    )


def render_report(folder: RunFolder) -> str:
    scores = scores_of(folder)
    model = scores.get("model") or folder.run.get("model") or "(no model)"
    agent = scores.get("agent") or folder.run.get("agent") or "?"
    suite = scores.get("suite") or folder.run.get("suite") or "?"
    title = f"medagent report: {model} · {agent} · {suite}"
    trials = sorted(folder.trials, key=trial_order)
    categories = sorted({int(t["category"]) for t in trials})
    options = "".join(f'<option value="{c}">{esc(category_label(c, short=True))}</option>' for c in categories)
    body = (
        f"<h1>{esc(title)}</h1>{_summary(folder, scores)}"
        '<h2>Success</h2><div class="charts">'
        f'<div class="chart"><h3>Per category</h3>{_category_chart(folder, scores)}</div>'
        f'<div class="chart"><h3>Success vs steps</h3>{_steps_chart(trials)}</div></div>'
        f"<h2>Tokens and cost</h2>{_usage_table(trials)}"
        f"<h2>Failure reasons</h2>{_failures(trials)}"
        f"<h2>Trials</h2>"
        '<div class="toolbar"><label>show <select id="filter-outcome"><option value="all">all</option>'
        '<option value="pass">passed</option><option value="fail">failed</option>'
        '<option value="error">errored</option></select></label>'
        f'<label>category <select id="filter-category"><option value="all">all</option>{options}</select></label>'
        '<button type="button" id="expand-all">expand all</button>'
        '<button type="button" id="collapse-all">collapse all</button>'
        '<span id="shown-count"></span></div>'
        f'<div id="trials">{"".join(_trial(t) for t in trials)}</div>'
        f"<footer>Generated by medagent from {esc(folder.path.name)}.</footer>"
    )
    return page(title, body, packaged_text("medagent.report", "report.js"))


def write_report(folder: RunFolder, out: Path | None = None) -> Path:
    """Write the report of a loaded run folder (default ``<folder>/report.html``)."""
    out = Path(out) if out else folder.path / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(folder), encoding="utf-8")
    return out


def build_report(run_dir: Path, out: Path | None = None) -> Path:
    """Write the report of ``run_dir`` (default ``run_dir/report.html``) and return its path."""
    return write_report(read_run(run_dir), out)
