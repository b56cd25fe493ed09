"""The embedded FHIR server: the suite's cohort in a local SQLite store, served in-process.

``open_service(suite)`` opens the cohort's database (``cohort_db_path``: one database per
cohort, ``$MEDAGENT_HOME/db/cohort-<profile>-<seed>-<n>.db``, shared by ``medagent bench``,
``medagent serve`` and ``medagent seed``), seeds it with ``patients.seed_store`` on first use (a
no-op later), checks that the cohort checksum is the one the suite was built from, and
returns a ``fhir_server.FhirService``. A store whose ``cohort_checksum`` meta already
equals the suite's is used as is (no cohort files are read). Services are cached per database for the life of
the process (the gym API makes many environments on one cohort).
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medagent.errors import ConfigError

__all__ = ["cohort_db_path", "open_service", "seeding_lock"]

_SERVICES: dict[tuple[Path, str | None], Any] = {}


def cohort_db_path(seed: int, n_patients: int, profile: str = "mab-v1") -> Path:
    """The one default database of a cohort (profile, seed, size):
    ``$MEDAGENT_HOME/db/cohort-<profile>-<seed>-<n>.db``. ``medagent bench``, ``serve`` and
    ``seed`` all use it unless given ``--db``/``MEDAGENT_DB``. A database of the name used
    before profiles (``cohort-<seed>-<n>.db``, the mab-v1 cohort) is adopted, not seeded again."""
    from medagent.fhir_server import ServerSettings

    path = Path(ServerSettings().home) / "db" / f"cohort-{profile}-{seed}-{n_patients}.db"
    if profile == "mab-v1":
        _adopt_legacy(path, path.with_name(f"cohort-{seed}-{n_patients}.db"))
    return path


def _adopt_legacy(path: Path, legacy: Path) -> None:
    """Rename a database of the earlier naming (``cohort-<seed>-<n>.db``) to ``path`` instead of
    seeding a second copy; a legacy file of another generator version is refused later by
    its recorded checksum and rebuilt."""
    if path.exists() or not legacy.exists():
        return
    try:
        for suffix in ("-wal", "-shm", ""):  # the database file last: it marks success
            old = legacy.with_name(legacy.name + suffix)
            if old.exists():
                old.rename(path.with_name(path.name + suffix))
    except OSError:
        pass


def _close_all() -> None:
    """At exit: checkpoint and close every cached store (no WAL is left behind)."""
    for service in _SERVICES.values():
        service.store.checkpoint()
        service.store.close()
    _SERVICES.clear()


atexit.register(_close_all)


def _open_cached_store(path: Path) -> Any:
    """Open a cohort database of medagent's own cache; one of another store format is rebuilt."""
    from medagent.fhir_server import Store
    from medagent.fhir_server.errors import StoreFormatError

    try:
        return Store(path)
    except StoreFormatError as exc:
        print(f"medagent: {exc}: rebuilding this cached database", file=sys.stderr, flush=True)
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        return Store(path)


def open_service(suite: Any) -> Any:
    """A ``FhirService`` over a store holding ``suite``'s cohort (seeded on first use)."""
    profile = getattr(suite, "cohort_profile", "mab-v1")
    path = cohort_db_path(suite.cohort_seed, suite.cohort_n_patients, profile)
    expected = getattr(suite, "cohort_checksum", None)
    service = _SERVICES.get((path, expected))
    if service is not None:
        return service
    path.parent.mkdir(parents=True, exist_ok=True)
    with seeding_lock(path):  # two runs started together: the second waits, then finds it seeded
        service = _open_seeded(path, suite, profile, expected)
    _SERVICES[(path, expected)] = service
    return service


@contextlib.contextmanager
def seeding_lock(path: Path) -> Iterator[None]:
    """The exclusive lock of the cohort database ``path`` (a ``.lock`` file beside it), held
    while it is seeded or replaced. Not re-entrant: ``flock`` on a second open of the file
    blocks even in the process that holds it, so never call ``open_service`` inside it."""
    import fcntl

    with open(path.with_name(path.name + ".lock"), "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _open_seeded(path: Path, suite: Any, profile: str, expected: str | None) -> Any:
    from medagent.fhir_server import FhirService, ServerSettings

    from medagent import patients

    store = _open_cached_store(path)
    if not expected or store.get_meta("cohort_checksum") != expected:  # else: seeded already
        started = time.perf_counter()
        print(f"medagent: preparing cohort {profile} seed {suite.cohort_seed}, {suite.cohort_n_patients} patients "
              f"in {path} (first use only; ~1 minute for the default cohort)…", file=sys.stderr, flush=True)
        manifest = patients.seed_store(store, seed=suite.cohort_seed, n_patients=suite.cohort_n_patients,
                                       profile=profile)
        store.checkpoint()  # the load's WAL (as large as the database) is not kept
        print(f"medagent: cohort ready: {manifest.total:,} resources in {time.perf_counter() - started:.1f} s",
              file=sys.stderr, flush=True)
        if expected and manifest.checksum != expected:
            store.close()
            raise ConfigError(
                f"suite {suite.id} was built from cohort {expected[:12]}…, but profile {profile} seed "
                f"{suite.cohort_seed} with {suite.cohort_n_patients} patients gives "
                f"{manifest.checksum[:12]}… (a different generator version? remove {path} and the "
                f"cached cohort under {path.parent.parent / 'cohorts'} to rebuild it)"
            )
    return FhirService(store, ServerSettings())
