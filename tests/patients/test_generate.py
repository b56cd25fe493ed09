"""Determinism, manifest and file format of generated cohorts."""

from __future__ import annotations

import hashlib
import re

import orjson
import pytest

from medagent import patients
from medagent.patients import Manifest

from ._cohort_data import resources

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def _bytes(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_same_seed_gives_identical_bytes_serial_or_parallel(tmp_path):
    a = patients.generate(tmp_path / "a", seed=3, n_patients=6, workers=1)
    b = patients.generate(tmp_path / "b", seed=3, n_patients=6, workers=2)
    assert a == b
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")


def test_other_seed_gives_other_cohort(tmp_path, small_cohort):
    _, small = small_cohort
    other = patients.generate(tmp_path / "o", seed=small.seed + 1, n_patients=small.n_patients)
    assert other.checksum != small.checksum
    assert set(other.scenarios["magnesium"]["lt1"]) != set(small.scenarios["magnesium"]["lt1"])


def test_mab_v1_profile_writes_what_the_generator_wrote_before_profiles(small_cohort):
    """Profiles must never shift the shared random streams: the small mab-v1 cohort keeps the
    checksum it had before profiles existed (and so does the default one, fd2eb9aa…, which
    mab-v1's suite header records; rebuilt in tests/tasks, slow)."""
    _, manifest = small_cohort
    assert manifest.checksum == "2b57809efe080963a62bdd69a52c2884d840b273ce9f51ecf2ee0a6f8c79ff19"
    assert patients.cohort_dir(7, 10).name == "mab-v1-v1-seed7-n10"
    assert patients.cohort_dir(7, 10, "edge-v1").name == "edge-v1-v1-seed7-n10"


def test_unknown_profile_is_refused(tmp_path):
    with pytest.raises(patients.CohortError, match="unknown cohort profile 'nope'.*edge-v1"):
        patients.generate(tmp_path, seed=1, n_patients=5, profile="nope")


def test_manifest_matches_files(small_cohort):
    directory, manifest = small_cohort
    raw = orjson.loads((directory / "manifest.json").read_bytes())
    assert list(raw) == ["generator_version", "profile", "seed", "n_patients", "now", "files", "total",
                         "checksum", "scenarios"]
    assert raw["profile"] == "mab-v1" and "edge" not in raw["scenarios"]
    assert raw["now"] == "2023-11-13T10:15:00+00:00" == patients.NOW.isoformat()
    total = 0
    for rtype, entry in manifest.files.items():
        data = (directory / entry.path).read_bytes()
        assert entry.path == f"{rtype}.ndjson"
        assert hashlib.sha256(data).hexdigest() == entry.sha256
        assert data.count(b"\n") == entry.count > 0
        total += entry.count
    assert total == manifest.total
    digests = "".join(manifest.files[t].sha256 for t in sorted(manifest.files))
    assert manifest.checksum == hashlib.sha256(digests.encode()).hexdigest()
    assert Manifest.load(directory) == manifest
    manifest.verify(directory)


def test_ndjson_lines_are_compact_sorted_json_with_unique_ids(small_cohort):
    directory, manifest = small_cohort
    for rtype in manifest.files:
        ids = set()
        with (directory / f"{rtype}.ndjson").open("rb") as fh:
            for line in fh:
                resource = orjson.loads(line)
                assert resource["resourceType"] == rtype
                assert orjson.dumps(resource, option=orjson.OPT_SORT_KEYS) + b"\n" == line
                ids.add(resource["id"])
        assert len(ids) == manifest.files[rtype].count


def test_references_resolve_and_nothing_is_after_now(small_cohort):
    directory, manifest = small_cohort
    known = {(t, r["id"]) for t in manifest.files for r in resources(directory, t)}
    now = patients.NOW.isoformat()
    for rtype in ("Encounter", "Condition", "Observation", "Procedure", "MedicationRequest", "Patient"):
        for r in resources(directory, rtype):
            for ref in _references(r):
                target_type, target_id = ref.split("/")
                assert (target_type, target_id) in known, f"{rtype}/{r['id']} -> {ref}"
            for when in _instants(r):
                assert when <= now and when.endswith("+00:00"), f"{rtype}/{r['id']}: {when}"


def _instants(resource):
    """Every dateTime/instant string anywhere in the resource."""
    if isinstance(resource, dict):
        for value in resource.values():
            yield from _instants(value)
    elif isinstance(resource, list):
        for item in resource:
            yield from _instants(item)
    elif isinstance(resource, str) and _DATETIME.match(resource):
        yield resource


def _references(resource):
    if isinstance(resource, dict):
        for key, value in resource.items():
            if key == "reference":
                yield value
            else:
                yield from _references(value)
    elif isinstance(resource, list):
        for item in resource:
            yield from _references(item)


@pytest.mark.parametrize("seed, n", [(-1, 10), ("abc", 10), (1, 4), (1, "ten"), (True, 10)])
def test_bad_arguments_raise_cohort_error(tmp_path, seed, n):
    with pytest.raises(patients.CohortError):
        patients.generate(tmp_path, seed=seed, n_patients=n)
