"""FHIR conformance over a real socket (issue 12, "Conformance" 1-6): JSON Patch, conditional
create in batches, ``_count=0``, reference modifiers, the CapabilityStatement, formats,
``Prefer: return``, ``_elements``, unsupported paths and ids."""

from __future__ import annotations

import base64
import http.client
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from ._data import MRN_SYSTEM, observation, patient

PATCH = {"content-type": "application/json-patch+json"}


def _put(server, resource: dict, base: str | None = None) -> httpx.Response:
    url = f"{base or server.base_url}/{resource['resourceType']}/{resource['id']}"
    resp = httpx.put(url, json=resource)
    assert resp.status_code in (200, 201), resp.text
    return resp


def _bundle(kind: str, entries: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def _binary_patch(operations: list) -> dict:
    return {"resourceType": "Binary", "contentType": "application/json-patch+json",
            "data": base64.b64encode(orjson.dumps(operations)).decode()}


# -- 1. JSON Patch ------------------------------------------------------------------------
def test_json_patch_on_an_instance_changes_it_and_is_validated(running_server):
    server = running_server()
    _put(server, patient("S0000001"))
    url = f"{server.base_url}/Patient/S0000001"
    ops = [{"op": "test", "path": "/gender", "value": "male"},
           {"op": "replace", "path": "/gender", "value": "female"},
           {"op": "add", "path": "/name/0/given/-", "value": "Ada"},
           {"op": "remove", "path": "/telecom"}]
    resp = httpx.patch(url, content=orjson.dumps(ops), headers=PATCH)
    assert resp.status_code == 200, resp.text
    assert resp.headers["etag"] == 'W/"2"' and resp.json()["gender"] == "female"
    stored = httpx.get(url).json()
    assert stored["gender"] == "female" and stored["name"][0]["given"] == ["John", "Ada"]
    assert "telecom" not in stored and stored["meta"]["versionId"] == "2"

    refused = [
        ([{"op": "test", "path": "/gender", "value": "male"}], PATCH, 422),  # test fails
        ([{"op": "replace", "path": "/deceasedBoolean", "value": True}], PATCH, 422),  # missing
        ([{"op": "replace", "path": "/gender", "value": "robot"}], PATCH, 400),  # invalid result
        ([{"op": "replace", "path": "/id", "value": "S9"}], PATCH, 422),
        ({"op": "replace"}, PATCH, 400),  # not a list
        ([{"op": "replace", "path": "/gender", "value": "male"}],
         {"content-type": "application/fhir+json"}, 415),  # FHIRPath/JSON merge: not JSON Patch
    ]
    for ops, headers, status in refused:
        resp = httpx.patch(url, content=orjson.dumps(ops), headers=headers)
        assert resp.status_code == status, (ops, resp.text)
        assert resp.json()["resourceType"] == "OperationOutcome"
    assert httpx.get(url).json()["meta"]["versionId"] == "2"  # none of them stored anything
    stale = httpx.patch(url, content=orjson.dumps([{"op": "remove", "path": "/address"}]),
                        headers={**PATCH, "if-match": 'W/"1"'})
    assert stale.status_code == 412
    assert httpx.patch(f"{server.base_url}/Patient/S0000404", content=b"[]",
                       headers=PATCH).status_code == 404


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_json_patch_in_a_bundle_really_writes(running_server, kind):
    server = running_server()
    sid = httpx.post(f"{server.root_url}/sessions").json()["id"]
    base = f"{server.root_url}/sessions/{sid}/fhir"
    _put(server, patient("S0000002"), base)
    entry = {"request": {"method": "PATCH", "url": "Patient/S0000002"},
             "resource": _binary_patch([{"op": "replace", "path": "/gender", "value": "female"}])}
    resp = httpx.post(base, json=_bundle(kind, [entry]))
    assert resp.status_code == 200, resp.text
    assert resp.json()["entry"][0]["response"]["status"] == "200 OK"
    assert httpx.get(f"{base}/Patient/S0000002").json()["gender"] == "female"
    log = httpx.get(f"{server.root_url}/sessions/{sid}/log").json()
    assert [(e["interaction"], e["method"], e["versionId"]) for e in log][-1] == (
        "patch", "PATCH", "2")
    assert log[-1]["resource"]["gender"] == "female"
    bad = {"request": {"method": "PATCH", "url": "Patient/S0000002"},
           "resource": {"resourceType": "Parameters"}}  # FHIRPath Patch: refused, not ignored
    resp = httpx.post(base, json=_bundle(kind, [bad]))
    if kind == "transaction":
        assert resp.status_code == 400
    else:
        assert resp.json()["entry"][0]["response"]["status"].startswith("400")
    assert httpx.get(f"{base}/Patient/S0000002").json()["meta"]["versionId"] == "2"


# -- 2. conditional create in a batch; non-string ifNoneExist/ifMatch ------------------------
def test_batch_honours_if_none_exist(running_server):
    server = running_server()
    new = {k: v for k, v in patient("S0000003").items() if k != "id"}
    entry = {"request": {"method": "POST", "url": "Patient",
                         "ifNoneExist": f"identifier={MRN_SYSTEM}|S0000003"}, "resource": new}
    for expected in ("201 Created", "200 OK"):
        resp = httpx.post(server.base_url, json=_bundle("batch", [entry]))
        assert resp.status_code == 200, resp.text
        assert resp.json()["entry"][0]["response"]["status"] == expected
    found = httpx.get(f"{server.base_url}/Patient", params={"identifier": "S0000003"}).json()
    assert found["total"] == 1


@pytest.mark.parametrize("key,value", [("ifNoneExist", {"identifier": "x"}), ("ifNoneExist", 7),
                                       ("ifMatch", 1), ("ifMatch", ["W/\"1\""])])
def test_non_string_conditions_are_400(running_server, key, value):
    server = running_server()
    _put(server, patient("S0000004"))
    method, url = ("POST", "Patient") if key == "ifNoneExist" else ("PUT", "Patient/S0000004")
    entry = {"request": {"method": method, "url": url, key: value}, "resource": patient("S0000004")}
    txn = httpx.post(server.base_url, json=_bundle("transaction", [entry]))
    assert txn.status_code == 400 and key in txn.json()["issue"][0]["diagnostics"]
    batch = httpx.post(server.base_url, json=_bundle("batch", [entry]))
    assert batch.status_code == 200
    assert batch.json()["entry"][0]["response"]["status"] == "400 Bad Request"


# -- 3. _count=0 ----------------------------------------------------------------------------
def test_count_zero_is_a_count_without_next(running_server):
    server = running_server()
    for i in range(3):
        _put(server, patient(f"S000001{i}"))
    got = httpx.get(f"{server.base_url}/Patient", params={"_count": "0"}).json()
    assert got["total"] == 3 and "entry" not in got
    assert [link["relation"] for link in got["link"]] == ["self"]

    from fhirpy import SyncFHIRClient  # a client that follows next links to the end

    client = SyncFHIRClient(server.base_url)
    assert client.resources("Patient").search(_count=0).count() == 3


# -- 4. reference modifiers and chains ----------------------------------------------------
@pytest.mark.parametrize("name,value", [
    ("subject:Spaceship", "S0000020"), ("subject:Patient.name", "Smith"),
    ("subject.name", "Smith"), ("patient:Practitioner", "S0000020"),
    ("patient:Patient.name", "Smith"),
])
def test_unknown_reference_modifiers_and_chains_are_400(running_server, name, value):
    server = running_server()
    resp = httpx.get(f"{server.base_url}/Observation", params={name: value})
    assert resp.status_code == 400, resp.text
    assert resp.json()["issue"][0]["code"] == "invalid"


def test_known_reference_type_modifier_still_matches(running_server):
    server = running_server()
    _put(server, patient("S0000021"))
    httpx.post(f"{server.base_url}/Observation",
               json=observation("S0000021", "K", "2823-3", 4.0, "2023-11-13T08:00:00Z"))
    for name in ("subject:Patient", "patient:Patient", "subject"):
        got = httpx.get(f"{server.base_url}/Observation", params={name: "S0000021"}).json()
        assert got["total"] == 1, name


# -- 5. the CapabilityStatement tells the truth -------------------------------------------
def test_capability_statement_is_true(running_server):
    server = running_server()
    cap = httpx.get(f"{server.base_url}/metadata").json()
    assert cap["fhirVersion"] == "4.0.1" and cap["patchFormat"] == ["application/json-patch+json"]
    rest = cap["rest"][0]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert "Resource" not in by_type  # no catch-all entry
    assert "Observation:patient" in by_type["Patient"]["searchRevInclude"]
    assert "Observation:subject" in by_type["Observation"]["searchInclude"]
    assert {i["code"] for i in by_type["Observation"]["interaction"]} == {
        "read", "vread", "update", "patch", "delete", "history-instance", "create", "search-type"}
    docs = {p["name"]: p["documentation"] for p in by_type["Patient"]["searchParam"]}
    assert ":exact" in docs["name"] and ":contains" in docs["name"] and ":missing" in docs["name"]
    assert ":not" in {p["name"]: p["documentation"] for p in
                      by_type["Observation"]["searchParam"]}["code"]
    common = {p["name"] for p in rest["searchParam"]}
    assert {"_id", "_lastUpdated", "_summary", "_elements", "_revinclude", "_count"} <= common
    assert "_elements" in rest["documentation"] and "read" in rest["documentation"]
    # every listed type is served; R4B-only and R4-only-but-not-validatable types are not
    with httpx.Client() as client:
        for rtype in by_type:
            resp = client.get(f"{server.base_url}/{rtype}", params={"_count": "0"})
            assert resp.status_code == 200, rtype
    for rtype in ("SubscriptionTopic", "MedicinalProduct", "Citation", "Resource"):
        assert rtype not in by_type
        resp = httpx.post(f"{server.base_url}/{rtype}", json={"resourceType": rtype})
        assert resp.status_code == 404, rtype
    resp = httpx.post(f"{server.base_url}/SubscriptionTopic", json={
        "resourceType": "SubscriptionTopic", "url": "http://x", "status": "active"})
    assert resp.status_code == 404


# -- 6. formats, Prefer, _elements, unsupported paths, ids --------------------------------
def test_xml_is_406_and_415(running_server):
    server = running_server()
    for accept in ("application/fhir+xml", "application/xml", "text/xml;q=1, application/json;q=0"):
        resp = httpx.get(f"{server.base_url}/metadata", headers={"accept": accept})
        assert resp.status_code == 406, accept
        assert resp.headers["content-type"].startswith("application/fhir+json")
    for accept in ("application/fhir+json", "*/*", "text/html,application/xml;q=0.9,*/*;q=0.8"):
        assert httpx.get(f"{server.base_url}/metadata",
                         headers={"accept": accept}).status_code == 200, accept
    xml = b'<Patient xmlns="http://hl7.org/fhir"><gender value="male"/></Patient>'
    resp = httpx.post(f"{server.base_url}/Patient", content=xml,
                      headers={"content-type": "application/fhir+xml"})
    assert resp.status_code == 415 and resp.json()["issue"][0]["code"] == "not-supported"
    assert httpx.get(f"{server.base_url}/Patient", params={"_count": "0"}).json()["total"] == 0


def test_prefer_return_on_writes(running_server):
    server = running_server()
    url = f"{server.base_url}/Patient/S0000030"
    minimal = httpx.put(url, json=patient("S0000030"), headers={"prefer": "return=minimal"})
    assert minimal.status_code == 201 and minimal.content == b""
    assert minimal.headers["location"].endswith("/Patient/S0000030/_history/1")
    outcome = httpx.put(url, json=patient("S0000030", family="Jones"),
                        headers={"prefer": "return=OperationOutcome"})
    assert outcome.status_code == 200
    body = outcome.json()
    assert body["resourceType"] == "OperationOutcome" and "Patient/S0000030" in str(body)
    full = httpx.post(f"{server.base_url}/Observation", headers={"prefer": "return=representation"},
                      json=observation("S0000030", "K", "2823-3", 4.0, "2023-11-13T08:00:00Z"))
    assert full.status_code == 201 and full.json()["resourceType"] == "Observation"
    patched = httpx.patch(url, content=b'[{"op":"replace","path":"/gender","value":"female"}]',
                          headers={**PATCH, "prefer": "return=minimal"})
    assert patched.status_code == 200 and patched.content == b""
    assert httpx.get(url).json()["gender"] == "female"
    entry = {"request": {"method": "PUT", "url": "Patient/S0000031"}, "resource": patient("S0000031")}
    txn = httpx.post(server.base_url, json=_bundle("transaction", [entry]),
                     headers={"prefer": "return=OperationOutcome"}).json()
    assert "resource" not in txn["entry"][0]
    assert txn["entry"][0]["response"]["outcome"]["resourceType"] == "OperationOutcome"


def test_elements_keeps_mandatory_elements(running_server):
    server = running_server()
    _put(server, patient("S0000040"))
    created = httpx.post(f"{server.base_url}/Observation",
                         json=observation("S0000040", "K", "2823-3", 4.0, "2023-11-13T08:00:00Z"))
    oid = created.json()["id"]
    read = httpx.get(f"{server.base_url}/Observation/{oid}", params={"_elements": "subject"}).json()
    assert {"status", "code", "subject", "id", "meta"} <= set(read)
    assert "valueQuantity" not in read and "effectiveDateTime" not in read
    found = httpx.get(f"{server.base_url}/Observation",
                      params={"_elements": "valueQuantity"}).json()["entry"][0]["resource"]
    assert {"status", "code", "valueQuantity"} <= set(found) and "subject" not in found


@pytest.mark.parametrize("method,path", [
    ("GET", "Patient/_history"), ("GET", "Patient/$validate"), ("POST", "Patient/$validate"),
    ("GET", "Patient/S1/$everything"), ("POST", "$export"),
])
def test_unsupported_paths_say_so(running_server, method, path):
    server = running_server()
    resp = httpx.request(method, f"{server.base_url}/{path}", json={"resourceType": "Parameters"})
    assert resp.status_code == 404
    issue = resp.json()["issue"][0]
    assert issue["code"] == "not-supported" and "not supported" in issue["diagnostics"]
    assert "Invalid resource id" not in issue["diagnostics"]


@pytest.mark.parametrize("rid", [".", ".."])
def test_dot_ids_are_refused(running_server, rid):
    server = running_server()
    parts = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:  # a raw request: httpx would normalise the dot segments away
        body = orjson.dumps({"resourceType": "Patient", "id": rid})
        conn.request("PUT", f"{parts.path}/Patient/{rid}", body=body,
                     headers={"content-type": "application/fhir+json"})
        resp = conn.getresponse()
        assert resp.status == 400, resp.read()
        assert b"Invalid resource id" in resp.read()
    finally:
        conn.close()
    entry = {"request": {"method": "PUT", "url": f"Patient/{rid}"},
             "resource": {"resourceType": "Patient", "id": rid}}
    assert httpx.post(server.base_url, json=_bundle("transaction", [entry])).status_code == 400
    assert httpx.get(f"{server.base_url}/Patient", params={"_count": "0"}).json()["total"] == 0


def test_the_readme_lists_what_the_capability_statement_declares():
    from pathlib import Path

    from medagent.fhir_server.capability import capability_statement
    from medagent.fhir_server.validation import served_types

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## The FHIR server", 1)[1].split("\n## ", 1)[0]
    cap = capability_statement(1000, 1000, False)
    assert f"the {len(served_types())} types" in section and "4.0.1" in section
    codes = {i["code"] for r in cap["rest"][0]["resource"] for i in r["interaction"]}
    codes |= {i["code"] for i in cap["rest"][0]["interaction"]}
    words = {"history-instance": "instance history", "search-type": "type search"}
    for code in codes:
        assert words.get(code, code) in section, code
    for param in cap["rest"][0]["searchParam"]:
        assert param["name"] in section, param["name"]


def test_json_patch_is_held_to_the_patient_reference_rule(running_server):
    server = running_server()
    _put(server, patient("S0000050"))
    created = httpx.post(f"{server.base_url}/Observation",
                         json=observation("S0000050", "K", "2823-3", 4.0, "2023-11-13T08:00:00Z"))
    url = f"{server.base_url}/Observation/{created.json()['id']}"
    ops = [{"op": "replace", "path": "/subject/reference", "value": "Patient/S0000404"}]
    resp = httpx.patch(url, content=orjson.dumps(ops), headers=PATCH)
    assert resp.status_code == 422 and resp.json()["issue"][0]["expression"] == ["Observation.subject"]
    entry = {"request": {"method": "PATCH", "url": f"Observation/{created.json()['id']}"},
             "resource": _binary_patch(ops)}
    txn = httpx.post(server.base_url, json=_bundle("transaction", [entry]))
    assert txn.status_code == 422
    assert httpx.get(url).json()["subject"]["reference"] == "Patient/S0000050"
