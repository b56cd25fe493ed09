"""Every resource is valid FHIR R4B and carries the coding conventions of the contract."""

from __future__ import annotations

import random
from collections import Counter

import orjson
import pytest
from medagent import patients
from medagent.fhir_server.errors import FhirError
from medagent.fhir_server.validation import validate_resource
from medagent.patients._codes import LABS

from ._cohort_data import resources

LOCAL = "urn:medagent:lab"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _validate(resource: dict) -> None:
    """The server's own write gate: the R4B model plus required value sets."""
    validate_resource(resource)


def _shape(resource: dict) -> tuple:
    code = resource.get("code") or resource.get("medicationCodeableConcept") or {}
    return resource["resourceType"], code.get("text"), resource.get("status"), bool(resource.get("abatementDateTime"))


def test_a_stratified_sample_validates_against_r4b(small_cohort):
    """Up to 8 resources of every (type, code, status) shape of the small cohort."""
    directory, manifest = small_cohort
    seen: Counter = Counter()
    for rtype in manifest.files:
        for resource in resources(directory, rtype):
            shape = _shape(resource)
            if seen[shape] < 8:
                seen[shape] += 1
                _validate(resource)
    assert {s[0] for s in seen} == set(patients.TYPES)
    assert {s[1] for s in seen if s[0] == "Observation"} >= set(LABS) | {"Blood pressure", "Heart rate", "Body mass index (BMI) [Ratio]"}


def test_invalid_resources_do_fail_validation(small_cohort):
    """The validation above is not vacuous."""
    obs = next(resources(small_cohort[0], "Observation"))
    for broken in (dict(obs, valueQuantity={"value": "high"}), dict(obs, status="done")):
        with pytest.raises(FhirError):
            _validate(broken)


def test_patient_identity_and_lab_coding(small_cohort):
    directory, _ = small_cohort
    for p in resources(directory, "Patient"):
        assert p["id"][0] == "S" and len(p["id"]) == 8 and p["id"][1:].isdigit()
        ident = p["identifier"][0]
        assert ident["system"] == "urn:medagent:mrn" and ident["value"] == p["id"]
        assert ident["type"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/v2-0203"
        assert ident["type"]["coding"][0]["code"] == "MR"
        assert p["gender"] in ("female", "male") and p["name"][0]["family"] and p["address"][0]["city"]
        assert {t["system"] for t in p["telecom"]} == {"phone", "email"}
    bp_seen = 0
    for obs in resources(directory, "Observation"):
        category = obs["category"][0]["coding"][0]
        assert category["system"] == CATEGORY
        if category["code"] == "laboratory":
            local, loinc = obs["code"]["coding"]
            assert local["system"] == LOCAL and local["code"] == obs["code"]["text"]
            spec = LABS[local["code"]]
            assert loinc == {"system": "http://loinc.org", "code": spec.loinc, "display": spec.loinc_display}
            qty = obs["valueQuantity"]
            assert qty["system"] == "http://unitsofmeasure.org" and qty["code"] == spec.unit
            low, high = obs["referenceRange"][0]["low"]["value"], obs["referenceRange"][0]["high"]["value"]
            flag = obs["interpretation"][0]["coding"][0]["code"]
            assert flag == ("H" if qty["value"] > high else "L" if qty["value"] < low else "N")
            assert obs["issued"] >= obs["effectiveDateTime"]
        else:
            assert category["code"] == "vital-signs"
            if obs["code"]["coding"][0]["code"] == "85354-9":
                bp_seen += 1
                parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in obs["component"]}
                assert set(parts) == {"8480-6", "8462-4"}
                assert all(q["code"] == "mm[Hg]" for q in parts.values())
                assert parts["8480-6"]["value"] > parts["8462-4"]["value"]
        assert obs["encounter"]["reference"].startswith("Encounter/")
    assert bp_seen > 100


def test_conditions_procedures_and_orders_are_coded(small_cohort):
    directory, _ = small_cohort
    categories = Counter()
    for c in resources(directory, "Condition"):
        systems = [x["system"] for x in c["code"]["coding"]]
        assert systems == ["http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"]
        categories[c["category"][0]["coding"][0]["code"]] += 1
        assert c["clinicalStatus"]["coding"][0]["code"] == ("resolved" if "abatementDateTime" in c else "active")
    assert set(categories) == {"problem-list-item", "encounter-diagnosis"}
    for m in resources(directory, "MedicationRequest"):
        assert m["medicationCodeableConcept"]["coding"][0]["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
        dose = m["dosageInstruction"][0]
        assert dose["timing"]["repeat"]["periodUnit"] == "d" and dose["doseAndRate"][0]["doseQuantity"]["value"] > 0
        assert m["intent"] == "order" and m["subject"]["reference"].startswith("Patient/S")
    for p in resources(directory, "Procedure"):
        assert p["code"]["coding"][0]["system"] == "http://snomed.info/sct" and p["status"] == "completed"


@pytest.mark.slow
def test_every_resource_of_the_small_cohort_validates(small_cohort):
    directory, manifest = small_cohort
    count = 0
    for rtype in manifest.files:
        for resource in resources(directory, rtype):
            _validate(resource)
            count += 1
    assert count == manifest.total


@pytest.mark.slow
def test_a_sample_of_the_default_cohort_validates():
    directory = patients.ensure_cohort()
    rng = random.Random(0)
    checked = 0
    for rtype in patients.TYPES:
        with (directory / f"{rtype}.ndjson").open("rb") as fh:
            for line in fh:
                if rtype in ("Organization", "Practitioner", "Patient") or rng.random() < 0.01:
                    _validate(orjson.loads(line))
                    checked += 1
    assert checked > 7000
