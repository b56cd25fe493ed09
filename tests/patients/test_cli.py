"""`medagent seed` and `medagent export` through the real CLI entry point."""

from __future__ import annotations

import pytest

from medagent import patients
from medagent.fhir_server import Store
from medagent.cli import main
from tests.fixtures_cohort import SMALL_N, SMALL_SEED


def _seed_args(db, *extra):
    return ["seed", "--seed", str(SMALL_SEED), "--patients", str(SMALL_N), "--profile", "mab-v1",
            "--db", str(db), *extra]


def test_seed_then_reseed_is_a_no_op(tmp_path, small_cohort, capsys):
    _, manifest = small_cohort
    db = tmp_path / "cli.db"
    assert main(_seed_args(db)) == 0
    assert "now holds" in capsys.readouterr().out
    assert main(_seed_args(db)) == 0
    assert "already holds" in capsys.readouterr().out
    store = Store(db)
    try:
        assert store.count() == manifest.total + 1  # the cohort and its marker (patients.marker)
        assert store.get_meta("cohort_checksum") == manifest.checksum
    finally:
        store.close()


def test_seed_refuses_another_cohort_in_one_line(seeded_db_copy, capsys):
    assert main(["seed", "--seed", str(SMALL_SEED + 3), "--patients", str(SMALL_N), "--db", str(seeded_db_copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another cohort" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["seed", "--seed", "abc"], "--seed must be an integer, got 'abc'"),
    (["seed", "--seed", "-4"], "--seed must be at least 0"),
    (["seed", "--patients", "2"], "--patients must be at least 5"),
    (["seed", "--patients", "many"], "--patients must be an integer"),
    (["export", "--out", "OUT", "--seed", "1.5"], "--seed must be an integer"),
    (["seed", "--seed", "1", "--patients", "5", "--fhir-url", "http://127.0.0.1:9/fhir"], "cannot reach the FHIR server"),
])
def test_bad_input_gives_one_clear_line(tmp_path, capsys, argv, message):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main([*argv, "--db", str(tmp_path / "x.db")] if argv[0] == "seed" and "--fhir-url" not in argv else argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("medagent: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "x.db").exists() or Store(tmp_path / "x.db").count() == 0


def test_export_writes_the_same_bytes_as_the_cache(tmp_path, small_cohort, capsys):
    source, manifest = small_cohort
    out = tmp_path / "export"
    assert main(["export", "--out", str(out), "--seed", str(SMALL_SEED), "--patients", str(SMALL_N),
                 "--profile", "mab-v1"]) == 0
    assert f"{manifest.total:,} resources" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in source.iterdir())
    for path in source.iterdir():
        assert (out / path.name).read_bytes() == path.read_bytes()
    patients.Manifest.load(out).verify(out)
