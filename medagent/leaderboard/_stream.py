"""Reading a submission file as untrusted input: streamed, one trial at a time, within bounds.

A submission is whoever's file; a small ``.json.gz`` can inflate to gigabytes. Nothing is
read whole: the (optionally gzip-compressed) file is decompressed as a stream and read a
line at a time, each line at most one bound long (``Limits``), so memory stays within a
few bounds whatever the file claims. The layout is the one ``write_submission`` writes
(one trial per line, see ``_format``); a document on one line (older files, hand-made
ones) is read whole only up to ``Limits.max_compact_bytes``.

:func:`scan` is the first pass: bounds, the header (every key but ``trials``) and the
digest; :func:`iter_trials` is the second pass that hands the verifier one trial at a time.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from medagent.errors import SubmissionError

from ._format import FORMAT, canonical_bytes, parse_header

__all__ = ["LIMITS", "Limits", "Scan", "iter_trials", "read_document", "read_submission", "scan"]

_GZIP_MAGIC = b"\x1f\x8b"
_TRIALS_OPEN = b'"trials":['
_MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Bounds on what is read from one submission (decompressed bytes)."""

    max_bytes: int = 1 << 30  # the whole document
    max_header_bytes: int = 4 * _MiB  # everything before the trials: metadata, run, scores
    max_record_bytes: int = 16 * _MiB  # one trial
    max_trials: int = 50_000
    max_compact_bytes: int = 64 * _MiB  # a document not laid out one trial per line


LIMITS = Limits()


def _mib(n: int) -> str:
    return f"{n / _MiB:g} MiB"


class _Lines:
    """Bounded lines of a (gzip-)decompressed stream, counting what was read."""

    def __init__(self, raw: IO[bytes], limits: Limits) -> None:
        head = raw.read(2)
        raw.seek(0)
        self.stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if head == _GZIP_MAGIC else raw
        self.limits = limits
        self.total = 0

    def read(self, size: int) -> bytes:
        try:
            data = self.stream.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise SubmissionError(f"malformed submission: bad gzip data ({exc})") from None
        self._count(len(data))
        return data

    def line(self, cap: int, what: str, *, strict: bool = True) -> bytes:
        """One line (without its newline) of at most ``cap`` bytes, or b"" at the end; a
        longer line is an error (``strict``) or its first ``cap + 1`` bytes."""
        try:
            data = self.stream.readline(cap + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise SubmissionError(f"malformed submission: bad gzip data ({exc})") from None
        self._count(len(data))
        if len(data) > cap and not (len(data) == cap + 1 and data.endswith(b"\n")):
            if not strict:
                return data
            raise SubmissionError(f"submission rejected: {what} exceeds {_mib(cap)} (limit)")
        return data.rstrip(b"\r\n")

    def _count(self, n: int) -> None:
        self.total += n
        if self.total > self.limits.max_bytes:
            raise SubmissionError(
                f"submission rejected: more than {_mib(self.limits.max_bytes)} once decompressed (limit)"
            )


@contextmanager
def _open(path: Path, limits: Limits) -> Iterator[_Lines]:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SubmissionError(f"{path}: cannot read submission ({exc.strerror})") from None
    with raw:
        yield _Lines(raw, limits)


def _loads(data: bytes, what: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SubmissionError(f"malformed submission: {what} is not JSON ({exc})") from None


def _object(data: bytes, what: str) -> dict:
    value = _loads(data, what)
    if not isinstance(value, dict):
        raise SubmissionError(f"malformed submission: {what} is not an object")
    return value


class _Reader:
    """The header line, then the trials one by one, then the tail."""

    def __init__(self, lines: _Lines) -> None:
        self.lines = lines
        self.header: dict = {}
        self.compact: Any = None  # the trials of a one-line document
        self.one_line = False
        first = lines.line(lines.limits.max_header_bytes, "the part before the trials", strict=False)
        if first.endswith(_TRIALS_OPEN):
            self.header = _object(first + b"]}", "the part before the trials")
            return
        # One document on one line (or not a submission): read it whole, within bounds.
        self.one_line = True
        rest = lines.read(lines.limits.max_compact_bytes + 1 - len(first))
        data = first + rest
        if len(data) > lines.limits.max_compact_bytes:
            raise SubmissionError(
                "submission rejected: a document not laid out one trial per line is limited to "
                f"{_mib(lines.limits.max_compact_bytes)} (write it with `medagent submit`)"
            )
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SubmissionError(f"malformed submission: not JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise SubmissionError("malformed submission: top level is not an object")
        self.header = {k: v for k, v in doc.items() if k != "trials"}
        self.compact = doc.get("trials")

    def trials(self, *, parse: bool = True) -> Iterator[tuple[Any, bytes | None]]:
        """(trial, its line) pairs — the trial is None when not ``parse`` (for a laid-out
        file; a one-line document is parsed already); the tail keys join ``header`` at the
        end."""
        limits = self.lines.limits
        if self.one_line:
            if not isinstance(self.compact, list):
                raise SubmissionError("malformed submission: trials: Input should be a valid list")
            if len(self.compact) > limits.max_trials:
                raise SubmissionError(f"submission rejected: more than {limits.max_trials} trials (limit)")
            for record in self.compact:
                yield record, None
            return
        count = 0
        while True:
            line = self.lines.line(limits.max_record_bytes, f"trial #{count + 1}")
            if line.startswith(b"]"):
                tail = _object(b'{"trials":[' + line, "the part after the trials")
                tail.pop("trials", None)
                self.header.update(tail)
                if self.lines.read(1).strip():
                    raise SubmissionError("malformed submission: data after the end of the document")
                return
            if not line:
                raise SubmissionError("malformed submission: the file ends inside the trials")
            count += 1
            if count > limits.max_trials:
                raise SubmissionError(f"submission rejected: more than {limits.max_trials} trials (limit)")
            body = line[:-1] if line.endswith(b",") else line
            yield (_loads(body, f"trial #{count}") if parse else None), body


@dataclass
class Scan:
    header: dict
    digest: str  # recomputed, "sha256:<hex>"


def scan(path: Path, limits: Limits = LIMITS) -> Scan:
    """First pass: bounds, the header, and the recomputed digest. The lines of a file written
    by ``write_submission`` are canonical already, so they are hashed as read; only when that
    digest differs from the recorded one is every trial re-serialised canonically (a file
    laid out by hand) before calling it a mismatch."""
    digest = _digest(path, limits, canonicalise=False)
    if digest.digest != digest.header.get("digest"):
        digest = _digest(path, limits, canonicalise=True)
    parse_header(digest.header)
    return digest


def _digest(path: Path, limits: Limits, *, canonicalise: bool) -> Scan:
    with _open(path, limits) as lines:
        reader = _Reader(lines)
        if reader.one_line or "version" in reader.header:
            parse_header(reader.header)
        elif reader.header.get("format") != FORMAT:
            raise SubmissionError(f"malformed submission: 'format' is not {FORMAT!r}")
        before = {k: v for k, v in reader.header.items() if k < "trials" and k != "digest"}
        head = canonical_bytes(before)
        hasher = hashlib.sha256(head[:-1] + (b"," if len(head) > 2 else b"") + _TRIALS_OPEN)
        for index, (record, line) in enumerate(reader.trials(parse=canonicalise)):
            data = canonical_bytes(record) if record is not None else line
            hasher.update((b"," if index else b"") + data)
    after = canonical_bytes({k: v for k, v in reader.header.items() if k > "trials"})
    hasher.update(b"]" + (b"," + after[1:-1] if len(after) > 2 else b"") + b"}")
    return Scan(header=reader.header, digest="sha256:" + hasher.hexdigest())


def iter_trials(path: Path, limits: Limits = LIMITS) -> Iterator[dict]:
    """Second pass: the trial records, one at a time."""
    with _open(path, limits) as lines:
        for record, _ in _Reader(lines).trials():
            yield record


def read_document(path: Path, limits: Limits = LIMITS) -> dict:
    """The whole document as a dict, read within ``limits`` (for tools and tests; the
    verifier streams instead)."""
    with _open(path, limits) as lines:
        reader = _Reader(lines)
        trials = [record for record, _ in reader.trials()]
    return {**reader.header, "trials": trials}


def read_submission(path: Path) -> dict:
    """Read a submission file as a plain dict (gzip detected by its magic bytes), within the
    bounds of ``LIMITS``."""
    return read_document(Path(path))
