"""Sessions: isolation, write log, discard; batch and transaction Bundles."""

from __future__ import annotations

import orjson

from ._data import body, count_rows, ids, observation, patient, post, put, search


def _log(service, sid):
    return service.session_log(sid)


def test_session_sees_baseline_plus_own_writes_only(service):
    put(service, patient("S0000001"))
    put(service, patient("S0000002", family="Jones"))
    a, b = service.create_session(), service.create_session()
    # a: updates S0000001, deletes S0000002, creates an Observation
    changed = {**patient("S0000001"), "gender": "female"}
    assert put(service, changed, a).status == 200
    assert service.dispatch("DELETE", "Patient/S0000002", [], None, {}, a).status == 200
    created = post(service, observation("S0000001", "MG", "19123-9", 1.2, "2023-11-13T09:00:00Z"), a)
    assert created.status == 201
    oid = orjson.loads(created.body)["id"]

    def view(session):
        read1 = orjson.loads(service.dispatch("GET", "Patient/S0000001", [], None, {}, session).body)
        status2 = service.dispatch("GET", "Patient/S0000002", [], None, {}, session).status
        status_obs = service.dispatch("GET", f"Observation/{oid}", [], None, {}, session).status
        found = ids(search(service, "Patient", [("gender", "female")], session))
        obs = ids(search(service, "Observation", [("patient", "S0000001")], session))
        return read1["gender"], status2, status_obs, found, obs

    assert view(a) == ("female", 410, 200, ["S0000001"], [oid])
    for other in (None, b):
        assert view(other) == ("male", 200, 404, [], [])
    assert search(service, "Patient", [], a)["total"] == 1
    assert search(service, "Patient", [], b)["total"] == 2
    # version numbers continue from the baseline inside the session
    assert orjson.loads(service.dispatch("GET", "Patient/S0000001", [], None, {}, a).body)[
        "meta"]["versionId"] == "2"
    history = orjson.loads(service.dispatch("GET", "Patient/S0000001/_history", [], None, {}, a).body)
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"2"', 'W/"1"']

    log = _log(service, a)
    assert [(e["seq"], e["interaction"], e["method"], e["url"], e["status"]) for e in log] == [
        (1, "update", "PUT", "Patient/S0000001", 200),
        (2, "delete", "DELETE", "Patient/S0000002", 200),
        (3, "create", "POST", "Observation", 201),
    ]
    assert log[0]["resource"]["gender"] == "female" and log[1]["resource"] is None
    assert log[2]["id"] == oid and log[2]["versionId"] == "1" and log[2]["resourceType"] == "Observation"
    assert _log(service, b) == []

    before = count_rows(service.store)
    service.delete_session(a)
    assert count_rows(service.store) == before - 3
    gone = service.dispatch("GET", "Patient/S0000001", [], None, {}, a)
    assert gone.status == 404 and b"Unknown session" in gone.body


def test_session_http_endpoints(asgi_client):
    made = asgi_client.post("/sessions")
    assert made.status_code == 201
    sid, base = made.json()["id"], made.json()["base_url"]
    assert base == f"http://testserver/sessions/{sid}/fhir"
    pat = patient("S0000009")
    resp = asgi_client.put(f"/sessions/{sid}/fhir/Patient/S0000009", content=body(pat))
    assert resp.status_code == 201
    assert resp.headers["location"].startswith(f"http://testserver/sessions/{sid}/fhir/Patient/")
    assert asgi_client.get("/fhir/Patient/S0000009").status_code == 404
    assert asgi_client.get(f"/sessions/{sid}/fhir/Patient/S0000009").status_code == 200
    log = asgi_client.get(f"/sessions/{sid}/log").json()
    assert len(log) == 1 and log[0]["resource"]["id"] == "S0000009"
    assert asgi_client.delete(f"/sessions/{sid}").status_code == 204
    for method, url in (("GET", f"/sessions/{sid}/log"), ("DELETE", f"/sessions/{sid}"),
                        ("GET", f"/sessions/{sid}/fhir/Patient/S0000009"),
                        ("GET", "/sessions/nope/fhir/metadata")):
        resp = asgi_client.request(method, url)
        assert resp.status_code == 404 and resp.json()["resourceType"] == "OperationOutcome"


def _txn(kind, entries):
    return body({"resourceType": "Bundle", "type": kind, "entry": entries})


def test_transaction_resolves_urn_uuid_and_logs_each_entry(service):
    sid = service.create_session()
    entries = [
        {"fullUrl": "urn:uuid:obs-1", "request": {"method": "POST", "url": "Observation"},
         "resource": {**observation("x", "MG", "19123-9", 1.1, "2023-11-13T08:00:00Z"),
                      "subject": {"reference": "urn:uuid:pat-1"}}},
        {"fullUrl": "urn:uuid:pat-1", "request": {"method": "POST", "url": "Patient"},
         "resource": {k: v for k, v in patient("S3333333").items() if k != "id"}},
        {"request": {"method": "PUT", "url": "Patient/S4444444"}, "resource": patient("S4444444")},
    ]
    resp = service.dispatch("POST", "", [], _txn("transaction", entries), {}, sid)
    assert resp.status == 200, resp.body
    out = orjson.loads(resp.body)
    assert out["type"] == "transaction-response"
    assert [e["response"]["status"] for e in out["entry"]] == ["201 Created"] * 3
    obs, pat = out["entry"][0]["resource"], out["entry"][1]["resource"]
    assert obs["subject"]["reference"] == f"Patient/{pat['id']}"
    assert ids(search(service, "Observation", [("patient", pat["id"])], sid)) == [obs["id"]]
    log = service.session_log(sid)
    assert [(e["interaction"], e["url"]) for e in log] == [
        ("create", "Observation"), ("create", "Patient"), ("update", "Patient/S4444444")]
    assert search(service, "Patient", [])["total"] == 0  # nothing leaked to the baseline


def test_transaction_is_all_or_nothing(service):
    put(service, patient("S5555555"))
    sid = service.create_session()
    before = count_rows(service.store)
    entries = [
        {"request": {"method": "POST", "url": "Patient"}, "resource": patient("S6666666")},
        {"request": {"method": "PUT", "url": "Patient/S5555555"},
         "resource": {**patient("S5555555"), "gender": "female"}},
        {"request": {"method": "POST", "url": "Observation"},
         "resource": {"resourceType": "Observation", "code": {"text": "no status"}}},
    ]
    resp = service.dispatch("POST", "", [], _txn("transaction", entries), {}, sid)
    assert resp.status == 400
    outcome = orjson.loads(resp.body)
    assert "Bundle.entry[2]" in outcome["issue"][0]["diagnostics"]
    assert count_rows(service.store) == before
    assert service.session_log(sid) == []
    assert orjson.loads(service.dispatch("GET", "Patient/S5555555", [], None, {}, sid).body)[
        "gender"] == "male"


def test_batch_runs_entries_independently(service):
    entries = [
        {"request": {"method": "PUT", "url": "Patient/S7777777"}, "resource": patient("S7777777")},
        {"request": {"method": "GET", "url": "Patient/missing"}},
        {"request": {"method": "GET", "url": "Patient?_id=S7777777"}},
        {"request": {"method": "POST", "url": "Patient"}, "resource": {"resourceType": "Nope"}},
    ]
    resp = service.dispatch("POST", "", [], _txn("batch", entries), {})
    assert resp.status == 200
    out = orjson.loads(resp.body)
    statuses = [e["response"]["status"] for e in out["entry"]]
    assert statuses == ["201 Created", "404 Not Found", "200 OK", "400 Bad Request"]
    assert out["entry"][2]["resource"]["total"] == 1
    assert out["entry"][3]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert count_rows(service.store) == 1
    bad = service.dispatch("POST", "", [], body({"resourceType": "Bundle", "type": "collection"}), {})
    assert bad.status == 400


def test_transaction_conditional_create_reuses_the_match(service):
    put(service, patient("S8888888"))
    entries = [
        {"fullUrl": "urn:uuid:p", "request": {"method": "POST", "url": "Patient",
                                              "ifNoneExist": "identifier=urn:medagent:mrn|S8888888"},
         "resource": {k: v for k, v in patient("S8888888").items() if k != "id"}},
        {"request": {"method": "POST", "url": "Observation"},
         "resource": {**observation("x", "K", "2823-3", 4.0, "2023-11-13T08:00:00Z"),
                      "subject": {"reference": "urn:uuid:p"}}},
    ]
    resp = service.dispatch("POST", "", [], _txn("transaction", entries), {})
    assert resp.status == 200, resp.body
    out = orjson.loads(resp.body)
    assert [e["response"]["status"] for e in out["entry"]] == ["200 OK", "201 Created"]
    assert out["entry"][1]["resource"]["subject"]["reference"] == "Patient/S8888888"
    assert search(service, "Patient", [])["total"] == 1


# --- GET /sessions/{id}/log is paged (at most max_log_entries and max_reply_bytes a page) ---


def _session_with_writes(server, n: int) -> tuple[str, str]:
    import httpx

    sid = httpx.post(f"{server.root_url}/sessions").json()["id"]
    for i in range(n):
        reply = httpx.put(f"{server.root_url}/sessions/{sid}/fhir/Patient/S00009{i:02d}",
                          json=patient(f"S00009{i:02d}", family="Pager" * 20))
        assert reply.status_code == 201
    return sid, f"{server.root_url}/sessions/{sid}/log"


def _pages(url: str, **params) -> list[tuple[list[int], str | None]]:
    import httpx

    out = []
    while url:
        reply = httpx.get(url, params=params or None)  # (an empty dict would drop the link's query)
        assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
        url = reply.links.get("next", {}).get("url")
        out.append(([e["seq"] for e in reply.json()], url))
        params = {}
        assert len(out) < 20
    return out


def test_session_log_over_http_is_paged_by_count(running_server):
    server = running_server(max_log_entries=3)
    sid, url = _session_with_writes(server, 7)
    pages = _pages(url)
    assert [seqs for seqs, _ in pages] == [[1, 2, 3], [4, 5, 6], [7]]
    assert pages[0][1] == f"{url}?since=3" and pages[-1][1] is None
    # a smaller _count is kept in the next link; a larger one is clamped to the server's cap
    assert [seqs for seqs, _ in _pages(url, _count=2)] == [[1, 2], [3, 4], [5, 6], [7]]
    assert [seqs for seqs, _ in _pages(url, _count=500)] == [[1, 2, 3], [4, 5, 6], [7]]
    assert [seqs for seqs, _ in _pages(url, since=5)] == [[6, 7]]
    assert [seqs for seqs, _ in _pages(url, since=7)] == [[]]


def test_session_log_over_http_is_paged_by_size(running_server):
    import httpx

    server = running_server(max_reply_bytes=4000)
    sid, url = _session_with_writes(server, 9)
    sizes = [len(httpx.get(url, params={"since": s, "_count": 1}).content) for s in range(9)]
    assert max(sizes) < 4000 < sum(sizes)  # one entry fits a page, all of them do not
    pages = _pages(url)
    assert len(pages) > 1 and [s for seqs, _ in pages for s in seqs] == list(range(1, 10))
    for seqs, _ in pages:
        assert len(httpx.get(url, params={"since": seqs[0] - 1, "_count": len(seqs)}).content) <= 4000


def test_session_log_bad_paging_parameters_are_400(running_server):
    import httpx

    server = running_server()
    sid, url = _session_with_writes(server, 1)
    for params in ({"since": "abc"}, {"since": "-1"}, {"_count": "0"}, {"_count": "1e9"},
                   {"since": ["1", "2"]}, {"_offset": "3"}):
        reply = httpx.get(url, params=params)
        assert reply.status_code == 400, params
        assert reply.json()["resourceType"] == "OperationOutcome"
    assert httpx.get(f"{server.root_url}/sessions/nope/log", params={"since": "1"}).status_code == 404
