"""Read a cohort folder back for assertions (independent of the generator's internals)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson


def resources(directory: Path, rtype: str) -> Iterator[dict]:
    with (directory / f"{rtype}.ndjson").open("rb") as fh:
        for line in fh:
            yield orjson.loads(line)


def lab_series(directory: Path) -> dict[str, dict[str, list[tuple[datetime, float]]]]:
    """``{mrn: {local code: [(effective, value), ...] oldest first}}`` for laboratory results."""
    out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for obs in resources(directory, "Observation"):
        if obs["category"][0]["coding"][0]["code"] != "laboratory":
            continue
        mrn = obs["subject"]["reference"].removeprefix("Patient/")
        when = datetime.fromisoformat(obs["effectiveDateTime"])
        out[mrn][obs["code"]["text"]].append((when, obs["valueQuantity"]["value"]))
    for codes in out.values():
        for series in codes.values():
            series.sort()
    return out


def subset(source: Path, target: Path, limit: int, extra: dict[str, bytes] | None = None):
    """A valid cohort folder with the first ``limit`` lines of each type of ``source``
    (plus ``extra`` raw lines appended per type), with a recomputed manifest."""
    import hashlib

    from medagent.patients import Manifest
    from medagent.patients.manifest import FileEntry

    manifest = Manifest.load(source)
    target.mkdir(parents=True, exist_ok=True)
    files = {}
    for rtype, entry in manifest.files.items():
        with (source / entry.path).open("rb") as fh:
            data = b"".join(line for _, line in zip(range(limit), fh)) + (extra or {}).get(rtype, b"")
        (target / entry.path).write_bytes(data)
        files[rtype] = FileEntry(path=entry.path, count=data.count(b"\n"), sha256=hashlib.sha256(data).hexdigest())
    out = manifest.model_copy(update={
        "files": files, "total": sum(f.count for f in files.values()), "checksum": Manifest.checksum_of(files),
    })
    out.write(target)
    return out
