"""One database per cohort: `medagent bench`, `serve` and `seed` share it (no second copy,
no second seed), and a clean shutdown of `medagent serve` leaves no WAL behind."""

from __future__ import annotations

import signal
import sqlite3

import httpx
import pytest

from medagent.fhir_server.process import start_serve
from medagent.cli import main
from medagent.embedded import cohort_db_path
from tests.fixtures_cohort import SMALL_N, SMALL_SEED


def _wal_bytes(db) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _stop(server, sig) -> str:
    server.proc.send_signal(sig)
    assert server.proc.wait(20) == 0
    server.log.seek(0)
    text = server.log.read().decode("utf-8", "replace")
    server.stop()
    return text


def _row_count(db) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM resources").fetchone()[0]
    finally:
        conn.close()


def test_the_default_database_is_named_after_the_cohort(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDAGENT_HOME", str(tmp_path))
    path = cohort_db_path(42, 100, "edge-v1")
    assert path == tmp_path / "db" / "cohort-edge-v1-42-100.db"
    assert len({path, cohort_db_path(42, 100, "mab-v1"), cohort_db_path(42, 99, "edge-v1"),
                cohort_db_path(7, 100, "edge-v1")}) == 4


def test_a_database_of_the_earlier_name_is_adopted_not_seeded_again(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDAGENT_HOME", str(tmp_path))
    legacy = tmp_path / "db" / "cohort-42-100.db"
    legacy.parent.mkdir()
    legacy.write_bytes(b"seeded")
    legacy.with_name(legacy.name + "-wal").write_bytes(b"wal")
    path = cohort_db_path(42, 100, "mab-v1")  # the only cohort before profiles
    assert path.read_bytes() == b"seeded" and not legacy.exists()
    assert path.with_name(path.name + "-wal").read_bytes() == b"wal"
    assert cohort_db_path(42, 100, "mab-v1") == path  # idempotent


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_after_bench_reuses_its_database_and_leaves_no_wal(sig, bench_service, bench_suite,
                                                                 bench_suite_path, tmp_path, monkeypatch):
    monkeypatch.delenv("MEDAGENT_DB", raising=False)
    db = cohort_db_path(bench_suite.cohort_seed, bench_suite.cohort_n_patients, bench_suite.cohort_profile)
    assert main(["bench", "--suite", str(bench_suite_path), "--out", str(tmp_path / "run"), "--quiet",
                 "--agent", "oracle", "--tasks", "3"]) == 0
    assert bench_service.store.path == db  # bench used the cohort's default database
    bench_service.store.checkpoint()
    before = db.stat()
    rows = _row_count(db)

    server = start_serve(None, "--profile", bench_suite.cohort_profile, "--seed", str(SMALL_SEED),
                         "--patients", str(SMALL_N))
    try:
        base = server.base_url
        assert httpx.get(f"{base}/Patient", params={"_summary": "count"}).json()["total"] == SMALL_N
        # a session write grows the WAL; the clean shutdown folds it back in
        root = base.removesuffix("/fhir")
        session = httpx.post(f"{root}/sessions").json()
        obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
               "subject": {"reference": f"Patient/{next(t.patient for t in bench_suite.tasks if t.patient)}"}}
        assert httpx.post(f"{session['base_url']}/Observation", json=obs).status_code == 201
        assert _wal_bytes(db) > 0
        httpx.delete(f"{root}/sessions/{session['id']}")
    except BaseException:
        server.stop()
        raise
    log = _stop(server, sig)
    assert f"database {db}" in log and "seeding" not in log
    after = db.stat()
    assert (after.st_ino, after.st_dev) == (before.st_ino, before.st_dev)  # the same file, not a copy
    assert _row_count(db) == rows  # nothing was loaded again
    assert _wal_bytes(db) == 0  # checkpointed and truncated on SIGINT/SIGTERM
    assert not (db.parent.parent / "medagent.db").exists()  # no second database


def test_seed_uses_the_same_database(bench_service, bench_suite, capsys, monkeypatch):
    monkeypatch.delenv("MEDAGENT_DB", raising=False)
    profile = bench_suite.cohort_profile
    db = cohort_db_path(bench_suite.cohort_seed, bench_suite.cohort_n_patients, profile)
    mtime = db.stat().st_mtime_ns
    assert main(["seed", "--profile", profile, "--seed", str(SMALL_SEED), "--patients", str(SMALL_N)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{db} already holds cohort {profile} seed {SMALL_SEED}")
    assert db.stat().st_mtime_ns == mtime


def test_db_flag_and_medagent_db_still_override_the_default(tmp_path, monkeypatch):
    import argparse

    from medagent.cli.serve import settings_from_args

    def args(**given):
        base = dict(host=None, port=None, db=None, token=None, token_file=None, public_url=None, seed=SMALL_SEED, patients=SMALL_N,
                    no_sessions=False, profile="mab-v1")
        return argparse.Namespace(**{**base, **given})

    monkeypatch.delenv("MEDAGENT_DB", raising=False)
    assert settings_from_args(args()).db == cohort_db_path(SMALL_SEED, SMALL_N, "mab-v1")
    assert settings_from_args(args(db=str(tmp_path / "x.db"))).db == tmp_path / "x.db"
    monkeypatch.setenv("MEDAGENT_DB", str(tmp_path / "env.db"))  # the Docker image sets it
    assert settings_from_args(args()).db == tmp_path / "env.db"
    assert settings_from_args(args(no_sessions=True)).sessions is False
