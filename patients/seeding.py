"""``seed_store``: put a cohort into the embedded FHIR server's SQLite store.

The store records the cohort under meta keys ``cohort_checksum``, ``cohort_profile``,
``cohort_seed``, ``cohort_n_patients`` and ``cohort_manifest`` (the manifest JSON), all written in the same
transaction as the resources, so a failed load leaves the database exactly as it was.
The baseline also gets the cohort marker (``patients.marker``: a ``Basic`` resource carrying
the checksum and per-type counts), so the store served over HTTP identifies its cohort the
way any other FHIR server loaded by ``medagent seed --fhir-url`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from medagent.fhir_server.errors import StoreError

from ._generate import DEFAULT_PATIENTS, DEFAULT_SEED, GENERATOR_VERSION, validate_args
from .cache import ensure_cohort
from .errors import CohortError, LoadError
from .manifest import Manifest
from .profiles import DEFAULT_PROFILE
from .marker import ensure_marker, store_marker

if TYPE_CHECKING:
    from medagent.fhir_server.store import Store


def _recorded(store: Store) -> Manifest | None:
    raw = store.get_meta("cohort_manifest")
    return Manifest.model_validate_json(raw) if raw else None


def load_into(store: Store, directory: str | Path, manifest: Manifest) -> None:
    """Bulk-load the cohort folder and record it, in one transaction (all or nothing)."""
    try:
        with store.write():
            loaded = store.load_ndjson_dir(directory)
            if loaded != manifest.total:
                raise LoadError(f"loaded {loaded} resources from {directory}, the manifest lists {manifest.total}")
            store.set_meta("cohort_checksum", manifest.checksum)
            store.set_meta("cohort_profile", manifest.profile)
            store.set_meta("cohort_seed", str(manifest.seed))
            store.set_meta("cohort_n_patients", str(manifest.n_patients))
            store.set_meta("cohort_manifest", manifest.model_dump_json())
            store_marker(store, manifest)
    except StoreError as exc:
        raise LoadError(f"loading the cohort into {store.path} failed, the database is unchanged: {exc}") from None


def seed_store(store: Store, seed: int = DEFAULT_SEED, n_patients: int = DEFAULT_PATIENTS,
               profile: str = DEFAULT_PROFILE) -> Manifest:
    """Make sure ``store`` holds the cohort ``(profile, seed, n_patients)``; return its manifest.

    A no-op when the store already holds it (recognised by its recorded manifest, without
    reading the NDJSON). Raises ``CohortError`` when the store holds another cohort or
    other data, ``LoadError`` when the load fails (nothing is kept).
    """
    validate_args(seed, n_patients, profile)
    recorded = _recorded(store)
    if recorded is not None:
        same = (recorded.profile, recorded.seed, recorded.n_patients, recorded.generator_version) \
            == (profile, seed, n_patients, GENERATOR_VERSION)
        if same and store.get_meta("cohort_checksum") == recorded.checksum:
            ensure_marker(store)  # databases seeded before markers existed
            return recorded
        raise CohortError(
            f"the database {store.path} already holds another cohort (profile {recorded.profile}, seed {recorded.seed}, "
            f"{recorded.n_patients} patients, checksum {recorded.checksum[:12]}); use another --db"
        )
    checksum = store.get_meta("cohort_checksum")
    if checksum is None and store.count() > 0:
        raise CohortError(f"the database {store.path} already holds resources that are not a medagent cohort; use another --db")
    directory = ensure_cohort(seed, n_patients, profile)
    manifest = Manifest.load(directory)
    if checksum == manifest.checksum:  # seeded without a recorded manifest: record it, load nothing
        store.set_meta("cohort_manifest", manifest.model_dump_json())
        ensure_marker(store)
        return manifest
    if checksum is not None:
        raise CohortError(
            f"the database {store.path} already holds another cohort (checksum {checksum[:12]}); use another --db")
    load_into(store, directory, manifest)
    return manifest
