"""Reading a run folder (``run.json``, ``trials.jsonl``, ``summary.json``).

The layout is the "medagent results" contract in docs/architecture.md. This reader is
shared by ``medagent submit`` and ``medagent report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from medagent.errors import ResultsError


@dataclass
class RunFolder:
    path: Path
    run: dict
    trials: list[dict]
    summary: dict | None


def read_json(path: Path) -> dict:
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ResultsError(f"{path.parent}: not a run folder (no {path.name})") from None
    except orjson.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    return doc


def read_trials(path: Path) -> list[dict]:
    """Every record of ``trials.jsonl``; a torn last line (a run killed mid-write) is ignored."""
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        raise ResultsError(f"{path.parent}: not a run folder (no {path.name})") from None
    trials = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            if number == len(lines):
                break
            raise ResultsError(f"{path}:{number}: not valid JSON") from None
        if not isinstance(record, dict):
            raise ResultsError(f"{path}:{number}: expected a JSON object")
        trials.append(record)
    return trials


def read_run(path: Path, *, need_summary: bool = False) -> RunFolder:
    path = Path(path)
    if not path.is_dir():
        raise ResultsError(f"{path}: not a run folder (no such directory)")
    run = read_json(path / "run.json")
    trials = read_trials(path / "trials.jsonl")
    summary_path = path / "summary.json"
    if summary_path.exists() or need_summary:
        summary = read_json(summary_path)
    else:
        summary = None
    return RunFolder(path=path, run=run, trials=trials, summary=summary)
