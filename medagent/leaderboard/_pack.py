"""``medagent submit``: pack a run folder into one submission document."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from medagent import __version__
from medagent.errors import SubmissionError

from ._format import FORMAT, VERSION, find_secret, parse_submission, seal
from medagent.runfolder import read_run


def _first(*sources_and_keys: tuple[dict, str]) -> object:
    for source, key in sources_and_keys:
        value = source.get(key)
        if value not in (None, ""):
            return value
    return None


def _provider(run: dict) -> str | None:
    explicit = _first((run, "provider"), (run, "base_url_host"))
    if explicit:
        return str(explicit)
    base_url = run.get("base_url")
    if isinstance(base_url, str) and base_url:
        return urlsplit(base_url).hostname or None
    return None


def pack_run(run_dir: Path, *, provider: str | None = None, now: datetime | None = None) -> dict:
    """Read ``run_dir`` and return the sealed submission document (not yet written)."""
    folder = read_run(run_dir, need_summary=True)
    run, summary = folder.run, folder.summary or {}
    secret = find_secret(run)
    if secret:
        raise SubmissionError(f"{folder.path}/run.json has a secret-looking field {secret!r}; refusing to pack it")
    epochs = _first((run, "epochs")) or max((int(t.get("epoch", 1)) for t in folder.trials), default=1)
    submitted_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    metadata = {
        "model": _first((summary, "model"), (run, "model")),
        "provider": provider or _provider(run),
        "agent": _first((summary, "agent"), (run, "agent")),
        "date": _first((run, "started_at")) or submitted_at,
        "submitted_at": submitted_at,
        "medagent_version": _first((run, "medagent_version")) or __version__,
        "suite": _first((summary, "suite"), (run, "suite")),
        "suite_checksum": _first((summary, "suite_checksum"), (run, "suite_checksum")),
        "cohort_checksum": _first((summary, "cohort_checksum"), (run, "cohort_checksum")),
        "epochs": epochs,
        "protocol": _first((run, "protocol")),
        "max_steps": _first((run, "max_steps")),
        "faults": _first((run, "faults")) or "none",
    }
    generation = _first((run, "generation"), (summary, "generation"))
    if isinstance(generation, dict):
        metadata["generation"] = generation  # temperature, max tokens, seed, reasoning effort, model args
    trials = sorted(folder.trials, key=lambda t: (str(t.get("task_id")), int(t.get("epoch") or 0)))
    doc = seal({
        "format": FORMAT,
        "version": VERSION,
        "metadata": metadata,
        "run": run,
        "scores": summary,
        "trials": trials,
    })
    try:
        parse_submission(doc)
    except SubmissionError as exc:
        raise SubmissionError(f"{folder.path}: cannot pack this run: {exc}") from None
    return doc
