"""Referential integrity of subject/patient: a write naming a Patient the server does not
hold (baseline + session, or the same transaction) is refused with 422 and an
OperationOutcome naming the element; nothing is stored and nothing is logged."""

from __future__ import annotations

import orjson
import pytest

from ._data import body, count_rows, observation, patient, post, put

LOST = "S9999999"


def _outcome(resp) -> dict:
    return orjson.loads(resp.body)["issue"][0]


def _med(pid: str, **extra) -> dict:
    return {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "subject": {"reference": f"Patient/{pid}"},
            "medicationCodeableConcept": {"text": "potassium chloride"}, **extra}


@pytest.mark.parametrize(("resource", "element"), [
    (observation(LOST, "MG", "19123-9", 1.5, "2023-11-13T09:00:00Z"), "Observation.subject"),
    (_med(LOST), "MedicationRequest.subject"),
    ({**_med("S0000001"), "subject": {"reference": f"http://127.0.0.1:8080/fhir/Patient/{LOST}"}},
     "MedicationRequest.subject"),
    ({"resourceType": "AllergyIntolerance", "patient": {"reference": f"Patient/{LOST}"}},
     "AllergyIntolerance.patient"),
])
def test_a_write_for_a_missing_patient_is_422_naming_the_element(service, resource, element):
    put(service, patient("S0000001"))
    sid = service.create_session()
    before = count_rows(service.store)
    for resp in (post(service, resource, sid), put(service, {**resource, "id": "x1"}, sid)):
        assert resp.status == 422, resp.body
        issue = _outcome(resp)
        assert issue["code"] == "not-found" and issue["expression"] == [element]
        assert LOST in issue["diagnostics"] and element in issue["diagnostics"]
    assert count_rows(service.store) == before and service.session_log(sid) == []
    # the same write for a patient that exists is stored
    fixed = orjson.loads(body(resource).replace(LOST.encode(), b"S0000001"))
    assert post(service, fixed, sid).status == 201


def test_references_that_are_not_literal_patients_are_left_alone(service):
    for subject in ({"reference": "Group/g1"}, {"identifier": {"value": LOST}},
                    {"reference": "#p1"}, {"display": "someone"}):
        assert post(service, {**_med("x"), "subject": subject}).status == 201, subject


def test_sessions_see_their_own_patients_and_deletions(service):
    put(service, patient("S0000001"))
    a, b = service.create_session(), service.create_session()
    assert put(service, patient("S0000002"), a).status == 201
    assert post(service, _med("S0000002"), a).status == 201
    assert post(service, _med("S0000002"), b).status == 422  # not in b's view
    assert service.dispatch("DELETE", "Patient/S0000001", [], None, {}, a).status == 200
    gone = post(service, _med("S0000001"), a)
    assert gone.status == 422 and "was deleted" in _outcome(gone)["diagnostics"]
    assert post(service, _med("S0000001"), b).status == 201


def test_transactions_check_after_all_entries_and_batches_per_entry(service):
    sid = service.create_session()
    tx = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "MedicationRequest"},
         "resource": {**_med("x"), "subject": {"reference": "urn:uuid:p-new"}}},
        {"fullUrl": "urn:uuid:p-new", "request": {"method": "POST", "url": "Patient"},
         "resource": {"resourceType": "Patient"}}]}
    ok = service.dispatch("POST", "", [], body(tx), {}, sid)
    assert ok.status == 200, ok.body
    before, logged = count_rows(service.store), len(service.session_log(sid))
    bad = {**tx, "entry": [*tx["entry"], {"request": {"method": "POST", "url": "Observation"},
                                          "resource": observation(LOST, "K", "2823-3", 3.1,
                                                                  "2023-11-13T09:00:00Z")}]}
    refused = service.dispatch("POST", "", [], body(bad), {}, sid)
    assert refused.status == 422
    issue = _outcome(refused)
    assert issue["expression"] == ["Observation.subject"] and "Bundle.entry[2]" in issue["diagnostics"]
    assert count_rows(service.store) == before and len(service.session_log(sid)) == logged
    batch = {**bad, "type": "batch"}
    reply = orjson.loads(service.dispatch("POST", "", [], body(batch), {}, sid).body)
    assert [e["response"]["status"][:3] for e in reply["entry"]] == ["201", "201", "422"]


def test_over_http_the_status_is_422(asgi_client):
    resp = asgi_client.post("/fhir/Observation", content=body(observation(
        LOST, "MG", "19123-9", 1.5, "2023-11-13T09:00:00Z")),
        headers={"content-type": "application/fhir+json"})
    assert resp.status_code == 422
    assert resp.json()["issue"][0]["expression"] == ["Observation.subject"]
