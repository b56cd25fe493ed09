"""``summary.json`` while a run goes: ``SummaryWriter`` keeps slim copies of the records and
rewrites the summary (``medagent.results.summarize``) at most once a second, and at the end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from medagent.results import summarize
from medagent.runfolder import write_json
from medagent.scores import SCORED_KEYS

__all__ = ["SummaryWriter"]


class SummaryWriter:
    """Keeps slim copies of the records and rewrites ``summary.json`` (throttled)."""

    _KEEP = SCORED_KEYS

    def __init__(self, out_dir: Path, run: dict[str, Any], previous: list[dict[str, Any]], wall_before: float):
        self.path = Path(out_dir) / "summary.json"
        self.run = run
        self.trials = [self._slim(t) for t in previous]
        self.wall_before = wall_before
        self.started = time.perf_counter()
        self._last_write = 0.0

    def _slim(self, record: dict[str, Any]) -> dict[str, Any]:
        slim = {k: record.get(k) for k in self._KEEP}
        grade = record.get("grade") or {}
        slim["grade"] = {"passed": grade.get("passed")} if grade else None
        return slim

    def add(self, record: dict[str, Any]) -> None:
        self.trials.append(self._slim(record))
        if time.perf_counter() - self._last_write >= 1.0:
            self.write()

    def write(self) -> dict[str, Any]:
        wall = self.wall_before + time.perf_counter() - self.started
        summary = summarize(self.trials, self.run, wall)
        write_json(self.path, summary)
        self._last_write = time.perf_counter()
        return summary
