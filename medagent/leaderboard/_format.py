"""The submission file: one JSON document (optionally gzip-compressed).

```
{"format": "medagent-submission", "version": 1,
 "metadata": {"model", "provider", "agent", "date", "submitted_at", "medagent_version",
              "suite", "suite_checksum", "cohort_checksum", "epochs", "protocol", "max_steps"},
 "run":    {…run.json as recorded…},
 "scores": {…summary.json as recorded…},
 "trials": [{…one trials.jsonl record: answer, writes, grade, messages, tool_calls, …}],
 "digest": "sha256:<hex>"}
```

``digest`` is the sha256 of the canonical JSON (sorted keys, compact, UTF-8) of the
document without its ``digest`` key. It catches corruption and casual edits; the real
check is re-grading (see ``_verify``), since anyone can recompute a digest.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medagent.errors import SubmissionError

FORMAT = "medagent-submission"
VERSION = 1
_GZIP_MAGIC = b"\x1f\x8b"

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


class TrialRecord(BaseModel):
    """The keys verification needs; every other recorded key is kept as is."""

    model_config = ConfigDict(extra="allow")

    trial_id: str
    task_id: str
    epoch: int
    category: int
    kind: str
    status: str
    error: str | None = None
    answer: list | None = None
    writes: list[dict] = Field(default_factory=list)
    grade: dict | None = None


class SubmissionModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str
    version: int
    metadata: Metadata
    run: dict
    scores: dict
    trials: list[TrialRecord]
    digest: str


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
    data = canonical_bytes(doc)
    if compress or (compress is None and path.name.endswith(".gz")):
        data = gzip.compress(data, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def read_submission(path: Path) -> dict:
    """Read a submission file as a plain dict (gzip detected by its magic bytes)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SubmissionError(f"{path}: cannot read submission ({exc.strerror})") from None
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise SubmissionError(f"{path}: malformed submission: bad gzip data ({exc})") from None
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SubmissionError(f"{path}: malformed submission: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise SubmissionError(f"{path}: malformed submission: top level is not an object")
    return doc


def parse_submission(doc: dict) -> SubmissionModel:
    """Validate the document's shape; one-line :class:`SubmissionError` when malformed."""
    if doc.get("format") != FORMAT:
        raise SubmissionError(f"malformed submission: 'format' is not {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise SubmissionError(
            f"malformed submission: unsupported version {doc.get('version')!r} (expected {VERSION})"
        )
    try:
        return SubmissionModel.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SubmissionError(f"malformed submission: {where}: {first['msg']}{more}") from None
