"""A run folder: ``run.json``, ``trials.jsonl`` and ``summary.json`` (docs/architecture.md).

- :class:`TrialLog` appends one finished trial per line to ``trials.jsonl``: the full line
  goes out in a single ``write`` on an ``O_APPEND`` descriptor, then ``fsync``. A run
  killed mid-write leaves at most a torn last line; readers ignore it
  (``medagent.leaderboard._rundir.read_trials``) and :meth:`TrialLog.open` cuts it off
  before appending again, so a resumed run loses no finished trial.
- :func:`summarize` builds ``summary.json`` from the trial records. Scores come from
  ``medagent.leaderboard.score_trials`` (the same code verifies submissions).
  ``overall_ci95`` is the Wilson score interval (95%, z = 1.96) of ``overall`` over the
  ``n_trials`` trials; with several epochs the trials of one task are not independent,
  so the interval is then optimistic.
- Every JSON file is written to a temporary name and renamed, so it is whole or absent.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import orjson

from medagent.errors import ResultsError
from medagent.leaderboard._rundir import read_trials
from medagent.leaderboard._scores import score_trials

__all__ = [
    "TrialLog",
    "read_trial_records",
    "summarize",
    "wilson_interval",
    "write_json",
    "to_jsonable",
]

_Z95 = 1.959963984540054


def to_jsonable(value: Any) -> Any:
    """Pydantic models, dataclasses, bytes and tuples as plain JSON values."""
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="json"))
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        try:
            return orjson.loads(value) if value else None
        except orjson.JSONDecodeError:
            return value.decode("utf-8", "replace")
    return value


def _dumps(doc: Any, *, indent: bool = False) -> bytes:
    option = orjson.OPT_INDENT_2 if indent else 0
    try:
        return orjson.dumps(doc, option=option | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return orjson.dumps(to_jsonable(doc), option=option | orjson.OPT_NON_STR_KEYS)


def write_json(path: Path, doc: Any) -> None:
    """Write ``doc`` as indented JSON atomically (temporary file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(_dumps(doc, indent=True) + b"\n")
    os.replace(tmp, path)


class TrialLog:
    """Append-only ``trials.jsonl`` with one atomic, fsynced write per trial."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self.write_s = 0.0  # time spent serialising, writing and syncing records

    def open(self) -> list[dict[str, Any]]:
        """Open for appending; returns the records already there (a torn tail is cut off)."""
        records: list[dict[str, Any]] = []
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                with open(self.path, "r+b") as fh:
                    fh.truncate(data.rfind(b"\n") + 1)
            records = read_trials(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return records

    def append(self, record: dict[str, Any], secrets: list[str] | None = None) -> None:
        """Append ``record`` as one line; every secret in it is replaced by ``***``."""
        if self._fd is None:
            raise ResultsError(f"{self.path}: not open for appending")
        start = time.perf_counter()
        line = _dumps(record) + b"\n"
        for secret in secrets or []:
            line = line.replace(orjson.dumps(secret)[1:-1], b"***")
        written = os.write(self._fd, line)
        if written != len(line):  # pragma: no cover - a full disk
            raise ResultsError(f"{self.path}: short write ({written} of {len(line)} bytes)")
        os.fsync(self._fd)
        self.write_s += time.perf_counter() - start

    def append_many(self, records: list[dict[str, Any]], secrets: list[str] | None = None) -> None:
        """Append ``records``, one line each, with one write and one fsync (group commit: a
        driver receiving records from many workers pays one fsync per batch, not per record).
        A crash before the fsync loses whole lines only; ``open`` cuts a torn tail."""
        if self._fd is None:
            raise ResultsError(f"{self.path}: not open for appending")
        if not records:
            return
        start = time.perf_counter()
        lines = []
        for record in records:
            line = _dumps(record) + b"\n"
            for secret in secrets or []:
                line = line.replace(orjson.dumps(secret)[1:-1], b"***")
            lines.append(line)
        data = b"".join(lines)
        written = os.write(self._fd, data)
        if written != len(data):  # pragma: no cover - a full disk
            raise ResultsError(f"{self.path}: short write ({written} of {len(data)} bytes)")
        os.fsync(self._fd)
        self.write_s += time.perf_counter() - start

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_trial_records(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "trials.jsonl"
    return read_trials(path) if path.exists() else []


def wilson_interval(passed: int, n: int, z: float = _Z95) -> list[float] | None:
    """The Wilson score interval of a proportion ``passed / n`` (None when n = 0)."""
    if n <= 0:
        return None
    p = passed / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if passed == 0 else max(0.0, centre - half)
    hi = 1.0 if passed == n else min(1.0, centre + half)
    return [lo, hi]


def summarize(trials: list[dict[str, Any]], run: dict[str, Any], wall_time_s: float) -> dict[str, Any]:
    """``summary.json`` for ``trials`` of the run described by ``run`` (run.json)."""
    scores = score_trials(trials)
    passed = round((scores["overall"] or 0.0) * scores["n_trials"])
    summary: dict[str, Any] = {
        "suite": run.get("suite"),
        "suite_checksum": run.get("suite_checksum"),
        "cohort_checksum": run.get("cohort_checksum"),
        "model": run.get("model"),
        "agent": run.get("agent"),
        "protocol": run.get("protocol"),
        "epochs": run.get("epochs"),
        "max_steps": run.get("max_steps"),
        "generation": run.get("generation"),
        "reference_agent": bool(run.get("reference_agent")),
        "faults": run.get("faults") or "none",
        **scores,
        "overall_ci95": wilson_interval(passed, scores["n_trials"]),
        "ci_method": "wilson",
        # the suite's reference scores (blind, oracle), shown beside this run's
        "baselines": run.get("baselines") or {},
        "wall_time_s": round(wall_time_s, 3),
    }
    if summary["faults"] != "none":  # how many faults of each kind the agents met
        injected: dict[str, int] = {}
        for trial in trials:
            for kind, n in (trial.get("faults") or {}).items():
                injected[kind] = injected.get(kind, 0) + int(n)
        summary["faults_injected"] = dict(sorted(injected.items()))
    if run.get("cost_note"):
        summary["cost_note"] = run["cost_note"]
    return summary
