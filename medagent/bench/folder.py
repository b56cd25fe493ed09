"""The run folder of ``medagent bench``: its default name (made unique when claimed) and
the ``run.json`` document."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from medagent.bench.config import BenchConfig, safe_url
from medagent.errors import ConfigError
from medagent.runfolder import RunInfo

__all__ = ["claim_out_dir", "default_out_dir", "run_document"]


def default_out_dir(config: BenchConfig) -> Path:
    """``runs/<time>-<agent>-<model>``: a name only; :func:`claim_out_dir` makes it unique."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = "-".join(p for p in (stamp, config.agent, config.model) if p)
    return Path("runs") / "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def claim_out_dir(path: Path) -> Path:
    """Create ``path`` (or ``path-2``, ``path-3``…) atomically: two runs started in the same
    second never share a folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = path if n == 1 else path.with_name(f"{path.name}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise ConfigError(f"cannot create a run folder next to {path}: give --out")


def run_document(config: BenchConfig, suite: Any, needs_model: bool, cost_note: str | None,
                 reference_agent: bool = False) -> dict[str, Any]:
    from medagent import __version__

    doc = asdict(config)
    doc["base_url"] = safe_url(config.base_url)
    return RunInfo.build(**{  # run.json (medagent.runfolder)
        "model": config.model if needs_model else None,
        "base_url": doc["base_url"],
        "base_url_host": urlsplit(config.base_url).hostname if config.base_url else None,
        "agent": config.agent,
        # the agent was given the whole task (answer key included): a reference run, not an entry
        "reference_agent": reference_agent,
        "generation": config.generation() if needs_model else None,
        "suite": suite.id,
        "suite_checksum": suite.checksum,
        "cohort_checksum": suite.cohort_checksum,
        "cohort_profile": getattr(suite, "cohort_profile", "mab-v1"),
        "cohort_seed": suite.cohort_seed,
        "cohort_n_patients": suite.cohort_n_patients,
        "concurrency": config.concurrency,
        "epochs": config.epochs,
        "max_steps": config.max_steps,
        "protocol": config.protocol,
        "fhir": safe_url(config.fhir_url) or "embedded",
        "faults": config.faults,
        "medagent_version": __version__,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cost_note": cost_note,
        "baselines": getattr(suite, "baselines", None) or {},  # the suite's reference scores
        "config": doc,
    })
