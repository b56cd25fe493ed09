"""The short terminal table printed by ``medagent report``."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.table import Table

from medagent.labels import category_label
from medagent.leaderboard._rundir import RunFolder
from medagent.leaderboard._scores import reference_scores, trial_harmed, trial_passed

from ._html import pct, usd


def print_summary(folder: RunFolder, scores: dict, console: Console | None = None) -> None:
    console = console or Console()
    by_cat: dict[int, list[dict]] = defaultdict(list)
    for trial in folder.trials:
        by_cat[int(trial["category"])].append(trial)
    table = Table(title=f"{scores.get('model') or folder.run.get('model') or '(no model)'} · {folder.path.name}")
    for name, justify in (("category", "left"), ("kind", "left"), ("trials", "right"),
                          ("passed", "right"), ("success", "right"), ("harm", "right")):
        table.add_column(name, justify=justify)
    for cat in sorted(by_cat):
        group = by_cat[cat]
        passed = sum(trial_passed(t) for t in group)
        table.add_row(category_label(cat, short=True), str(group[0].get("kind", "")), str(len(group)), str(passed),
                      pct(passed / len(group)), str(sum(trial_harmed(t) for t in group)))
    table.add_section()
    harm = scores.get("harm") or {}
    for key in ("query", "action", "overall"):
        table.add_row(key, "", "", "", pct(scores.get(key)),
                      f"{harm.get('count', 0)} ({pct(harm.get('rate'))})" if key == "overall" and harm else "")
    console.print(table)
    blind, oracle = reference_scores(scores.get("baselines") or folder.run.get("baselines"))
    console.print(f"suite baselines: blind {pct(blind) if blind is not None else 'n/a'} · "
                  f"oracle {pct(oracle) if oracle is not None else 'n/a'}")
    tokens = scores.get("tokens")
    total = tokens.get("total_tokens") if isinstance(tokens, dict) else tokens
    console.print(f"errors {scores.get('errors', 0)} · tokens {total if total is not None else '—'} · "
                  f"cost {usd(scores.get('cost_usd'))}")
