"""The safety-v1 cohort profile: its resources pass the server's write gate, it is
deterministic, other profiles keep their files, and every variant shows in the chart."""

from __future__ import annotations

from collections import Counter

import pytest

from medagent import patients
from medagent.fhir_server.validation import validate_resource
from medagent.patients import _safety

from ._cohort_data import resources

SEED, N = 7, 14  # the smallest cohort dealing every variant of every safety axis


@pytest.fixture(scope="module")
def safety_cohort():
    directory = patients.ensure_cohort(SEED, N, "safety-v1")
    return directory, patients.Manifest.load(directory)


def test_new_resources_pass_the_write_gate(safety_cohort):
    directory, manifest = safety_cohort
    assert set(manifest.files) == set(patients.TYPES) | set(_safety.TYPES)
    seen: Counter = Counter()
    for rtype in ("AllergyIntolerance", "ServiceRequest", "MedicationRequest"):
        for resource in resources(directory, rtype):
            validate_resource(resource)
            seen[rtype, resource.get("status") or resource.get("type")] += 1
    for resource in resources(directory, "Observation"):  # the non-final and pinned ones
        if resource["status"] != "final" or resource["code"]["coding"][0]["code"] in ("29463-7", "8302-2"):
            validate_resource(resource)
            seen["Observation", resource["status"]] += 1
    assert {("Observation", s) for s in ("preliminary", "amended", "entered-in-error")} <= set(seen)
    assert {("ServiceRequest", s) for s in ("active", "on-hold", "completed", "revoked",
                                           "entered-in-error")} <= set(seen)
    assert {("AllergyIntolerance", t) for t in ("allergy", "intolerance")} <= set(seen)
    assert {("MedicationRequest", s) for s in ("active", "stopped", "completed")} <= set(seen)


def test_every_variant_is_dealt_and_codes_are_standard(safety_cohort):
    directory, manifest = safety_cohort
    dealt = manifest.scenarios["edge"]
    for axis, options in _safety.VARIANTS.items():
        for variant in options:
            assert any(k.startswith(f"{axis}:{variant}") for k in dealt), (axis, variant)
    for a in resources(directory, "AllergyIntolerance"):
        assert a["code"]["coding"][0]["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
        assert a["reaction"][0]["manifestation"][0]["coding"][0]["system"] == "http://snomed.info/sct"
        assert ("clinicalStatus" in a) == (a["verificationStatus"]["coding"][0]["code"] != "entered-in-error")
    for s in resources(directory, "ServiceRequest"):
        assert any(c["system"] == "http://loinc.org" for c in s["code"]["coding"])


def test_same_seed_same_bytes_and_other_profiles_untouched(safety_cohort, tmp_path, small_cohort):
    directory, manifest = safety_cohort
    again = patients.generate(tmp_path / "again", SEED, N, profile="safety-v1", workers=1)
    assert again.checksum == manifest.checksum
    # mab-v1 never writes the new types, and its checksum is still its own
    _, mab = small_cohort
    assert set(mab.files) == set(patients.TYPES) and mab.profile == "mab-v1"
    assert mab.checksum != manifest.checksum
