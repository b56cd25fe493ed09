"""Over a real uvicorn socket: a third-party client (fhirpy), sessions under concurrency."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from ._data import observation, patient, put


def test_fhirpy_client_roundtrip(running_server):
    from fhirpy import SyncFHIRClient

    server = running_server()
    client = SyncFHIRClient(server.base_url)
    pat = client.resource("Patient", **{k: v for k, v in patient("S0000001", "Okafor").items()
                                        if k != "resourceType"})
    pat.save()  # PUT (it has an id): create-on-update
    assert pat["meta"]["versionId"] == "1"
    obs = client.resource("Observation", **{
        k: v for k, v in observation("S0000001", "K", "2823-3", 4.1, "2023-11-13T08:00:00Z",
                                     "mmol/L").items() if k != "resourceType"})
    obs.save()  # POST: the server assigns the id
    assert obs["id"] and obs["meta"]["versionId"] == "1"

    found = client.resources("Patient").search(family="okaf", birthdate="1960-05-01").fetch()
    assert [p["id"] for p in found] == ["S0000001"]
    labs = client.resources("Observation").search(patient="S0000001", code="2823-3").fetch_all()
    assert [o["id"] for o in labs] == [obs["id"]]
    assert client.resources("Observation").search(patient="S0000001").count() == 1
    fetched = client.reference("Observation", obs["id"]).to_resource()
    assert fetched["valueQuantity"]["value"] == 4.1
    obs["status"] = "amended"
    obs.save()
    assert client.reference("Observation", obs["id"]).to_resource()["meta"]["versionId"] == "2"
    obs.delete()
    assert client.resources("Observation").search(patient="S0000001").count() == 0


def test_fhirpy_pages_through_results(running_server):
    from fhirpy import SyncFHIRClient

    server = running_server()
    for i in range(12):
        httpx.put(f"{server.base_url}/Patient/S00000{i:02d}",
                  json=patient(f"S00000{i:02d}", given=f"G{i:02d}")).raise_for_status()
    client = SyncFHIRClient(server.base_url)
    got = client.resources("Patient").search(family="smith").sort("given").limit(5).fetch_all()
    assert [p["id"] for p in got] == [f"S00000{i:02d}" for i in range(12)]


def test_format_json_and_token_over_socket(running_server):
    server = running_server(token="tok")
    url = f"{server.base_url}/metadata"
    assert httpx.get(url, params={"_format": "json"}).status_code == 401
    resp = httpx.get(url, params={"_format": "json"}, headers={"Authorization": "Bearer tok"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/fhir+json")


N_SESSIONS = 32
WRITES_PER_SESSION = 6


def test_32_concurrent_sessions_no_lost_or_leaked_writes(running_server, service):
    for i in range(3):  # the shared baseline, written in-process
        assert put(service, patient(f"S000000{i}")).status == 201
    server = running_server(service.store)

    async def one(client: httpx.AsyncClient, n: int) -> tuple[str, list[str], int]:
        made = await client.post(f"{server.root_url}/sessions")
        assert made.status_code == 201
        sid, base = made.json()["id"], made.json()["base_url"]
        mine: list[str] = []
        for k in range(WRITES_PER_SESSION):
            obs = observation(f"S000000{k % 3}", "GLU", "2345-7", n * 100 + k,
                              "2023-11-13T08:00:00Z")
            resp = await client.post(f"{base}/Observation", json=obs)
            assert resp.status_code == 201, resp.text
            mine.append(resp.json()["id"])
            seen = await client.get(f"{base}/Observation", params={"code": "GLU", "_count": "100"})
            assert seen.status_code == 200
            got = sorted(e["resource"]["id"] for e in seen.json().get("entry", []))
            assert got == sorted(mine)  # exactly my own writes, never another session's
        log = (await client.get(f"{server.root_url}/sessions/{sid}/log")).json()
        return sid, mine, len(log)

    async def main():
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(one(client, n) for n in range(N_SESSIONS)))

    results = asyncio.run(main())
    assert all(n_log == WRITES_PER_SESSION for _, _, n_log in results)
    all_ids = [oid for _, mine, _ in results for oid in mine]
    assert len(set(all_ids)) == N_SESSIONS * WRITES_PER_SESSION
    for sid, mine, _ in results:
        assert [e["id"] for e in service.session_log(sid)] == mine
    baseline = httpx.get(f"{server.base_url}/Observation", params={"_summary": "count"}).json()
    assert baseline["total"] == 0


@pytest.mark.parametrize("path", ["Patient?name=x", "metadata"])
def test_http_and_dispatch_agree(running_server, path):
    server = running_server()
    via_http = httpx.get(f"{server.base_url}/{path}")
    rtype, _, query = path.partition("?")
    params = [tuple(p.split("=")) for p in query.split("&")] if query else []
    direct = server.service.dispatch("GET", rtype, params, None, {}, root=server.root_url)

    def strip(raw: bytes) -> dict:  # Bundle.id and meta.lastUpdated differ per reply
        return {k: v for k, v in orjson.loads(raw).items() if k not in ("id", "meta")}

    assert via_http.status_code == direct.status
    assert strip(via_http.content) == strip(direct.body)


def test_serve_in_thread_stops_cleanly(empty_store, server_settings):
    from medagent.fhir_server import serve_in_thread

    with serve_in_thread(server_settings, empty_store) as server:
        assert server.base_url == f"{server.root_url}/fhir"
        assert server.root_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.base_url}/metadata").status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.base_url}/metadata", timeout=2)


def test_serve_cli_settings_bind_localhost_by_default():
    from medagent.cli import build_parser
    from medagent.cli.serve import settings_from_args

    args = build_parser().parse_args(["serve", "--db", "/tmp/x.db", "--port", "9999"])
    settings = settings_from_args(args)
    assert (settings.host, settings.port, str(settings.db)) == ("127.0.0.1", 9999, "/tmp/x.db")
    assert settings.token is None and args.patients == 100 and not args.no_seed
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--token", "t", "--no-seed"])
    assert settings_from_args(args).host == "0.0.0.0" and args.no_seed
