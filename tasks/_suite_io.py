"""Suite files: ``<id>.jsonl`` (one Task per line, canonical JSON) and ``<id>.json`` header.

Canonical JSON is orjson with sorted keys, one compact object per line, ``\n`` after every
line; the header's ``checksum`` is the sha256 of the JSONL bytes, so a changed task (or a
re-ordered, added or dropped one) is detected when the suite is loaded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import orjson
from pydantic import ValidationError

from medagent.atomic import atomic_write

from .errors import SuiteError
from .models import Suite, Task

SUITES_DIR = Path(__file__).parent / "suites"
# The suite `medagent bench` runs by default: mab-edge-v1 (same ten tasks as mab-v1, on a
# cohort whose data sits on every rule's boundary). mab-v1 stays for comparison with the paper.
DEFAULT_SUITE = "mab-edge-v1"
_HEADER_KEYS = ("id", "seed", "cohort_seed", "cohort_n_patients", "cohort_checksum", "n_tasks",
                "checksum")


def tasks_jsonl(tasks: list[Task]) -> bytes:
    return b"".join(
        orjson.dumps(t.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS) + b"\n"
        for t in tasks
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def header(suite: Suite) -> dict:
    return {
        "id": suite.id,
        "seed": suite.seed,
        "cohort_profile": suite.cohort_profile,
        "cohort_seed": suite.cohort_seed,
        "cohort_n_patients": suite.cohort_n_patients,
        "cohort_checksum": suite.cohort_checksum,
        "n_tasks": len(suite.tasks),
        "checksum": suite.checksum,
        "branches": suite.branch_counts(),
        "categories": suite.categories,
        **({"tools": suite.tools} if suite.tools else {}),
        **({"baselines": suite.baselines} if suite.baselines else {}),
    }


def write_suite(suite: Suite, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<out_dir>/<id>.jsonl`` and ``<id>.json``; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = tasks_jsonl(suite.tasks)
    if sha256(data) != suite.checksum:
        raise SuiteError(f"suite {suite.id!r}: checksum does not match its tasks")
    jsonl, head = out_dir / f"{suite.id}.jsonl", out_dir / f"{suite.id}.json"
    atomic_write(jsonl, data)
    atomic_write(head, orjson.dumps(header(suite), option=orjson.OPT_INDENT_2) + b"\n")
    return jsonl, head


def user_suites_dir() -> Path:
    """Where ``medagent tasks build`` puts suites by default: ``$MEDAGENT_HOME/suites``
    (ids resolve there after the suites shipped with the package)."""
    return Path(os.environ.get("MEDAGENT_HOME") or "~/.cache/medagent").expanduser() / "suites"


def known_suites() -> list[str]:
    return sorted({p.stem for folder in (SUITES_DIR, user_suites_dir()) for p in folder.glob("*.jsonl")})


def _resolve(id_or_path: str | Path) -> tuple[Path, Path]:
    text = str(id_or_path)
    path = Path(text).expanduser()
    looks_like_path = (isinstance(id_or_path, Path) or "/" in text
                       or text.endswith((".json", ".jsonl")) or path.is_file())
    if not looks_like_path:
        for folder in (SUITES_DIR, user_suites_dir()):
            if (folder / f"{text}.jsonl").exists():
                return folder / f"{text}.jsonl", folder / f"{text}.json"
        known = ", ".join(known_suites()) or "none"
        raise SuiteError(f"unknown suite {text!r} (known suites: {known})")
    if path.is_dir():
        raise SuiteError(f"{path} is a folder; give a suite file (<id>.jsonl)")
    if path.suffix in (".json", ".jsonl", ""):
        base = path.with_suffix("") if path.suffix else path
        return base.with_suffix(".jsonl"), base.with_suffix(".json")
    if not path.exists():
        raise SuiteError(f"suite file not found: {text}")
    raise SuiteError(f"{text} is not a suite file: give <id>.jsonl (with its <id>.json header beside it) or a suite id")


def load_suite(id_or_path: str | Path = DEFAULT_SUITE) -> Suite:
    """A suite by id (``tasks/suites/<id>.jsonl``) or by path to its JSONL or header file.

    Raises SuiteError for an unknown id, a missing or unreadable file, or a suite whose
    JSONL bytes do not match the checksum of its header (a tampered file).
    """
    jsonl, head = _resolve(id_or_path)
    try:
        data = jsonl.read_bytes()
        meta = orjson.loads(head.read_bytes())
    except FileNotFoundError as exc:
        raise SuiteError(f"suite file not found: {exc.filename}") from None
    except orjson.JSONDecodeError as exc:
        raise SuiteError(f"{head}: not valid JSON ({exc})") from None
    missing = [k for k in _HEADER_KEYS if k not in meta]
    if missing:
        raise SuiteError(f"{head}: header lacks {', '.join(missing)}")
    if sha256(data) != meta["checksum"]:
        raise SuiteError(f"{jsonl}: checksum mismatch (the file was changed after it was built)")
    try:
        tasks = [Task.model_validate_json(line) for line in data.splitlines() if line.strip()]
    except ValidationError as exc:
        raise SuiteError(f"{jsonl}: invalid task ({exc.errors()[0]['msg']})") from None
    if len(tasks) != meta["n_tasks"]:
        raise SuiteError(f"{jsonl}: {len(tasks)} tasks, header says {meta['n_tasks']}")
    return Suite(tasks=tasks, baselines=meta.get("baselines") or {},
                 cohort_profile=meta.get("cohort_profile") or "mab-v1",
                 tools=meta.get("tools") or [],
                 **{k: meta[k] for k in _HEADER_KEYS if k != "n_tasks"})
