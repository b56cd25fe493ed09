"""The run folder: ``run.json``, ``trials.jsonl`` and ``summary.json`` (docs/architecture.md).

This module owns the format. Its three models are the one description of what a run
folder holds, and every writer and reader goes through them:

- :class:`RunInfo` (``run.json``): how the run was made (suite, checksums, agent, model,
  generation settings, epochs, limits, FHIR mode, versions). Written once when the run
  starts (and again when the FHIR mode is known).
- :class:`TrialRecord` (one ``trials.jsonl`` line): one finished trial: its answer,
  writes, grade, harm, transcript, tool calls, FHIR requests, usage, cost and timing.
- :class:`Summary` (``summary.json``): the scores of the trials so far and the run's
  identity, rewritten while the run goes (built by :func:`medagent.results.summarize`).

Records stay plain dicts in memory, as orjson reads and writes them and as the scores and
the submission digest are computed over them: a writer calls ``Model.build(**fields)``
(the fields are checked against the model and laid out in its order, values as given, so
the bytes are stable), a reader calls ``Model.check(doc, where)`` (or :func:`read_run`,
:func:`read_trials`, :func:`read_json`) and gets the dict back once it has passed.

**Versions.** Every document carries ``format_version`` (:data:`FORMAT_VERSION`, first
key). A document without one was written before versions existed and reads as version 1.
A reader refuses a document with a newer version in one line (:class:`ResultsError`,
naming the file and both versions) instead of misreading it. Fields a reader does not
know, in a version it does know, are kept and ignored. A change that old readers could
misread (a field changing meaning or type, a field that must not be ignored) raises
:data:`FORMAT_VERSION`; adding an optional field does not.

**Writing.** :class:`TrialLog` appends one finished trial per line: the full line goes
out in a single ``write`` on an ``O_APPEND`` descriptor, then ``fsync``. A run killed
mid-write leaves at most a torn last line; :func:`read_trials` ignores it and
:meth:`TrialLog.open` cuts it off before appending again, so a resumed run loses no
finished trial. :func:`write_json` writes ``run.json`` and ``summary.json`` whole or not
at all (:mod:`medagent.atomic`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medagent.atomic import atomic_write
from medagent.errors import ResultsError

__all__ = [
    "FORMAT_VERSION",
    "RunFolder",
    "RunInfo",
    "Summary",
    "TrialLog",
    "TrialRecord",
    "format_version",
    "read_json",
    "read_run",
    "read_trials",
    "to_jsonable",
    "write_json",
]

FORMAT_VERSION = 1  # the run-folder format this medagent writes and the newest it reads

RUN_JSON, TRIALS_JSONL, SUMMARY_JSON = "run.json", "trials.jsonl", "summary.json"


def format_version(doc: dict, where: str) -> int:
    """The ``format_version`` of ``doc`` (1 when absent); a :class:`ResultsError` naming
    ``where`` when it is newer than :data:`FORMAT_VERSION` or not a positive whole number."""
    version = doc.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ResultsError(f"{where}: format_version {version!r} is not a positive whole number")
    if version > FORMAT_VERSION:
        raise ResultsError(
            f"{where}: written in run-folder format {version}, newer than this medagent reads "
            f"(format {FORMAT_VERSION}); upgrade medagent to read it"
        )
    return version


class _Document(BaseModel):
    """A versioned run-folder document: known fields typed, unknown ones kept."""

    model_config = ConfigDict(extra="allow")
    what: ClassVar[str] = "document"

    format_version: int = Field(default=FORMAT_VERSION, ge=1)

    @classmethod
    def build(cls, **fields: Any) -> dict[str, Any]:
        """The document for ``fields`` (checked against the model): ``format_version``
        first, then the model's fields in its order, then any others, values as given."""
        fields.pop("format_version", None)
        try:
            cls.model_validate(fields)
        except ValidationError as exc:  # a bug in the writer, not bad input: say which field
            raise ResultsError(f"cannot write {cls.what}: {_first_error(exc)}") from None
        doc: dict[str, Any] = {"format_version": FORMAT_VERSION}
        doc.update((name, fields.pop(name)) for name in cls.model_fields if name in fields)
        doc.update(fields)
        return doc

    @classmethod
    def check(cls, doc: Any, where: str) -> dict[str, Any]:
        """``doc`` itself once it is a JSON object of a version this medagent reads whose
        known fields have their types; otherwise a one-line :class:`ResultsError`."""
        if not isinstance(doc, dict):
            raise ResultsError(f"{where}: expected a JSON object")
        format_version(doc, where)
        try:
            cls.model_validate(doc)
        except ValidationError as exc:
            raise ResultsError(f"{where}: {_first_error(exc)}") from None
        return doc


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "document"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


class RunInfo(_Document):
    """``run.json``: how the run was made (written when ``medagent bench`` starts a run)."""

    what: ClassVar[str] = RUN_JSON

    model: str | None = None  # None for agents that call no model
    base_url: str | None = None  # without credentials or query
    base_url_host: str | None = None
    agent: str
    reference_agent: bool = False  # the agent was given the whole task (answer key included)
    generation: dict[str, Any] | None = None  # temperature, max tokens, seed, reasoning effort, model args
    suite: str
    suite_checksum: str | None = None
    cohort_checksum: str | None = None
    cohort_profile: str | None = None
    cohort_seed: int | None = None
    cohort_n_patients: int | None = None
    concurrency: int | None = None
    epochs: int | None = Field(default=None, ge=1)
    max_steps: int | None = None
    protocol: str | None = None
    fhir: str | None = None  # "embedded" or the server's URL
    faults: str | None = None
    medagent_version: str | None = None
    started_at: str | None = None
    cost_note: str | None = None
    baselines: dict[str, Any] | None = None  # the suite's reference scores
    config: dict[str, Any] | None = None  # the BenchConfig as given
    fhir_mode: str | None = None  # "sessions" or "shared"


class TrialRecord(_Document):
    """One line of ``trials.jsonl`` (built by the trial runner of ``medagent bench``)."""

    what: ClassVar[str] = "a trial record"

    trial_id: str  # "<task_id>#<epoch>"
    task_id: str
    epoch: int = Field(ge=1)
    category: int
    kind: str  # "query" or "action"
    status: str  # "completed" or "error"
    error: str | None = None
    stop: str | None = None  # finish, max_steps, no_finish, error, empty_reply, …
    answer: list | None = None
    writes: list[dict[str, Any]] = Field(default_factory=list)  # the trial's write log
    grade: dict[str, Any] | None = None  # tasks.Grade as JSON; None when the trial errored
    harm: bool | None = None  # a harm check failed (absent in records older than harm)
    harm_checks: list[str] | None = None
    messages: list | None = None
    tool_calls: list | None = None
    fhir_requests: list | None = None
    faults: dict[str, int] | None = None  # injected FHIR faults by kind (--faults)
    usage: dict[str, Any] | None = None
    cost_usd: float | None = None
    steps: int | None = None
    duration_s: float | None = None
    timing: dict[str, Any] | None = None  # tools_s, session_s, grade_s


class Summary(_Document):
    """``summary.json`` (``medagent.results.summarize``; the scores are
    ``medagent.scores.score_trials``)."""

    what: ClassVar[str] = SUMMARY_JSON

    suite: str | None = None
    suite_checksum: str | None = None
    cohort_checksum: str | None = None
    model: str | None = None
    agent: str | None = None
    protocol: str | None = None
    epochs: int | None = None
    max_steps: int | None = None
    generation: dict[str, Any] | None = None
    reference_agent: bool | None = None
    faults: str | None = None
    n_trials: int | None = None
    errors: int | None = None
    overall: float | None = None
    query: float | None = None
    action: float | None = None
    per_category: dict[str, float | None] | None = None
    harm: dict[str, Any] | None = None
    harm_weighted: dict[str, Any] | None = None
    tokens: dict[str, Any] | int | None = None
    cost_usd: float | None = None
    pass_k: dict[str, float] | float | None = None
    overall_ci95: list[float] | None = None
    ci_method: str | None = None
    baselines: dict[str, Any] | None = None
    wall_time_s: float | None = None
    faults_injected: dict[str, int] | None = None
    cost_note: str | None = None


# ---------------------------------------------------------------------------- reading


@dataclass
class RunFolder:
    """A run folder read through the models: ``run`` (RunInfo), ``trials`` (TrialRecord
    each) and ``summary`` (Summary, None when the run wrote none yet), as plain dicts."""

    path: Path
    run: dict
    trials: list[dict]
    summary: dict | None


def _load(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ResultsError(f"{path.parent}: not a run folder (no {path.name})") from None
    except orjson.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc})") from None


def read_json(path: Path) -> dict:
    """``run.json`` or ``summary.json`` at ``path``, checked against its model."""
    path = Path(path)
    model: type[_Document] = Summary if path.name == SUMMARY_JSON else RunInfo
    return model.check(_load(path), str(path))


def read_trials(path: Path) -> list[dict]:
    """Every record of ``trials.jsonl``; a torn last line (a run killed mid-write) is ignored."""
    path = Path(path)
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
        trials.append(TrialRecord.check(record, f"{path}:{number}"))
    return trials


def read_run(path: Path, *, need_summary: bool = False) -> RunFolder:
    """The run folder at ``path``; a one-line :class:`ResultsError` when it is not one, is
    malformed, or was written by a newer medagent."""
    path = Path(path)
    if not path.is_dir():
        raise ResultsError(f"{path}: not a run folder (no such directory)")
    run = read_json(path / RUN_JSON)
    trials = read_trials(path / TRIALS_JSONL)
    summary_path = path / SUMMARY_JSON
    summary = read_json(summary_path) if summary_path.exists() or need_summary else None
    return RunFolder(path=path, run=run, trials=trials, summary=summary)


# ---------------------------------------------------------------------------- writing


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
    """Write ``doc`` as indented JSON, whole or not at all."""
    atomic_write(path, _dumps(doc, indent=True) + b"\n")


def _line(record: dict[str, Any], secrets: list[str] | None) -> bytes:
    line = _dumps(record) + b"\n"
    for secret in secrets or []:
        line = line.replace(orjson.dumps(secret)[1:-1], b"***")
    return line


class TrialLog:
    """Append-only ``trials.jsonl`` with one atomic, fsynced write per trial (or batch)."""

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
        self.append_many([record], secrets)

    def append_many(self, records: list[dict[str, Any]], secrets: list[str] | None = None) -> None:
        """Append ``records``, one line each, with one write and one fsync (group commit: a
        driver receiving records from many workers pays one fsync per batch, not per record).
        A crash before the fsync loses whole lines only; ``open`` cuts a torn tail."""
        if self._fd is None:
            raise ResultsError(f"{self.path}: not open for appending")
        if not records:
            return
        start = time.perf_counter()
        data = b"".join(_line(record, secrets) for record in records)
        written = os.write(self._fd, data)
        if written != len(data):  # pragma: no cover - a full disk
            raise ResultsError(f"{self.path}: short write ({written} of {len(data)} bytes)")
        os.fsync(self._fd)
        self.write_s += time.perf_counter() - start

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
