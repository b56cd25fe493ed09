"""Terminal views of a run: the live progress bar, the results table, one trajectory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from medagent.labels import category_label, natural_key, pct, signed, trial_order, usd
from medagent.scores import reference_scores, trial_harmed, trial_passed
from medagent.tasks.text import short

__all__ = ["Progress", "print_summary", "print_trial", "score_line", "summary_table"]


class Progress:
    """A rich progress bar with the live success rate, error count and cost."""

    def __init__(self, console: Console | None, total: int, done: list[dict[str, Any]], *, enabled: bool = True):
        self.enabled = enabled
        self.passed = sum(trial_passed(t) for t in done)
        self.errors = sum(t.get("status") == "error" for t in done)
        self.cost = sum(float(t.get("cost_usd") or 0.0) for t in done)
        self.done = len(done)
        self._bar = RichProgress(
            TextColumn("[bold]bench"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("pass {task.fields[rate]}  errors {task.fields[errors]}  ${task.fields[cost]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            disable=not enabled,
        )
        self._task = self._bar.add_task("bench", total=total, completed=self.done, **self._fields())

    def _fields(self) -> dict[str, str]:
        rate = self.passed / self.done if self.done else None
        return {"rate": pct(rate), "errors": str(self.errors), "cost": f"{self.cost:.4f}"}

    def update(self, record: dict[str, Any]) -> None:
        self.done += 1
        self.passed += trial_passed(record)
        self.errors += record.get("status") == "error"
        self.cost += float(record.get("cost_usd") or 0.0)
        self._bar.update(self._task, completed=self.done, **self._fields())

    def __enter__(self) -> Progress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"{summary.get('agent')} · {summary.get('model') or 'no model'} · {summary.get('suite')}")
    table.add_column("scope")
    table.add_column("success", justify="right")
    table.add_column("harm", justify="right")
    table.add_column("harm-weighted", justify="right")
    table.add_column("blind / oracle (suite)", justify="right")
    harm = summary.get("harm") or {}
    harm_cat = harm.get("per_category") or {}
    baselines = summary.get("baselines") or {}
    weighted = summary.get("harm_weighted") or {}
    weighted_cat = weighted.get("per_category") or {}

    def harm_text(block: dict | None) -> str:
        return f"{block.get('count', 0)} ({pct(block.get('rate'))})" if block else "—"

    def reference(scope: str) -> str:
        blind, oracle = reference_scores(baselines, scope)
        if blind is None and oracle is None:
            return "n/a"
        return f"{pct(blind) if blind is not None else 'n/a'} / {pct(oracle) if oracle is not None else 'n/a'}"

    table.add_row("overall", pct(summary.get("overall")), harm_text(harm),
                  signed(weighted.get("overall")) if weighted else "—", reference("overall"))
    for key, label in (("query", "query tasks"), ("action", "action tasks")):
        table.add_row(label, pct(summary.get(key)), "", "", reference(key))
    per_category = summary.get("per_category") or {}
    for category, value in sorted(per_category.items(), key=lambda kv: natural_key(kv[0])):
        blind = reference_scores({k: (v or {}).get("per_category") or {} for k, v in baselines.items()
                                  if isinstance(v, dict)}, str(category))
        ref = "n/a" if blind == (None, None) else " / ".join(pct(v) if v is not None else "n/a" for v in blind)
        table.add_row(escape(category_label(category)), pct(value), harm_text(harm_cat.get(str(category))),
                      signed(weighted_cat.get(str(category))), ref)
    ci = summary.get("overall_ci95")
    if ci:
        table.add_row("overall 95% CI (Wilson)", f"{pct(ci[0])} – {pct(ci[1])}")
    for k, value in (summary.get("pass_k") or {}).items():
        table.add_row(f"pass^{k}", pct(value))
    tokens = summary.get("tokens") or {}
    cost = summary.get("cost_usd")
    table.add_section()
    table.add_row("trials / errors", f"{summary.get('n_trials')} / {summary.get('errors')}")
    table.add_row("tokens (prompt / completion)", f"{tokens.get('prompt_tokens', 0)} / {tokens.get('completion_tokens', 0)}")
    table.add_row("cost", usd(cost))
    table.add_row("wall time", f"{summary.get('wall_time_s', 0):.1f} s")
    if summary.get("faults") not in (None, "none"):
        injected = ", ".join(f"{k} {n}" for k, n in (summary.get("faults_injected") or {}).items()) or "none met"
        table.add_row("FHIR faults", f"{summary['faults']} ({injected})")
    return table


def print_summary(console: Console | None, summary: dict[str, Any], out_dir: Path | None = None) -> None:
    console = console or Console()
    console.print(summary_table(summary))
    if summary.get("generation"):
        settings = ", ".join(f"{k}={orjson.dumps(v).decode()}" for k, v in sorted(summary["generation"].items()))
        console.print(escape(f"generation: {settings}"))
    if summary.get("cost_note"):
        console.print(f"[dim]{escape(summary['cost_note'])}[/dim]")
    if out_dir is not None:
        console.print(escape(f"results in {out_dir}  (medagent view {out_dir} [TASK])"))


def score_line(summary: dict[str, Any], out_dir: Path) -> str:
    """One line for ``--quiet``: the score, the trial and error counts, the run folder."""
    harm = (summary.get("harm") or {}).get("count")
    parts = [f"overall {pct(summary.get('overall'))}", f"{summary.get('n_trials', 0)} trials",
             f"{summary.get('errors', 0)} errors"]
    if harm:
        parts.append(f"{harm} harmful")
    return f"{' · '.join(parts)} · results in {out_dir}"


def trials_table(trials: list[dict[str, Any]]) -> Table:
    table = Table(title="trials")
    for column in ("trial", "status", "result", "steps", "answer", "failed checks"):
        table.add_column(column)
    for t in sorted(trials, key=trial_order):
        grade = t.get("grade") or {}
        failed = [c.get("name", "?") for c in grade.get("checks") or [] if not c.get("passed")]
        result = "[green]pass" if trial_passed(t) else ("[yellow]error" if t.get("status") == "error" else "[red]fail")
        if trial_harmed(t):
            result += " [bold red]HARM"
        table.add_row(
            str(t.get("trial_id")), str(t.get("status")), result, str(t.get("steps")),
            escape(short(t.get("answer"), 60)), escape(", ".join(failed) or (t.get("error") or "")[:60]),
        )
    return table


def _content(value: Any, limit: int = 1500) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


def print_trial(console: Console, trial: dict[str, Any]) -> None:
    """One trajectory: header, transcript (or tool calls), writes and the grade's reasons."""
    status = "PASS" if trial_passed(trial) else "ERROR" if trial.get("status") == "error" else "FAIL"
    category = category_label(trial.get("category"))
    console.rule(escape(f"{trial.get('trial_id')} · {category} · {trial.get('kind')} · {status}"))
    if trial.get("error"):
        console.print(f"[yellow]error:[/yellow] {escape(trial['error'])}")
    if trial_harmed(trial):
        console.print(f"[bold red]harm:[/bold red] {escape(', '.join(map(str, trial.get('harm_checks') or [])) or 'yes')}")
    for message in trial.get("messages") or []:
        role = message.get("role", "?")
        body = message.get("content") or ""
        if role == "tool" and body[:1] in "{[":
            try:
                body = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
            except orjson.JSONDecodeError:
                pass
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            body += f"\n→ {fn.get('name')}({fn.get('arguments')})"
        style = {"user": "cyan", "assistant": "green", "tool": "magenta", "system": "dim"}.get(role, "white")
        console.print(Panel(Text(_content(body.strip())), title=role, title_align="left", border_style=style))
    if not trial.get("messages"):
        for call in trial.get("tool_calls") or []:
            console.print(f"[bold]{call.get('step')}. {call.get('name')}[/bold] {escape(short(call.get('arguments'), 200))}"
                          f" → {'ok' if call.get('ok') else 'error'} {call.get('status') or ''}")
    console.print(f"[bold]answer:[/bold] {escape(short(trial.get('answer'), 500))}")
    for write in trial.get("writes") or []:
        console.print(f"[bold]write:[/bold] {write.get('interaction')} {write.get('resourceType')}/{write.get('id')} "
                      f"(HTTP {write.get('status')})")
    grade = trial.get("grade")
    if grade:
        table = Table(title=f"grade: {'passed' if grade.get('passed') else 'failed'}")
        for column in ("check", "ok", "expected", "got", "message"):
            table.add_column(column)
        for check in grade.get("checks") or []:
            table.add_row(escape(str(check.get("name"))), "✓" if check.get("passed") else "✗",
                          escape(short(check.get("expected"), 60)), escape(short(check.get("got"), 60)),
                          escape(str(check.get("message") or "")))
        console.print(table)
    usage = trial.get("usage") or {}
    console.print(f"steps {trial.get('steps')} · {trial.get('duration_s')} s · tokens "
                  f"{usage.get('prompt_tokens', 0)}+{usage.get('completion_tokens', 0)} · cost {usd(trial.get('cost_usd'))}")

