"""The cohort cache: ``$MEDAGENT_HOME/cohorts/<profile>-v<version>-seed<S>-n<N>/``.

``ensure_cohort`` generates a cohort once; when reusing it verifies every file against the
manifest, and regenerates atomically (temporary folder, then rename) when files are
missing or corrupt. Concurrent callers are safe: the loser of the rename keeps the winner's.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from ._generate import DEFAULT_PATIENTS, DEFAULT_SEED, GENERATOR_VERSION, generate, validate_args
from .errors import CohortError
from .manifest import MANIFEST, Manifest
from .profiles import DEFAULT_PROFILE


class CohortSettings(BaseSettings):
    """Where cohorts are cached (``MEDAGENT_HOME``, default ``~/.cache/medagent``)."""

    model_config = SettingsConfigDict(env_prefix="MEDAGENT_", extra="ignore")

    home: Path = Path("~/.cache/medagent")


def cohort_dir(seed: int = DEFAULT_SEED, n_patients: int = DEFAULT_PATIENTS,
               profile: str = DEFAULT_PROFILE) -> Path:
    home = CohortSettings().home.expanduser()
    return home / "cohorts" / f"{profile}-v{GENERATOR_VERSION}-seed{seed}-n{n_patients}"


def _usable(directory: Path, seed: int, n_patients: int, profile: str) -> Manifest | None:
    if not (directory / MANIFEST).exists():
        return None
    try:
        manifest = Manifest.load(directory)
        identity = (manifest.profile, manifest.seed, manifest.n_patients, manifest.generator_version)
        if identity != (profile, seed, n_patients, GENERATOR_VERSION):
            return None
        manifest.verify(directory)  # hashes every file: only for the right cohort
    except CohortError:
        return None
    return manifest


def ensure_cohort(seed: int = DEFAULT_SEED, n_patients: int = DEFAULT_PATIENTS,
                  profile: str = DEFAULT_PROFILE) -> Path:
    """The folder of the cohort ``(profile, seed, n_patients)``, generated now if needed."""
    validate_args(seed, n_patients, profile)
    target = cohort_dir(seed, n_patients, profile)
    if _usable(target, seed, n_patients, profile):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        generate(tmp, seed=seed, n_patients=n_patients, profile=profile)
        if target.exists():  # missing or corrupt files: move the bad copy aside first
            stale = target.parent / f".{target.name}.stale-{uuid.uuid4().hex[:8]}"
            try:
                target.rename(stale)
            except FileNotFoundError:
                pass
            else:
                shutil.rmtree(stale, ignore_errors=True)
        try:
            tmp.rename(target)
        except OSError:
            if not _usable(target, seed, n_patients, profile):  # someone else won the race with good data
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
