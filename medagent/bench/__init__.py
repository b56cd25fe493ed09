"""``medagent bench``: run a suite's trials against an agent and write a run folder.

Modules, each importing only those listed before it (never this ``__init__``):

- :mod:`.config` — ``BenchConfig`` (the run's typed configuration), ``select_tasks``, the
  ``--resume`` check;
- :mod:`.folder` — the run folder: its name, ``run.json``;
- :mod:`.trial` — ``Trial``, ``TrialRunner`` (one trial: session → agent → grade → record),
  ``run_trials``;
- :mod:`.summary` — ``SummaryWriter`` (``summary.json`` while the run goes);
- :mod:`.shared` — the shared-server mode (a plain FHIR server without sessions);
- :mod:`.backends` — where a trial's session lives (embedded, HTTP, Docker, shared);
- :mod:`.run` — ``run_bench``: ``prepare`` (a frozen ``Prepared``) → ``execute`` → summary.

Names are imported on first use, so ``from medagent.bench import BenchConfig`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_EXPORTS = {
    "BenchConfig": "config", "check_resume": "config", "parse_model_args": "config", "select_tasks": "config",
    "claim_out_dir": "folder", "default_out_dir": "folder", "run_document": "folder",
    "Trial": "trial", "TrialRunner": "trial", "run_trials": "trial",
    "SummaryWriter": "summary",
    "SharedServerBackend": "shared", "write_log": "shared",
    "HttpBackend": "backends", "LocalBackend": "backends", "choose_backend": "backends",
    "Prepared": "run", "execute": "run", "prepare": "run", "run_bench": "run",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .backends import HttpBackend, LocalBackend, choose_backend
    from .config import BenchConfig, check_resume, parse_model_args, select_tasks
    from .folder import claim_out_dir, default_out_dir, run_document
    from .run import Prepared, execute, prepare, run_bench
    from .shared import SharedServerBackend, write_log
    from .summary import SummaryWriter
    from .trial import Trial, TrialRunner, run_trials


def __getattr__(name: str):  # noqa: ANN202 - module attribute hook
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'medagent.bench' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
