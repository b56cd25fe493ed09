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
