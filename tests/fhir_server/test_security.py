"""Security over a real socket (issue 12): URLs in replies come from configuration, not from
request headers; one token rule for every route; the token need not be on the command line."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from medagent.fhir_server import ServerSettings

from ._data import patient

EVIL = {"host": "evil.example:666", "x-forwarded-proto": "javascript",
        "x-forwarded-host": "evil.example:666"}


def _urls(server, headers: dict[str, str]) -> list[str]:
    """Every absolute URL the server writes for a client sending ``headers``."""
    with httpx.Client(headers=headers) as client:
        created = client.put(f"{server.base_url}/Patient/S0000001", json=patient("S0000001"))
        client.put(f"{server.base_url}/Patient/S0000002", json=patient("S0000002"))
        found = client.get(f"{server.base_url}/Patient", params={"_count": "1"}).json()
        made = client.post(f"{server.root_url}/sessions").json()
        in_session = client.post(f"{server.root_url}/sessions/{made['id']}/fhir/Patient",
                                 json={k: v for k, v in patient("S0000003").items() if k != "id"})
        entry = {"request": {"method": "PUT", "url": "Patient/S0000004"},
                 "resource": patient("S0000004")}
        txn = client.post(server.base_url, json={"resourceType": "Bundle", "type": "transaction",
                                                 "entry": [entry]}).json()
    return [created.headers["location"], *(link["url"] for link in found["link"]),
            found["entry"][0]["fullUrl"], made["base_url"], in_session.headers["location"],
            txn["entry"][0]["fullUrl"], txn["entry"][0]["response"]["location"]]


def test_request_headers_do_not_choose_reply_urls(running_server):
    server = running_server()
    urls = _urls(server, EVIL)
    assert len(urls) == 9
    for url in urls:
        assert url.startswith(f"{server.root_url}/"), url
    assert not any("evil" in url or "javascript" in url for url in urls)


def test_a_configured_public_url_is_used(running_server, server_settings):
    settings = ServerSettings(db=server_settings.db, home=server_settings.home,
                              public_url="https://ehr.example.org/")
    server = running_server(settings=settings)
    for url in _urls(server, EVIL):
        assert url.startswith("https://ehr.example.org/"), url
    with pytest.raises(ValueError):
        ServerSettings(public_url="javascript://evil.example")


def test_forwarded_headers_only_from_trusted_proxies(running_server, server_settings):
    settings = ServerSettings(db=server_settings.db, home=server_settings.home,
                              trusted_proxies=["127.0.0.1"])
    server = running_server(settings=settings)
    proxied = {"x-forwarded-proto": "https", "x-forwarded-host": "ehr.example.org"}
    for url in _urls(server, proxied):
        assert url.startswith("https://ehr.example.org/"), url
    for url in _urls(server, EVIL):  # a trusted proxy's values are still checked
        assert url.startswith(f"{server.root_url}/"), url
    untrusted = running_server(settings=settings.model_copy(update={"trusted_proxies": ["10.0.0.1"]}))
    for url in _urls(untrusted, proxied):
        assert url.startswith(f"{untrusted.root_url}/"), url


@pytest.mark.parametrize("routes", ["fhir", "sessions"])
def test_an_empty_token_is_no_token_on_every_route(running_server, server_settings, monkeypatch,
                                                   routes):
    monkeypatch.setenv("MEDAGENT_TOKEN", "")
    settings = ServerSettings(db=server_settings.db, home=server_settings.home)
    assert settings.token is None
    server = running_server(settings=settings)
    if routes == "fhir":
        assert httpx.get(f"{server.base_url}/metadata").status_code == 200
    else:
        made = httpx.post(f"{server.root_url}/sessions")
        assert made.status_code == 201
        sid = made.json()["id"]
        assert httpx.get(f"{server.root_url}/sessions/{sid}/log").status_code == 200
        assert httpx.delete(f"{server.root_url}/sessions/{sid}").status_code == 204


def test_one_token_rule_for_every_route_and_any_scheme_case(running_server):
    server = running_server(token="s3cret")
    sid = httpx.post(f"{server.root_url}/sessions",
                     headers={"authorization": "Bearer s3cret"}).json()["id"]
    routes = [("GET", f"{server.base_url}/metadata"), ("POST", f"{server.root_url}/sessions"),
              ("GET", f"{server.root_url}/sessions/{sid}/log"),
              ("GET", f"{server.root_url}/sessions/{sid}/fhir/metadata")]
    with httpx.Client() as client:
        for method, url in routes:
            for bad in (None, "Bearer wrong", "Basic s3cret", "s3cret", "Bearer", "Bearers3cret"):
                headers = {"authorization": bad} if bad is not None else {}
                resp = client.request(method, url, headers=headers)
                assert resp.status_code == 401, (method, url, bad)
                assert resp.json()["issue"][0]["code"] == "login"
            for good in ("Bearer s3cret", "bearer s3cret", "BEARER s3cret"):
                resp = client.request(method, url, headers={"authorization": good})
                assert resp.status_code in (200, 201), (method, url, good, resp.text)
    assert httpx.delete(f"{server.root_url}/sessions/{sid}",
                        headers={"authorization": "bearer s3cret"}).status_code == 204


def test_token_from_a_file(running_server, server_settings, tmp_path, monkeypatch):
    from medagent.cli import build_parser
    from medagent.cli.serve import settings_from_args

    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    args = build_parser().parse_args(["serve", "--db", str(server_settings.db),
                                      "--token-file", str(token_file)])
    settings = settings_from_args(args)
    assert settings.token == "from-a-file" and "from-a-file" not in repr(settings)
    server = running_server(settings=settings.model_copy(update={"port": 0}))
    assert httpx.get(f"{server.base_url}/metadata").status_code == 401
    assert httpx.get(f"{server.base_url}/metadata",
                     headers={"authorization": "Bearer from-a-file"}).status_code == 200

    monkeypatch.setenv("MEDAGENT_TOKEN_FILE", str(token_file))
    assert ServerSettings(db=server_settings.db).token == "from-a-file"
    monkeypatch.setenv("MEDAGENT_TOKEN_FILE", str(tmp_path / "missing"))
    from medagent.fhir_server.errors import FhirServerError

    with pytest.raises(FhirServerError, match="cannot read the token file"):
        ServerSettings(db=server_settings.db)


def test_a_wildcard_bind_uses_a_checked_host_header():
    from medagent.fhir_server.app import request_root

    wildcard = ServerSettings(host="0.0.0.0", port=8080)
    # bound to all interfaces, uvicorn reports the connection's local (container) address
    scope = {"server": ("172.17.0.2", 8080), "client": ("172.17.0.1", 50000)}
    assert request_root(scope, {"host": "localhost:49153"}, wildcard) == "http://localhost:49153"
    for bad in ("javascript://evil.example", "evil.example/x", "a b", "evil.example:666@x", ""):
        got = request_root(scope, {"host": bad, "x-forwarded-proto": "javascript"}, wildcard)
        assert got == "http://172.17.0.2:8080", bad
    local = ServerSettings(host="127.0.0.1", port=8080)
    bound = {"server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000)}
    assert request_root(bound, {"host": "evil.example:666"}, local) == "http://127.0.0.1:8080"


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
@pytest.mark.parametrize("how", ["--token-file", "MEDAGENT_TOKEN_FILE", "MEDAGENT_TOKEN"])
def test_serve_takes_the_token_without_the_command_line(tmp_path, how):
    from medagent.fhir_server.process import start_serve

    token = "not-in-the-process-list"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    args = ("--no-seed", "--token-file", str(token_file)) if how == "--token-file" else ("--no-seed",)
    env = {} if how == "--token-file" else {how: str(token_file) if how.endswith("FILE") else token}
    server = start_serve(tmp_path / "serve.db", *args, home=tmp_path, env=env, token=token)
    try:
        cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
        assert token.encode() not in cmdline
        assert httpx.get(f"{server.base_url}/metadata").status_code == 401
        made = httpx.post(f"http://127.0.0.1:{server.port}/sessions",
                          headers={"authorization": f"bearer {token}"})
        assert made.status_code == 201
    finally:
        server.stop()
