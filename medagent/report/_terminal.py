"""The short terminal table printed by ``medagent report``."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.table import Table

from medagent.leaderboard._rundir import RunFolder
from medagent.leaderboard._scores import trial_passed

from ._html import pct, usd


def print_summary(folder: RunFolder, scores: dict, console: Console | None = None) -> None:
    console = console or Console()
    by_cat: dict[int, list[dict]] = defaultdict(list)
    for trial in folder.trials:
        by_cat[int(trial["category"])].append(trial)
    table = Table(title=f"{scores.get('model') or folder.run.get('model') or '(no model)'} · {folder.path.name}")
    for name, justify in (("category", "left"), ("kind", "left"), ("trials", "right"),
                          ("passed", "right"), ("success", "right")):
        table.add_column(name, justify=justify)
    for cat in sorted(by_cat):
        group = by_cat[cat]
        passed = sum(trial_passed(t) for t in group)
        table.add_row(f"C{cat}", str(group[0].get("kind", "")), str(len(group)), str(passed),
                      pct(passed / len(group)))
    table.add_section()
    for key in ("query", "action", "overall"):
        table.add_row(key, "", "", "", pct(scores.get(key)))
    console.print(table)
    tokens = scores.get("tokens")
    total = tokens.get("total_tokens") if isinstance(tokens, dict) else tokens
    console.print(f"errors {scores.get('errors', 0)} · tokens {total if total is not None else '—'} · "
                  f"cost {usd(scores.get('cost_usd'))}")
