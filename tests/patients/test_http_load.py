"""`--fhir-url` loading: transaction Bundles of PUTs into our real server over HTTP."""

from __future__ import annotations

import httpx
import pytest

from medagent import patients
from medagent.fhir_server import ServerSettings
from medagent.cli import main
from medagent.patients.http_load import load_over_http

from ._cohort_data import resources, subset


@pytest.fixture
def mini(tmp_path, small_cohort):
    """A 600-resource slice of the small cohort (keeps HTTP tests quick)."""
    return tmp_path / "mini", subset(small_cohort[0], tmp_path / "mini", 75)


def _count(base_url: str, rtype: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = httpx.get(f"{base_url}/{rtype}", params={"_summary": "count"}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["total"]


def test_load_over_http_is_complete_and_idempotent(running_server, mini):
    directory, manifest = mini
    server = running_server()
    assert load_over_http(directory, server.base_url, batch=100) == manifest.total
    for rtype, entry in manifest.files.items():
        assert _count(server.base_url, rtype) == entry.count
    obs = next(resources(directory, "Observation"))
    got = httpx.get(f"{server.base_url}/Observation/{obs['id']}").json()
    assert got["code"] == obs["code"] and got["subject"] == obs["subject"]
    assert load_over_http(directory, server.base_url, batch=250) == manifest.total  # re-run: PUT again
    assert _count(server.base_url, "Observation") == manifest.files["Observation"].count
    assert httpx.get(f"{server.base_url}/Observation/{obs['id']}").json()["meta"]["versionId"] == "2"


def test_token_is_sent_and_a_rejection_is_one_clear_error(running_server, mini, tmp_path):
    directory, manifest = mini
    server = running_server(token="s3cret")
    with pytest.raises(patients.LoadError, match=r"rejected a transaction of \d+ Organization resources \(HTTP 401\)"):
        load_over_http(directory, server.base_url)
    assert load_over_http(directory, server.base_url, token="s3cret") == manifest.total
    assert _count(server.base_url, "Patient", token="s3cret") == manifest.files["Patient"].count


def test_invalid_resource_rejects_its_bundle(running_server, tmp_path, small_cohort):
    bad = b'{"resourceType":"Observation","id":"bad-1","status":"final"}\n'  # Observation.code is required
    directory = tmp_path / "bad"
    subset(small_cohort[0], directory, 20, extra={"Observation": bad})
    server = running_server()
    with pytest.raises(patients.LoadError, match="rejected a transaction of 21 Observation resources") as err:
        load_over_http(directory, server.base_url)
    assert "Observation.code" in str(err.value) and "\n" not in str(err.value)
    assert _count(server.base_url, "Observation") == 0  # the whole Bundle was refused
    assert _count(server.base_url, "Encounter") == 20  # earlier Bundles stay (each is atomic)


def test_cli_fhir_url_rejection_is_one_line(running_server, capsys):
    server = running_server(token="s3cret")
    argv = ["seed", "--seed", "7", "--patients", "10", "--fhir-url", server.base_url]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 401" in err and "Traceback" not in err
    assert main([*argv, "--token", "wrong"]) == 2
    assert "HTTP 401" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_fhir_url(running_server, capsys, monkeypatch, tmp_path):
    """The whole 5-patient cohort (~40k resources) over HTTP: ~30 s, hence slow."""
    monkeypatch.setenv("MEDAGENT_HOME", str(tmp_path))
    server = running_server(settings=ServerSettings(db=tmp_path / "srv.db", home=tmp_path))
    assert main(["seed", "--seed", "11", "--patients", "5", "--profile", "mab-v1", "--fhir-url", server.base_url]) == 0
    manifest = patients.Manifest.load(patients.cohort_dir(11, 5))
    assert f"loaded {manifest.total:,} resources" in capsys.readouterr().out
    assert _count(server.base_url, "Patient") == 5
    assert _count(server.base_url, "Observation") == manifest.files["Observation"].count
