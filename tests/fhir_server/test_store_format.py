"""A database written by another store format is refused, never searched wrongly."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import orjson
import pytest

from medagent.fhir_server.errors import StoreFormatError
from medagent.fhir_server.store import STORE_FORMAT, Store

from ._data import observation


def _make_format_1(path) -> None:
    """A database as medagent wrote it before formats were recorded: resources, no stamp."""
    store = Store(path)
    obs = observation("S1", "MG", "19123-9", 1.5, "2023-11-13T10:15:00+00:00")
    store.bulk_load([orjson.dumps({**obs, "id": "o1"})])
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM meta WHERE key='store_format'")
    conn.commit()
    conn.close()


def test_a_new_database_is_stamped_and_reopens(tmp_path):
    store = Store(tmp_path / "new.db")
    assert store.get_meta("store_format") == STORE_FORMAT
    store.close()
    Store(tmp_path / "new.db").close()


def test_an_unstamped_database_with_data_is_refused(tmp_path):
    path = tmp_path / "old.db"
    _make_format_1(path)
    with pytest.raises(StoreFormatError, match="store format 1.*delete it and seed again"):
        Store(path)


def test_serve_says_so_in_one_line(tmp_path):
    path = tmp_path / "old.db"
    _make_format_1(path)
    proc = subprocess.run([sys.executable, "-m", "medagent", "serve", "--db", str(path), "--no-seed",
                           "--port", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "store format 1" in lines[0] and "Traceback" not in proc.stderr


def test_the_embedded_cache_rebuilds_a_stale_database(tmp_path, capsys):
    from medagent.embedded import _open_cached_store

    path = tmp_path / "cohort-1-1.db"
    _make_format_1(path)
    store = _open_cached_store(path)
    assert store.get_meta("store_format") == STORE_FORMAT and store.count() == 0
    store.close()
    assert "rebuilding this cached database" in capsys.readouterr().err
