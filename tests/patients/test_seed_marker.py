"""`medagent seed --fhir-url` recognises a server that already holds the cohort (its marker
``Basic`` + sampled counts) and skips it; ``--force`` reloads; a failed load leaves no marker."""

from __future__ import annotations

import httpx
import pytest

from medagent import patients
from medagent.fhir_server import Store
from medagent.cli import main
from medagent.patients.marker import check_server, marker_id, marker_resource

from ._cohort_data import subset


def _seed(url, *extra):
    return main(["seed", "--profile", "mab-v1", "--seed", "7", "--patients", "10", "--fhir-url", url, *extra])


@pytest.fixture
def mini(tmp_path, small_cohort, monkeypatch):
    """A 200-resource slice of the small cohort, served as cohort (7, 10) to the seed command."""
    directory = tmp_path / "mini"
    manifest = subset(small_cohort[0], directory, 25)
    monkeypatch.setattr(patients, "ensure_cohort", lambda *cohort: directory)
    return directory, manifest


def _version(url, rtype, rid) -> str:
    return httpx.get(f"{url}/{rtype}/{rid}").json()["meta"]["versionId"]


def test_seed_skips_a_server_that_holds_the_cohort(running_server, seeded_db_copy, small_cohort, capsys):
    _, manifest = small_cohort
    server = running_server(Store(seeded_db_copy))
    assert _seed(server.base_url) == 0
    out = capsys.readouterr().out
    assert "already holds cohort mab-v1 seed 7, 10 patients" in out and "nothing loaded" in out
    mrn = next(iter(manifest.scenarios["potassium"].values()))[0]
    assert _version(server.base_url, "Patient", mrn) == "1"  # nothing was PUT again


def test_marker_and_counts_identify_the_cohort(running_server, seeded_db_copy, small_cohort):
    _, manifest = small_cohort
    server = running_server(Store(seeded_db_copy))
    with httpx.Client() as http:
        check = check_server(http, server.base_url, manifest.checksum)
        assert check.ok and check.expected["Patient"] == manifest.files["Patient"].count
        assert check.found["ServiceRequest"] == 0
        assert check_server(http, server.base_url, "0" * 64).reason() == "no cohort marker on the server"
        mrn = next(iter(manifest.scenarios["potassium"].values()))[0]
        stray = {"resourceType": "Observation", "status": "final", "code": {"text": "stray"},
                 "subject": {"reference": f"Patient/{mrn}"}}
        assert http.post(f"{server.base_url}/Observation", json=stray).status_code == 201
        check = check_server(http, server.base_url, manifest.checksum)
        assert not check.ok and check.reason().startswith("Observation: ")
        empty = running_server()
        assert check_server(http, empty.base_url, manifest.checksum).marker is None


def test_seed_loads_then_marks_then_skips_and_force_reloads(running_server, mini, capsys):
    directory, manifest = mini
    server = running_server()
    url = server.base_url
    assert _seed(url) == 0
    assert f"loaded {manifest.total:,} resources" in capsys.readouterr().out
    marker = httpx.get(f"{url}/Basic/{marker_id(manifest.checksum)}").json()
    assert marker["identifier"] == marker_resource(manifest)["identifier"]
    obs = next(iter(open(directory / manifest.files["Observation"].path, "rb")))
    oid = httpx.Response(200, content=obs).json()["id"]
    assert _version(url, "Observation", oid) == "1"
    assert _seed(url) == 0
    assert "nothing loaded" in capsys.readouterr().out
    assert _version(url, "Observation", oid) == "1"
    assert _seed(url, "--force") == 0
    assert "loaded" in capsys.readouterr().out
    assert _version(url, "Observation", oid) == "2"


def test_a_failed_load_leaves_no_marker(running_server, tmp_path, small_cohort, monkeypatch, capsys):
    bad = b'{"resourceType":"Observation","id":"bad-1","status":"final"}\n'  # Observation.code is required
    directory = tmp_path / "bad"
    manifest = subset(small_cohort[0], directory, 20, extra={"Observation": bad})
    monkeypatch.setattr(patients, "ensure_cohort", lambda *cohort: directory)
    server = running_server()
    assert _seed(server.base_url) == 2
    assert "rejected a transaction" in capsys.readouterr().err
    assert httpx.get(f"{server.base_url}/Basic/{marker_id(manifest.checksum)}").status_code == 404
