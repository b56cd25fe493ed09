"""`medagent bench` against a plain FHIR server (no session API): `medagent serve --no-sessions`
in a child process holding the small cohort, over HTTP. Trials run one at a time, the write
log is rebuilt from the tool requests and replies, and every trial's writes are undone."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import orjson
import pytest

from medagent.fhir_server.process import start_serve
from medagent.cli import main
from medagent.errors import ConfigError
from medagent.runfolder import read_run
from medagent.bench import BenchConfig, choose_backend, run_bench, write_log

# the default run: two query and two action categories of the small suite (all: slow test)
CATEGORIES = ["1", "4", "5", "9"]
SESSION_KEYS = {"seq", "interaction", "method", "url", "status", "resourceType", "id", "versionId", "resource"}


def _counts(base_url: str, types) -> dict[str, int]:
    return {t: httpx.get(f"{base_url}/{t}", params={"_summary": "count"}).json()["total"] for t in types}


@pytest.fixture(scope="module")
def plain_server(seeded_db, tmp_path_factory):
    """One server for the module (starting one costs seconds): every test leaves it holding
    exactly the cohort, as the runs under test must."""
    import shutil

    db = tmp_path_factory.mktemp("plain") / "plain.db"
    shutil.copyfile(seeded_db, db)
    server = start_serve(db, "--no-sessions", "--no-seed")
    yield server
    server.stop()


@pytest.fixture
def cohort_types(small_cohort):
    return sorted(small_cohort[1].files) + ["Basic", "ServiceRequest"]


def _bench(suite_path, out, fhir_url, *, tasks=CATEGORIES, agent="oracle", sessions="auto", concurrency=4,
           max_steps=8):
    config = BenchConfig(suite=str(suite_path), agent=agent, tasks=list(tasks), fhir_url=fhir_url,
                         sessions=sessions, concurrency=concurrency, max_steps=max_steps)
    return run_bench(config, out, progress=False)


def test_serve_no_sessions_is_a_plain_fhir_server(plain_server):
    root = plain_server.base_url.removesuffix("/fhir")
    assert httpx.get(f"{plain_server.base_url}/Patient", params={"_count": 1}).status_code == 200
    assert httpx.post(f"{root}/sessions").status_code in (404, 405)
    assert httpx.get(f"{root}/sessions/abc/fhir/Patient").status_code == 404
    assert httpx.get(f"{root}/sessions/abc/log").status_code == 404


def _oracle_run(plain_server, bench_suite, bench_suite_path, cohort_types, tmp_path, tasks):
    before = _counts(plain_server.base_url, cohort_types)
    summary = _bench(bench_suite_path, tmp_path / "run", plain_server.base_url, tasks=tasks)
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.run["fhir_mode"] == "shared" and folder.run["concurrency"] == 1  # asked for 4
    assert summary["overall"] == 1.0 and summary["errors"] == 0
    assert all(t["grade"]["passed"] for t in folder.trials)
    created = [(w["resourceType"], w["id"]) for t in folder.trials for w in t["writes"]]
    assert created and all(set(w) == SESSION_KEYS for t in folder.trials for w in t["writes"])
    # the shared server ends the run holding exactly the cohort again
    assert _counts(plain_server.base_url, cohort_types) == before
    for rtype, rid in created:
        assert httpx.get(f"{plain_server.base_url}/{rtype}/{rid}").status_code in (404, 410)
    return folder


def test_oracle_scores_100_percent_on_a_plain_server_and_leaves_the_cohort(
        plain_server, bench_suite, bench_suite_path, cohort_types, tmp_path):
    folder = _oracle_run(plain_server, bench_suite, bench_suite_path, cohort_types, tmp_path, CATEGORIES)
    assert {t["category"] for t in folder.trials} == {int(c) for c in CATEGORIES}
    assert main(["report", str(tmp_path / "run"), "--quiet"]) == 0  # the report states the mode
    assert "fhir_mode shared" in (tmp_path / "run" / "report.html").read_text()


@pytest.mark.slow
def test_oracle_full_small_suite_on_a_plain_server(plain_server, bench_suite, bench_suite_path, cohort_types, tmp_path):
    folder = _oracle_run(plain_server, bench_suite, bench_suite_path, cohort_types, tmp_path, [])
    assert len(folder.trials) == len(bench_suite.tasks)


def _comparable(writes):
    out = []
    for w in writes:
        resource = dict(w["resource"] or {})
        resource.pop("id", None)
        resource.pop("meta", None)
        out.append((w["seq"], w["interaction"], w["method"], w["url"], w["status"], w["resourceType"],
                    w["versionId"], orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)))
    return out


def test_shared_write_log_matches_the_session_log(plain_server, bench_service, bench_suite_path, tmp_path):
    actions = ["3", "5", "9"]
    _bench(bench_suite_path, tmp_path / "shared", plain_server.base_url, tasks=actions)
    _bench(bench_suite_path, tmp_path / "sessions", None, tasks=actions)  # embedded sessions
    shared = {t["trial_id"]: t["writes"] for t in read_run(tmp_path / "shared").trials}
    sessions = {t["trial_id"]: t["writes"] for t in read_run(tmp_path / "sessions").trials}
    assert shared.keys() == sessions.keys() and any(sessions.values())
    for trial_id, writes in sessions.items():
        assert _comparable(shared[trial_id]) == _comparable(writes), trial_id


def test_auto_mode_probes_the_session_api(running_server, seeded_db):
    from medagent.fhir_server import Store

    store = Store(seeded_db)
    try:
        with_sessions = running_server(store)
        plain = running_server(store, sessions=False)

        async def mode(url, sessions="auto"):
            backend = await choose_backend(url, None, sessions)
            await backend.aclose()
            return backend.mode

        assert asyncio.run(mode(with_sessions.base_url)) == "sessions"
        assert asyncio.run(mode(plain.base_url)) == "shared"
        assert asyncio.run(mode(with_sessions.base_url, "off")) == "shared"  # the flag forces it
        with pytest.raises(ConfigError, match="has no session API"):
            asyncio.run(mode(plain.base_url, "on"))
        assert with_sessions.store.count("") == store.count("")  # the probe session left nothing
    finally:
        store.close()


def test_forced_sessions_on_a_plain_server_fail_in_one_line(plain_server, bench_suite_path, tmp_path, capsys):
    rc = main(["bench", "--suite", str(bench_suite_path), "--out", str(tmp_path / "run"), "--quiet",
               "--agent", "oracle", "--tasks", "3", "--fhir-url", plain_server.base_url, "--sessions", "on"])
    err = capsys.readouterr().err
    assert rc != 0 and "session API" in err and "Traceback" not in err


def test_a_server_without_the_cohort_marker_is_refused(running_server, tmp_path, bench_suite_path):
    empty = running_server(sessions=False)
    with pytest.raises(ConfigError, match="no cohort marker"):
        _bench(bench_suite_path, tmp_path / "run", empty.base_url, tasks=["3"])
    assert not read_run(tmp_path / "run").trials


def test_leftover_writes_on_the_server_are_refused(plain_server, bench_suite, bench_suite_path, tmp_path):
    mrn = next(t.patient for t in bench_suite.tasks if t.patient)
    stray = {"resourceType": "Observation", "status": "final", "code": {"text": "stray"},
             "subject": {"reference": f"Patient/{mrn}"}}
    created = httpx.post(f"{plain_server.base_url}/Observation", json=stray)
    assert created.status_code == 201
    try:
        with pytest.raises(ConfigError, match=r"Observation: \d+ on the server, \d+ in the cohort"):
            _bench(bench_suite_path, tmp_path / "run", plain_server.base_url, tasks=["3"])
    finally:
        httpx.delete(f"{plain_server.base_url}/Observation/{created.json()['id']}")


class _NoDelete:
    """A FHIR server that refuses DELETE (405), as some production servers are configured."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "DELETE":
            body = orjson.dumps({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "not-supported", "diagnostics": "DELETE is disabled"}]})
            await send({"type": "http.response.start", "status": 405,
                        "headers": [(b"content-type", b"application/fhir+json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def test_a_server_that_refuses_delete_is_refused_before_any_trial(seeded_db_copy, bench_suite_path, tmp_path):
    import uvicorn

    from medagent.fhir_server import ServerSettings, Store, create_app

    store = Store(seeded_db_copy)
    app = _NoDelete(create_app(ServerSettings(db=seeded_db_copy, sessions=False), store))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with pytest.raises(ConfigError, match="refused DELETE"):
            _bench(bench_suite_path, tmp_path / "run", f"http://127.0.0.1:{port}/fhir", tasks=["3"])
        assert not read_run(tmp_path / "run").trials
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


VICTIM = ""  # the Patient the adversary edits (set by the test)


class EditingAgent:
    """The adversary: edits a cohort Patient, deletes a cohort Condition, then creates an
    Observation through raw requests — all must be undone after the trial."""

    async def run(self, task, env):
        patient = (await env.request("GET", "Patient", {"_id": VICTIM})).content["entry"][0]["resource"]
        edited = {**patient, "gender": "other" if patient.get("gender") != "other" else "male"}
        assert (await env.request("PUT", f"Patient/{VICTIM}", json=edited)).status == 200
        found = (await env.request("GET", "Condition", {"patient": VICTIM, "_count": 1})).content
        for entry in found.get("entry", []):
            assert (await env.request("DELETE", f"Condition/{entry['resource']['id']}")).ok
        obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
               "subject": {"reference": f"Patient/{VICTIM}"}}
        assert (await env.request("POST", "Observation", json=obs)).status == 201
        env.finish([])


def test_an_agent_that_edits_and_deletes_records_is_undone(plain_server, bench_suite, bench_suite_path,
                                                           cohort_types, tmp_path):
    global VICTIM
    task = next(t for t in bench_suite.tasks if t.category == 3)
    VICTIM = task.patient
    base = plain_server.base_url
    before = _counts(base, cohort_types)
    original = httpx.get(f"{base}/Patient/{task.patient}").json()
    conditions = httpx.get(f"{base}/Condition", params={"patient": task.patient}).json()
    _bench(bench_suite_path, tmp_path / "run", base, tasks=[task.id],
           agent="tests.harness.test_shared_server:EditingAgent", max_steps=12)
    (trial,) = read_run(tmp_path / "run").trials
    assert [w["interaction"] for w in trial["writes"]] == ["update", "delete", "create"]
    assert _counts(base, cohort_types) == before
    restored = httpx.get(f"{base}/Patient/{task.patient}").json()
    strip = lambda r: {k: v for k, v in r.items() if k != "meta"}  # noqa: E731
    assert strip(restored) == strip(original)
    assert httpx.get(f"{base}/Condition", params={"patient": task.patient}).json()["total"] == conditions["total"]


def test_write_log_from_replies_without_a_body():
    """Servers answering ``Prefer: return=minimal``: the id comes from ``Location``; failed
    writes and reads are not writes."""
    requests = [
        {"method": "GET", "path": "Patient", "params": [], "body": None, "status": 200, "response": {}},
        {"method": "POST", "path": "Observation", "params": [], "body": {"resourceType": "Observation"},
         "status": 201, "response": None},
        {"method": "POST", "path": "MedicationRequest", "params": [], "body": {}, "status": 422, "response": {}},
        {"method": "DELETE", "path": "Condition/c1", "params": [], "body": None, "status": 204, "response": None},
    ]
    headers = [{}, {"Location": "http://h/fhir/Observation/o-9/_history/1"}, {}, {"ETag": 'W/"3"'}]
    log = write_log(requests, headers)
    assert [(e["seq"], e["interaction"], e["resourceType"], e["id"], e["versionId"]) for e in log] == [
        (1, "create", "Observation", "o-9", "1"), (2, "delete", "Condition", "c1", "3")]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Observation"}, "resource": {"resourceType": "Observation"}},
        {"request": {"method": "GET", "url": "Patient/p1"}},
        {"request": {"method": "DELETE", "url": "Condition/c2"}}]}
    reply = {"resourceType": "Bundle", "type": "transaction-response", "entry": [
        {"response": {"status": "201 Created", "location": "Observation/o-10/_history/1"}},
        {"response": {"status": "200 OK"}}, {"response": {"status": "204 No Content"}}]}
    log = write_log([{"method": "POST", "path": "", "body": bundle, "status": 200, "response": reply}])
    assert [(e["interaction"], e["url"], e["id"], e["status"]) for e in log] == [
        ("create", "Observation", "o-10", 201), ("delete", "Condition/c2", "c2", 204)]
