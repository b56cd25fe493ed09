"""Search semantics through ``FhirService.dispatch`` on a handful of hand-made resources."""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
import pytest

from ._data import ids, observation, patient, put, search

OBS = [  # id, patient, code, loinc, value, effective
    ("o1", "S0000001", "MG", "19123-9", 1.5, "2023-11-13T08:00:00+00:00"),
    ("o2", "S0000001", "MG", "19123-9", 1.9, "2023-11-12T08:00:00+00:00"),
    ("o3", "S0000001", "GLU", "2345-7", 120.0, "2023-11-13T09:30:00+00:00"),
    ("o4", "S0000002", "MG", "19123-9", 2.1, "2023-10-01T12:00:00+00:00"),
    ("o5", "S0000002", "K", "2823-3", 3.2, "2022-05-05T00:00:00+00:00"),
    ("o6", "S0000003", "GLU", "2345-7", 99.0, "2023-11-13"),
]


@pytest.fixture
def lab(service):
    for p in (patient("S0000001", "Müller", "José", "1960-05-01", city="Boston"),
              patient("S0000002", "Mullins", "Ann", "1975-12-31", gender="female", city="Salem"),
              patient("S0000003", "Smith", "Bob", "1960-05-02")):
        assert put(service, p).status == 201
    for oid, pid, code, loinc, value, when in OBS:
        unit = "mmol/L" if code == "K" else "mg/dL"
        res = {**observation(pid, code, loinc, value, when, unit), "id": oid}
        assert put(service, res).status == 201
    return service


def test_token_forms(lab):
    assert ids(search(lab, "Observation", [("code", "MG")])) == ["o1", "o2", "o4"]
    assert ids(search(lab, "Observation", [("code", "http://loinc.org|2345-7")])) == ["o3", "o6"]
    assert ids(search(lab, "Observation", [("code", "urn:medagent:lab|2345-7")])) == []
    assert ids(search(lab, "Observation", [("code", "http://loinc.org|")])) == [o[0] for o in OBS]
    assert ids(search(lab, "Patient", [("gender", "female")])) == ["S0000002"]
    # |code = a code without a system: gender is a plain code
    assert ids(search(lab, "Patient", [("gender", "|female")])) == ["S0000002"]
    assert ids(search(lab, "Observation", [("code", "|MG")])) == []
    assert ids(search(lab, "Patient", [("identifier", "urn:medagent:mrn|S0000003")])) == ["S0000003"]
    assert ids(search(lab, "Observation", [("code:not", "MG")])) == ["o3", "o5", "o6"]


def test_string_prefix_case_accent_exact_contains(lab):
    assert ids(search(lab, "Patient", [("family", "mul")])) == ["S0000001", "S0000002"]
    assert ids(search(lab, "Patient", [("family", "MULLER")])) == ["S0000001"]
    assert ids(search(lab, "Patient", [("given", "jose")])) == ["S0000001"]
    assert ids(search(lab, "Patient", [("name", "ann")])) == ["S0000002"]
    assert ids(search(lab, "Patient", [("family:exact", "Müller")])) == ["S0000001"]
    assert ids(search(lab, "Patient", [("family:exact", "muller")])) == []
    assert ids(search(lab, "Patient", [("family:contains", "LLI")])) == ["S0000002"]
    assert ids(search(lab, "Patient", [("address-city", "sal")])) == ["S0000002"]
    assert ids(search(lab, "Patient", [("address", "bost")])) == ["S0000001", "S0000003"]


@pytest.mark.parametrize(("value", "expected"), [
    ("1960", ["S0000001", "S0000003"]),
    ("1960-05", ["S0000001", "S0000003"]),
    ("1960-05-01", ["S0000001"]),
    ("eq1960-05-02", ["S0000003"]),
    ("ne1960-05-01", ["S0000002", "S0000003"]),
    ("gt1960-05-01", ["S0000002", "S0000003"]),
    ("ge1960-05-01", ["S0000001", "S0000002", "S0000003"]),
    ("lt1960-05-02", ["S0000001"]),
    ("le1960-05-02", ["S0000001", "S0000003"]),
    ("sa1960-12-31", ["S0000002"]),
    ("eb1960-05-02", ["S0000001"]),
    ("ap1975-12-01", ["S0000002"]),
])
def test_date_prefixes(lab, value, expected):
    assert ids(search(lab, "Patient", [("birthdate", value)])) == expected


def test_datetime_ranges_and_precision(lab):
    # an instant inside the day matches the day; a day-precision value matches the day
    got = search(lab, "Observation", [("date", "2023-11-13")])
    assert ids(got) == ["o1", "o3", "o6"]
    got = search(lab, "Observation", [("date", "ge2023-11-13T09:00:00+00:00")])
    assert ids(got) == ["o3", "o6"]  # o6 is the whole day 2023-11-13: its range reaches past 09:00
    got = search(lab, "Observation", [("date", "lt2023-11-13T09:00:00Z"), ("code", "MG")])
    assert ids(got) == ["o1", "o2", "o4"]
    # '+' of an offset sent unencoded in a query string arrives as a space
    got = search(lab, "Observation", [("date", "ge2023-11-13T09:00:00 00:00")])
    assert ids(got) == ["o3", "o6"]
    got = search(lab, "Observation", [("date", "ge2023-11-01"), ("date", "lt2023-11-13")])
    assert ids(got) == ["o2"]
    bad = lab.dispatch("GET", "Observation", [("date", "2023-13-45")], None, {})
    assert bad.status == 400 and b"Invalid date" in bad.body


def test_reference_forms_and_or_and(lab):
    assert ids(search(lab, "Observation", [("patient", "S0000002")])) == ["o4", "o5"]
    assert ids(search(lab, "Observation", [("patient", "Patient/S0000002")])) == ["o4", "o5"]
    assert ids(search(lab, "Observation", [("subject", "Patient/S0000002")])) == ["o4", "o5"]
    assert ids(search(lab, "Observation", [("subject", "S0000002")])) == ["o4", "o5"]
    abs_ref = "http://example.org/fhir/Patient/S0000002"
    assert ids(search(lab, "Observation", [("patient", abs_ref)])) == ["o4", "o5"]
    # comma = OR, repeated = AND
    got = search(lab, "Observation", [("patient", "S0000001,S0000003"), ("code", "GLU,K")])
    assert ids(got) == ["o3", "o6"]
    got = search(lab, "Observation", [("patient", "S0000001"), ("code", "MG"), ("code", "GLU")])
    assert ids(got) == []
    assert ids(search(lab, "Observation", [("_id", "o5,o1")])) == ["o1", "o5"]


def test_quantity(lab):
    assert ids(search(lab, "Observation", [("value-quantity", "gt100")])) == ["o3"]
    assert ids(search(lab, "Observation", [("value-quantity", "1.5")])) == ["o1"]
    assert ids(search(lab, "Observation", [("value-quantity", "le1.9"), ("code", "MG")])) == ["o1", "o2"]
    got = search(lab, "Observation", [("value-quantity", "lt5|http://unitsofmeasure.org|mmol/L")])
    assert ids(got) == ["o5"]


def test_sort_count_total_summary(lab, service):
    got = search(lab, "Observation", [("patient", "S0000001"), ("_sort", "-date")])
    assert ids(got) == ["o3", "o1", "o2"]
    got = search(lab, "Observation", [("_sort", "date")])
    assert ids(got) == ["o5", "o4", "o2", "o6", "o1", "o3"]
    got = search(lab, "Observation", [("_sort", "code,-date")])
    # a token sorts by its smallest code (here the LOINC code: 19123-9 < 2345-7 < 2823-3)
    assert ids(got) == ["o1", "o2", "o4", "o3", "o6", "o5"]
    got = search(lab, "Patient", [("_sort", "-birthdate,family")])
    assert ids(got) == ["S0000002", "S0000003", "S0000001"]
    got = search(lab, "Observation", [("_count", "2")])
    assert got["total"] == 6 and len(got["entry"]) == 2
    got = search(lab, "Observation", [("_summary", "count")])
    assert got["total"] == 6 and "entry" not in got
    got = search(lab, "Observation", [("_total", "none"), ("_count", "2")])
    assert "total" not in got
    clamped = search(lab, "Observation", [("_count", "100000")])
    assert len(clamped["entry"]) == 6
    assert f"_count={service.settings.max_count}" in clamped["link"][0]["url"]


def test_count_clamped_to_max(empty_store, server_settings):
    from medagent.fhir_server import FhirService

    svc = FhirService(empty_store, server_settings.model_copy(update={"max_count": 2}))
    for i in range(3):
        put(svc, patient(f"S000000{i}"))
    got = search(svc, "Patient", [("_count", "50")])
    assert len(got["entry"]) == 2 and got["total"] == 3


def test_elements_and_lastupdated(lab):
    got = search(lab, "Patient", [("_id", "S0000001"), ("_elements", "birthDate")])
    res = got["entry"][0]["resource"]
    assert set(res) == {"resourceType", "id", "meta", "birthDate"}
    assert any(t["code"] == "SUBSETTED" for t in res["meta"]["tag"])
    read = orjson.loads(lab.dispatch("GET", "Patient/S0000002", [("_elements", "gender,name")],
                                     None, {}).body)
    assert set(read) == {"resourceType", "id", "meta", "gender", "name"}
    summary = search(lab, "Patient", [("_id", "S0000001"), ("_summary", "true")])
    res = summary["entry"][0]["resource"]  # address, telecom, identifier... are summary; not text
    assert {"name", "birthDate", "identifier", "gender"} <= set(res)
    data = orjson.loads(lab.dispatch("GET", "Observation/o1", [("_summary", "true")], None, {}).body)
    assert "valueQuantity" in data and "meta" in data and "category" not in data  # R4 isSummary
    assert len(ids(search(lab, "Patient", [("_lastUpdated", "gt2000-01-01")]))) == 3
    assert ids(search(lab, "Patient", [("_lastUpdated", "lt2000-01-01")])) == []


def test_include_revinclude(lab):
    got = search(lab, "Observation", [("code", "K"), ("_include", "Observation:patient")])
    assert ids(got) == ["o5"] and ids(got, "include") == ["S0000002"]
    got = search(lab, "Observation", [("code", "K"), ("_include", "Observation:subject:Patient")])
    assert ids(got, "include") == ["S0000002"]
    got = search(lab, "Patient", [("_id", "S0000001"), ("_revinclude", "Observation:patient")])
    assert ids(got) == ["S0000001"] and sorted(ids(got, "include")) == ["o1", "o2", "o3"]
    assert got["total"] == 1


def test_unknown_parameter_400_unless_lenient(lab):
    resp = lab.dispatch("GET", "Observation", [("bogus", "1")], None, {})
    assert resp.status == 400
    outcome = orjson.loads(resp.body)
    assert outcome["resourceType"] == "OperationOutcome" and "bogus" in outcome["issue"][0]["diagnostics"]
    got = search(lab, "Observation", [("bogus", "1"), ("code", "K")],
                 headers={"Prefer": "handling=lenient"})
    assert ids(got) == ["o5"]
    assert lab.dispatch("GET", "Observation", [("code:text", "x")], None, {}).status == 400
    assert lab.dispatch("GET", "Observation", [("_count", "x")], None, {}).status == 400
    assert lab.dispatch("GET", "Observation", [("_sort", "nope")], None, {}).status == 400


def test_post_search_form_body(lab):
    resp = lab.dispatch("POST", "Observation/_search", [("_count", "10")],
                        b"patient=S0000002&code=MG", {"content-type": "application/x-www-form-urlencoded"})
    assert resp.status == 200
    assert ids(orjson.loads(resp.body)) == ["o4"]


def test_paging_is_stable_and_complete(service):
    put(service, patient("S1"))
    for i in range(23):
        put(service, {**observation("S1", "MG", "19123-9", 1.0 + i / 10,
                                    f"2023-01-{1 + i % 5:02d}T00:00:00Z"), "id": f"x{i:02d}"})
    single = ids(search(service, "Observation", [("_sort", "date"), ("_count", "100")]))
    seen: list[str] = []
    page = search(service, "Observation", [("_sort", "date"), ("_count", "5")])
    urls = []
    while True:
        seen += ids(page)
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not nxt:
            break
        urls.append(nxt[0])
        query = nxt[0].split("?", 1)[1]
        page = search(service, "Observation", parse_qsl(query))
    assert seen == single and len(seen) == 23 and len(urls) == 4
    # following the same link again gives the same page; previous goes back
    again = search(service, "Observation", parse_qsl(urls[1].split("?", 1)[1]))
    assert ids(again) == single[10:15]
    prev = [link["url"] for link in again["link"] if link["relation"] == "previous"][0]
    assert ids(search(service, "Observation", parse_qsl(prev.split("?", 1)[1]))) == single[5:10]
    assert again["total"] == 23


def test_search_reads_stored_bytes(lab, service):  # noqa: ARG001 - lab seeds the store
    """The entry resource is exactly the stored JSON (also what a read returns)."""
    got = service.dispatch("GET", "Observation", [("_id", "o1")], None, {})
    read = service.dispatch("GET", "Observation/o1", [], None, {})
    assert read.body in got.body
    assert orjson.loads(read.body)["valueQuantity"]["value"] == 1.5


def test_parameters_of_other_clinical_types(service):
    put(service, patient("S0000001"))
    subject = {"reference": "Patient/S0000001"}
    cc = {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}
    resources = [
        {"resourceType": "Condition", "id": "c1", "subject": subject, "code": cc,
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                        "condition-clinical", "code": "active"}]},
         "category": [{"coding": [{"code": "problem-list-item"}]}],
         "onsetDateTime": "2019-04-01"},
        {"resourceType": "MedicationRequest", "id": "m1", "subject": subject, "status": "active",
         "intent": "order", "authoredOn": "2023-11-13T10:15:00+00:00",
         "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc",
                                                   "code": "0338-1715-40"}]}},
        {"resourceType": "ServiceRequest", "id": "r1", "subject": subject, "status": "active",
         "intent": "order", "code": cc, "authoredOn": "2023-11-13T10:15:00+00:00"},
        {"resourceType": "Procedure", "id": "p1", "subject": subject, "status": "completed",
         "code": cc, "performedPeriod": {"start": "2020-01-01T08:00:00Z",
                                         "end": "2020-01-03T08:00:00Z"}},
        {"resourceType": "Encounter", "id": "e1", "subject": subject, "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "period": {"start": "2023-06-01T09:00:00Z", "end": "2023-06-01T10:00:00Z"}},
    ]
    for res in resources:
        assert put(service, res).status == 201
    cases = [
        ("Condition", [("patient", "S0000001"), ("clinical-status", "active"),
                       ("onset-date", "2019-04"), ("code", "http://snomed.info/sct|44054006"),
                       ("category", "problem-list-item")], ["c1"]),
        ("Condition", [("onset-date", "gt2019-04-01")], []),
        ("MedicationRequest", [("patient", "S0000001"), ("intent", "order"), ("status", "active"),
                               ("authoredon", "2023-11-13"), ("code", "0338-1715-40")], ["m1"]),
        ("ServiceRequest", [("authored", "ge2023-11-13T10:00:00Z"), ("intent", "order"),
                            ("status", "active"), ("code", "44054006")], ["r1"]),
        ("Procedure", [("date", "2020-01"), ("code", "44054006")], ["p1"]),
        # eq: the search range must contain the whole period (two days here)
        ("Procedure", [("date", "2020-01-02")], []),
        ("Procedure", [("date", "ge2020-01-02"), ("date", "le2020-01-02")], ["p1"]),
        ("Procedure", [("date", "ap2020-01-02")], ["p1"]),
        ("Encounter", [("patient", "S0000001"), ("class", "AMB"), ("date", "2023-06-01")], ["e1"]),
        ("Encounter", [("date", "lt2023-01-01")], []),
    ]
    for rtype, params, expected in cases:
        assert ids(search(service, rtype, params)) == expected, (rtype, params)
