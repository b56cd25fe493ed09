"""The submission file: one JSON document (optionally gzip-compressed).

```
{"format": "medagent-submission", "version": 1,
 "metadata": {"model", "provider", "agent", "date", "submitted_at", "medagent_version",
              "suite", "suite_checksum", "cohort_checksum", "epochs", "protocol", "max_steps"},
 "run":    {…run.json as recorded (medagent.runfolder.RunInfo)…},
 "scores": {…summary.json as recorded (Summary)…},
 "trials": [{…one trials.jsonl record (TrialRecord): answer, writes, grade, messages, …}],
 "digest": "sha256:<hex>"}
```

``digest`` is the sha256 of the canonical JSON (sorted keys, compact, UTF-8) of the
document without its ``digest`` key. It catches corruption and casual edits; the real
checks are replaying and re-grading (see ``_verify``), since anyone can recompute a digest.

The file is that canonical JSON laid out one trial per line (a newline is JSON whitespace,
so the file is still one JSON document): the first line holds every key before
``"trials":[``, then one line per trial, then the closing ``],"version":1}``. Readers
stream it a line at a time within fixed bounds (``_stream.Limits``). ``run``, ``scores``
and every trial are read through the run folder's models (:mod:`medagent.runfolder`):
a newer run-folder ``format_version`` is refused in one line, one without reads as 1.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medagent import runfolder
from medagent.atomic import atomic_write
from medagent.errors import ResultsError, SubmissionError

FORMAT = "medagent-submission"
VERSION = 1

# A key that names a credential (``api_key``, ``token``, ``Authorization`` …; not a count
# such as ``max_tokens``, nor the name of where a credential lives, such as
# ``api_key_env``), or a value shaped like a provider key or a bearer credential.
_SECRET_KEY = re.compile(r"api[_-]?key|secret|password|passwd|(?<![a-z])token(?![a-z])|authorization|credential",
                         re.IGNORECASE)
_NAMES_A_PLACE = re.compile(r"[_-](env|var|name)$", re.IGNORECASE)
_SECRET_VALUE = re.compile(
    r"\b(sk-[A-Za-z0-9_-]{16,}|Bearer\s+[A-Za-z0-9._~+/-]{16,}=*)"  # provider keys, bearer credentials
    r"|://[^/@\s:]+:[^/@\s]+@"  # a URL carrying user:password
)


class Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None  # None for agents that call no model (oracle, null)
    provider: str | None = None
    agent: str
    date: str
    submitted_at: str
    medagent_version: str
    suite: str
    suite_checksum: str
    cohort_checksum: str
    epochs: int = Field(ge=1)
    protocol: str | None = None
    max_steps: int | None = None
    faults: str = "none"  # the FHIR fault profile of the run (medagent.faults)


class TrialRecord(runfolder.TrialRecord):
    """A trial record (:class:`medagent.runfolder.TrialRecord`) within the bounds an
    untrusted file must keep; every other recorded key is kept as is."""

    trial_id: str = Field(max_length=200)
    task_id: str = Field(max_length=200)
    epoch: int = Field(ge=1, le=10_000)
    kind: str = Field(max_length=32)
    status: str = Field(max_length=32)
    error: str | None = Field(default=None, max_length=64_000)
    answer: list | None = Field(default=None, max_length=1_000)
    writes: list[dict] = Field(default_factory=list, max_length=1_000)
    fhir_requests: list | None = Field(default=None, max_length=10_000)
    tool_calls: list | None = Field(default=None, max_length=10_000)
    messages: list | None = Field(default=None, max_length=10_000)


class HeaderModel(BaseModel):
    """Everything of a submission but its trials."""

    model_config = ConfigDict(extra="forbid")

    format: str
    version: int
    metadata: Metadata
    run: dict
    scores: dict
    digest: str


# Agents that are references, not entries: they read nothing, guess, or read the answer key.
REFERENCE_AGENTS = frozenset({"oracle", "null", "blind"})


def is_baseline(metadata: dict, run: dict | None = None) -> bool:
    """A reference agent's run: a built-in reference agent, or one whose run says it reads
    the full task (``run.json`` ``reference_agent: true``, written by the runner, or
    ``reads_full_task: true``); labelled, never ranked."""
    run = run or {}
    agent = str(metadata.get("agent") or "")
    return (agent in REFERENCE_AGENTS or metadata.get("baseline") is True
            or run.get("reads_full_task") is True or run.get("reference_agent") is True
            or run.get("baseline") is True)


def find_secret(obj: object, where: str = "") -> str | None:
    """The path of the first secret-looking field in ``obj`` (a non-empty string under a
    credential-like key, or a string shaped like a key), or None."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            path = f"{where}.{key}" if where else str(key)
            if (isinstance(value, str) and value and _SECRET_KEY.search(str(key))
                    and not _NAMES_A_PLACE.search(str(key))):
                return path
            found = find_secret(value, path)
            if found:
                return found
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            found = find_secret(value, f"{where}[{i}]")
            if found:
                return found
    elif isinstance(obj, str) and _SECRET_VALUE.search(obj):
        return where or "value"
    return None


def canonical_bytes(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, compact separators, UTF-8."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def compute_digest(doc: dict) -> str:
    body = {k: v for k, v in doc.items() if k != "digest"}
    return "sha256:" + hashlib.sha256(canonical_bytes(body)).hexdigest()


def seal(doc: dict) -> dict:
    """Return ``doc`` with its ``digest`` set (recomputed)."""
    sealed = {k: v for k, v in doc.items() if k != "digest"}
    sealed["digest"] = compute_digest(sealed)
    return sealed


def write_submission(doc: dict, path: Path, *, compress: bool | None = None) -> Path:
    """Write ``doc`` to ``path``; gzip when ``compress`` or when the name ends in ``.gz``."""
    path = Path(path)
    data = layout_bytes(doc)
    if compress or (compress is None and path.name.endswith(".gz")):
        data = gzip.compress(data, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, data)


def layout_bytes(doc: dict) -> bytes:
    """The canonical JSON of ``doc`` with one trial per line (see the module docstring)."""
    trials = doc.get("trials")
    if not isinstance(trials, list):
        return canonical_bytes(doc) + b"\n"
    before = canonical_bytes({k: v for k, v in doc.items() if k < "trials"})
    after = canonical_bytes({k: v for k, v in doc.items() if k > "trials"})
    head = before[:-1] + (b"," if len(before) > 2 else b"") + b'"trials":[\n'
    body = b",\n".join(canonical_bytes(t) for t in trials)
    tail = b"]" + (b"," + after[1:-1] if len(after) > 2 else b"") + b"}\n"
    return head + body + (b"\n" if trials else b"") + tail


def _malformed(exc: ValidationError, prefix: tuple = ()) -> SubmissionError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in (*prefix, *first["loc"])) or "document"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return SubmissionError(f"malformed submission: {where}: {first['msg']}{more}")


def parse_header(header: dict) -> HeaderModel:
    """Validate everything but the trials; one-line :class:`SubmissionError` when malformed."""
    if header.get("format") != FORMAT:
        raise SubmissionError(f"malformed submission: 'format' is not {FORMAT!r}")
    if header.get("version") != VERSION:
        raise SubmissionError(
            f"malformed submission: unsupported version {header.get('version')!r} (expected {VERSION})"
        )
    try:
        parsed = HeaderModel.model_validate({k: v for k, v in header.items() if k != "trials"})
    except ValidationError as exc:
        raise _malformed(exc) from None
    _run_folder_document(runfolder.RunInfo, parsed.run, "run")
    _run_folder_document(runfolder.Summary, parsed.scores, "scores")
    return parsed


def _run_folder_document(model: type[runfolder.RunInfo | runfolder.Summary], doc: dict, where: str) -> None:
    """``run`` and ``scores`` are run.json and summary.json as recorded: read through their
    models (a newer run-folder format is refused, as by every reader of a run folder)."""
    _version(doc, where)
    try:
        model.model_validate(doc)
    except ValidationError as exc:
        raise _malformed(exc, (where,)) from None


def _version(doc: dict, where: str) -> None:
    try:
        runfolder.format_version(doc, where)
    except ResultsError as exc:
        raise SubmissionError(str(exc)) from None


def parse_trial(index: int, record: Any) -> TrialRecord:
    """Validate one trial record (``index`` counts from 0, as in ``trials.<index>``)."""
    if isinstance(record, dict):
        _version(record, f"trials.{index}")
    try:
        return TrialRecord.model_validate(record)
    except ValidationError as exc:
        raise _malformed(exc, ("trials", index)) from None


def parse_submission(doc: dict) -> tuple[HeaderModel, list[TrialRecord]]:
    """Validate the whole document's shape; one-line :class:`SubmissionError` when malformed."""
    header = parse_header(doc)
    trials = doc.get("trials")
    if not isinstance(trials, list):
        raise SubmissionError("malformed submission: trials: Input should be a valid list")
    return header, [parse_trial(i, t) for i, t in enumerate(trials)]
