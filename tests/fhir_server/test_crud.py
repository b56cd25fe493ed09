"""Create/read/vread/update/delete/history and bad input, through the ASGI app."""

from __future__ import annotations

import orjson
import pytest

from ._data import count_rows, observation, patient

FHIR_JSON = {"content-type": "application/fhir+json"}


def _post(client, resource, **headers):
    return client.post(f"/fhir/{resource['resourceType']}", content=orjson.dumps(resource),
                       headers={**FHIR_JSON, **headers})


def test_create_read_vread_update_delete_history(asgi_client):
    c = asgi_client
    assert c.put("/fhir/Patient/S1", content=orjson.dumps(patient("S1")), headers=FHIR_JSON).status_code == 201
    obs = observation("S1", "MG", "19123-9", 1.50, "2023-11-13T10:15:00.000+00:00")
    created = _post(c, obs)
    assert created.status_code == 201
    assert created.headers["etag"] == 'W/"1"'
    assert created.headers["content-type"].startswith("application/fhir+json")
    res = created.json()
    oid = res["id"]
    assert created.headers["location"] == f"http://testserver/fhir/Observation/{oid}/_history/1"
    assert res["meta"]["versionId"] == "1" and res["meta"]["lastUpdated"]
    # the client's JSON is stored as sent (the date-time keeps its spelling)
    assert res["effectiveDateTime"] == "2023-11-13T10:15:00.000+00:00"
    read = c.get(f"/fhir/Observation/{oid}", params={"_format": "json"})
    assert read.status_code == 200 and read.json() == res
    assert read.headers["etag"] == 'W/"1"' and "last-modified" in read.headers

    res["status"] = "amended"
    updated = c.put(f"/fhir/Observation/{oid}", content=orjson.dumps(res), headers=FHIR_JSON)
    assert updated.status_code == 200 and updated.json()["meta"]["versionId"] == "2"
    assert c.get(f"/fhir/Observation/{oid}/_history/1").json()["status"] == "final"
    assert c.get(f"/fhir/Observation/{oid}/_history/2").json()["status"] == "amended"
    assert c.get(f"/fhir/Observation/{oid}/_history/9").status_code == 404

    conflict = c.put(f"/fhir/Observation/{oid}", content=orjson.dumps(res),
                     headers={**FHIR_JSON, "If-Match": 'W/"1"'})
    assert conflict.status_code == 412
    assert conflict.json()["resourceType"] == "OperationOutcome"
    ok = c.put(f"/fhir/Observation/{oid}", content=orjson.dumps(res),
               headers={**FHIR_JSON, "If-Match": 'W/"2"'})
    assert ok.status_code == 200 and ok.headers["etag"] == 'W/"3"'

    assert c.delete(f"/fhir/Observation/{oid}").status_code == 200
    gone = c.get(f"/fhir/Observation/{oid}")
    assert gone.status_code == 410 and gone.json()["resourceType"] == "OperationOutcome"
    history = c.get(f"/fhir/Observation/{oid}/_history").json()
    assert history["type"] == "history" and history["total"] == 4
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "PUT", "PUT", "POST"]
    assert c.get(f"/fhir/Observation/{oid}/_history/4").status_code == 410
    missing = c.get("/fhir/Observation/nope")
    assert missing.status_code == 404 and missing.json()["issue"][0]["code"] == "not-found"


def test_create_on_update_and_conditional_create(asgi_client):
    c = asgi_client
    pat = patient("S7654321")
    first = c.put("/fhir/Patient/S7654321", content=orjson.dumps(pat), headers=FHIR_JSON)
    assert first.status_code == 201 and first.headers["etag"] == 'W/"1"'
    cond = {"If-None-Exist": "identifier=urn:medagent:mrn|S7654321"}
    again = _post(c, {k: v for k, v in pat.items() if k != "id"}, **cond)
    assert again.status_code == 200 and again.json()["id"] == "S7654321"
    fresh = _post(c, patient("S1111111"), **{"If-None-Exist": "identifier=urn:medagent:mrn|S1111111"})
    assert fresh.status_code == 201 and fresh.json()["id"] != "S1111111"  # server assigns ids
    search = c.get("/fhir/Patient", params={"identifier": "S1111111"}).json()
    assert search["total"] == 1


def test_metadata_lists_supported_interactions(asgi_client):
    cap = asgi_client.get("/fhir/metadata").json()
    assert cap["resourceType"] == "CapabilityStatement" and cap["fhirVersion"] == "4.0.1"
    by_type = {r["type"]: r for r in cap["rest"][0]["resource"]}
    obs_params = {p["name"] for p in by_type["Observation"]["searchParam"]}
    assert {"patient", "code", "date", "value-quantity"} <= obs_params
    assert {"_id", "_sort", "_count"} <= {p["name"] for p in cap["rest"][0]["searchParam"]}
    pat_params = {p["name"] for p in by_type["Patient"]["searchParam"]}
    assert {"name", "family", "given", "birthdate", "identifier", "address-postalcode"} <= pat_params
    assert {"code": "transaction"} in cap["rest"][0]["interaction"]
    assert {i["code"] for i in by_type["Patient"]["interaction"]} >= {"read", "vread", "create",
                                                                      "update", "delete"}


def test_format_values(asgi_client):
    for value in ("json", "application/fhir+json", "application/json"):
        assert asgi_client.get("/fhir/metadata", params={"_format": value}).status_code == 200
    assert asgi_client.get("/fhir/metadata", params={"_format": "xml"}).status_code == 406


BAD = [
    ("invalid JSON", "POST", "/fhir/Observation", b'{"resourceType": "Observation", ', 400, None),
    ("not an object", "POST", "/fhir/Observation", b'[1, 2]', 400, None),
    ("empty body", "POST", "/fhir/Observation", b"", 400, None),
    ("type mismatch", "POST", "/fhir/Observation", orjson.dumps(patient("S1")), 400,
     "resourceType"),
    ("invalid element", "POST", "/fhir/Observation",
     orjson.dumps({"resourceType": "Observation", "status": "final", "code": {"text": 5}}), 400,
     "Observation.code.text"),
    ("unknown element", "POST", "/fhir/Patient",
     orjson.dumps({"resourceType": "Patient", "nickname": "x"}), 400, "Patient.nickname"),
    ("missing required", "POST", "/fhir/Observation",
     orjson.dumps({"resourceType": "Observation", "code": {"text": "x"}}), 400, "Observation.status"),
    ("bad list index", "POST", "/fhir/Patient",
     orjson.dumps({"resourceType": "Patient", "name": [{"family": "A"}, {"given": "B"}]}), 400,
     "Patient.name[1].given"),
    ("id mismatch", "PUT", "/fhir/Patient/S2", orjson.dumps(patient("S3")), 400, "Patient.id"),
    ("id missing", "PUT", "/fhir/Patient/S2",
     orjson.dumps({k: v for k, v in patient("S2").items() if k != "id"}), 400, "Patient.id"),
    ("unknown type", "POST", "/fhir/Foo", b'{"resourceType": "Foo"}', 404, None),
    ("bad id", "PUT", "/fhir/Patient/a$b", orjson.dumps(patient("a$b")), 400, None),
    ("bad meta", "POST", "/fhir/Patient", orjson.dumps({"resourceType": "Patient", "meta": 3}), 400,
     "Patient.meta"),
]


@pytest.mark.parametrize(("name", "method", "url", "content", "status", "expression"), BAD,
                         ids=[b[0] for b in BAD])
def test_bad_input_is_refused_and_nothing_stored(asgi_client, empty_store, name, method, url,
                                                 content, status, expression):
    resp = asgi_client.request(method, url, content=content, headers=FHIR_JSON)
    assert resp.status_code == status
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["severity"] == "error" and issue["diagnostics"]
    if expression:
        assert any(e.startswith(expression) for e in issue["expression"]), issue
    assert count_rows(empty_store) == 0


def test_body_over_limit_413(empty_store, server_settings):
    from fastapi.testclient import TestClient

    from medagent.fhir_server import create_app

    app = create_app(server_settings.model_copy(update={"max_body_bytes": 200}), empty_store)
    with TestClient(app) as client:
        big = patient("S1", family="X" * 500)
        resp = client.put("/fhir/Patient/S1", content=orjson.dumps(big), headers=FHIR_JSON)
        assert resp.status_code == 413 and resp.json()["resourceType"] == "OperationOutcome"
        ok = client.put("/fhir/Patient/S1", content=orjson.dumps({"resourceType": "Patient",
                                                                   "id": "S1"}), headers=FHIR_JSON)
        assert ok.status_code == 201
    assert count_rows(empty_store) == 1


def test_token_required_when_configured(empty_store, server_settings):
    from fastapi.testclient import TestClient

    from medagent.fhir_server import create_app

    app = create_app(server_settings.model_copy(update={"token": "s3cret"}), empty_store)
    with TestClient(app) as client:
        for method, url in (("GET", "/fhir/metadata"), ("GET", "/fhir/Patient"),
                            ("POST", "/sessions")):
            resp = client.request(method, url)
            assert resp.status_code == 401 and resp.json()["resourceType"] == "OperationOutcome"
        wrong = client.get("/fhir/metadata", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        good = client.get("/fhir/metadata", headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200


def test_dispatch_and_http_give_identical_bytes(asgi_client, service):
    pat = patient("S2222222")
    asgi_client.put("/fhir/Patient/S2222222", content=orjson.dumps(pat), headers=FHIR_JSON)
    via_http = asgi_client.get("/fhir/Patient/S2222222")
    in_process = service.dispatch("GET", "Patient/S2222222", [], None, {})
    assert via_http.content == in_process.body
    assert via_http.headers["etag"] == in_process.headers["etag"]


def test_server_replies_are_valid_r4b_resources(asgi_client):
    """CapabilityStatement, searchset/history/transaction Bundles, OperationOutcome."""
    from medagent.fhir_server.validation import validate_resource

    c = asgi_client
    c.put("/fhir/Patient/S0000001", content=orjson.dumps(patient("S0000001")), headers=FHIR_JSON)
    c.put("/fhir/Patient/S0000001", content=orjson.dumps(patient("S0000001", "Doe")),
          headers=FHIR_JSON)
    txn = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Patient"}, "resource": patient("S2")}]}
    replies = [
        c.get("/fhir/metadata"),
        c.get("/fhir/Patient", params={"_count": "1", "_revinclude": "Observation:patient"}),
        c.get("/fhir/Patient/S0000001/_history"),
        c.post("/fhir", content=orjson.dumps(txn), headers=FHIR_JSON),
        c.get("/fhir/Patient/unknown"),
    ]
    for resp in replies:
        validate_resource(resp.json())  # raises FhirError if R4B rejects it


@pytest.mark.parametrize(("resource", "path"), [
    ({**observation("S1", "MG", "19123-9", 1.5, "2023-11-13T10:15:00+00:00"), "status": "done"},
     "Observation.status"),
    ({"resourceType": "Patient", "gender": "femal"}, "Patient.gender"),
    ({"resourceType": "MedicationRequest", "status": "active", "intent": "orderr",
      "subject": {"reference": "Patient/S1"}, "medicationCodeableConcept": {"text": "KCl"}},
     "MedicationRequest.intent"),
])
def test_codes_outside_a_required_value_set_are_refused(asgi_client, empty_store, resource, path):
    before = count_rows(empty_store)
    reply = _post(asgi_client, resource)
    assert reply.status_code == 400
    issue = reply.json()["issue"][0]
    assert issue["code"] == "code-invalid" and issue["expression"] == [path]
    assert count_rows(empty_store) == before


def test_codes_the_models_leave_open_are_checked_against_the_full_value_set(asgi_client):
    # R4B's model lists only registered|preliminary|final|amended "+"; R4 also allows these.
    asgi_client.put("/fhir/Patient/S1", content=orjson.dumps(patient("S1")), headers=FHIR_JSON)
    for status in ("corrected", "cancelled", "entered-in-error", "unknown"):
        obs = {**observation("S1", "MG", "19123-9", 1.5, "2023-11-13T10:15:00+00:00"), "status": status}
        assert _post(asgi_client, obs).status_code == 201, status
