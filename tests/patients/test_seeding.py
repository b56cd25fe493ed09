"""seed_store / ensure_cohort: no-op re-runs, refusing another cohort, all-or-nothing loads,
atomic regeneration of a corrupt cache."""

from __future__ import annotations

import pytest

from medagent import patients
from medagent.fhir_server import Store
from medagent.patients.seeding import load_into
from tests.fixtures_cohort import SMALL_N, SMALL_SEED

from ._cohort_data import subset


def test_seeded_db_holds_the_small_cohort(seeded_db, small_cohort):
    _, manifest = small_cohort
    store = Store(seeded_db)
    try:
        assert store.count() == manifest.total + 1  # the cohort and its marker (patients.marker)
        assert store.get_meta("cohort_checksum") == manifest.checksum
        assert store.get_meta("cohort_seed") == str(SMALL_SEED)
        assert store.get_meta("cohort_n_patients") == str(SMALL_N)
        assert store.get_meta("cohort_profile") == "mab-v1"
        mrn = manifest.scenarios["magnesium"]["lt1"][0]
        assert store.current("Patient", mrn, "") is not None
    finally:
        store.close()


def test_reseeding_is_a_no_op(seeded_db_copy, small_cohort):
    _, manifest = small_cohort
    store = Store(seeded_db_copy)
    try:
        before = store.conn().execute("SELECT max(rid), count(*) FROM resources").fetchone()
        assert patients.seed_store(store, SMALL_SEED, SMALL_N) == manifest
        assert store.conn().execute("SELECT max(rid), count(*) FROM resources").fetchone() == before
    finally:
        store.close()


def test_another_cohort_is_refused(seeded_db_copy):
    store = Store(seeded_db_copy)
    try:
        with pytest.raises(patients.CohortError, match="another cohort.*another --db"):
            patients.seed_store(store, SMALL_SEED + 1, SMALL_N)
        with pytest.raises(patients.CohortError, match="another cohort"):
            patients.seed_store(store, SMALL_SEED, SMALL_N + 1)
        with pytest.raises(patients.CohortError, match="another cohort .profile mab-v1"):
            patients.seed_store(store, SMALL_SEED, SMALL_N, "edge-v1")  # same seed, other profile
    finally:
        store.close()


def test_foreign_data_is_refused(tmp_path):
    store = Store(tmp_path / "other.db")
    try:
        store.bulk_load([b'{"resourceType":"Patient","id":"x1"}'])
        with pytest.raises(patients.CohortError, match="not a medagent cohort"):
            patients.seed_store(store, SMALL_SEED, SMALL_N)
    finally:
        store.close()


def test_failed_load_leaves_the_database_as_it_was(tmp_path, small_cohort):
    source, _ = small_cohort
    good = subset(source, tmp_path / "good", 400)
    bad_line = b'{"resourceType": "Procedure", "status": "completed"}\n'  # no id: the store refuses it
    broken = subset(source, tmp_path / "broken", 400, extra={"Procedure": bad_line})
    store = Store(tmp_path / "db.sqlite")
    try:
        store.set_meta("marker", "kept")
        with pytest.raises(patients.LoadError, match="database is unchanged"):
            load_into(store, tmp_path / "broken", broken)  # fails on the last file, after 2,000+ rows
        assert store.count() == 0
        assert store.get_meta("cohort_checksum") is None
        assert store.get_meta("marker") == "kept"
        with pytest.raises(patients.LoadError, match="the manifest lists"):
            load_into(store, tmp_path / "good", broken)  # count mismatch also rolls back
        assert store.count() == 0
        load_into(store, tmp_path / "good", good)  # the same store still loads a good cohort
        assert store.count() == good.total + 1  # and its marker
        assert store.get_meta("cohort_checksum") == good.checksum
    finally:
        store.close()


def test_ensure_cohort_reuses_and_repairs_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDAGENT_HOME", str(tmp_path))
    directory = patients.ensure_cohort(9, 5)
    assert directory == patients.cohort_dir(9, 5) and directory.is_relative_to(tmp_path)
    manifest = patients.Manifest.load(directory)
    stamp = (directory / "Observation.ndjson").stat().st_mtime_ns
    assert patients.ensure_cohort(9, 5) == directory
    assert (directory / "Observation.ndjson").stat().st_mtime_ns == stamp  # reused, not rewritten
    with (directory / "Observation.ndjson").open("r+b") as fh:
        fh.write(b"X")  # corrupt one byte
    with pytest.raises(patients.CohortError, match="corrupt"):
        manifest.verify(directory)
    (directory / "Condition.ndjson").unlink()
    assert patients.ensure_cohort(9, 5) == directory
    patients.Manifest.load(directory).verify(directory)
    assert patients.Manifest.load(directory) == manifest
    assert not [p for p in tmp_path.joinpath("cohorts").iterdir() if p.name.startswith(".")]


def test_a_checksum_alone_is_recognised(seeded_db_copy, small_cohort):
    """A database seeded with only the ``cohort_checksum`` meta (no recorded manifest)."""
    _, manifest = small_cohort
    store = Store(seeded_db_copy)
    try:
        with store.write() as conn:
            conn.execute("DELETE FROM meta WHERE key = 'cohort_manifest'")
        before = store.count()
        assert patients.seed_store(store, SMALL_SEED, SMALL_N) == manifest
        assert store.count() == before and store.get_meta("cohort_manifest")
        store.set_meta("cohort_checksum", "0" * 64)
        with store.write() as conn:
            conn.execute("DELETE FROM meta WHERE key = 'cohort_manifest'")
        with pytest.raises(patients.CohortError, match="another cohort"):
            patients.seed_store(store, SMALL_SEED, SMALL_N)
    finally:
        store.close()
