"""Verification replays each trial's FHIR requests: edited responses, edited or injected
writes and dropped requests are rejected, naming the trial and the first difference; an
honest run verifies whether it was recorded in-process or over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from medagent.cli import main
from medagent.errors import SubmissionError
from medagent.leaderboard import Replayer, pack_run, verify_submission

from ._runs import edited, trial


@pytest.fixture(scope="module")
def oracle_doc(bench_run) -> dict:
    return pack_run(bench_run[1])


def _rejected(doc: dict, suite, reason: str) -> str:
    with pytest.raises(SubmissionError) as info:
        verify_submission(doc, suite=suite)
    message = str(info.value)
    assert reason in message, message
    assert "\n" not in message
    return message


def _first(doc: dict, predicate) -> dict:
    return next(t for t in doc["trials"] if predicate(t))


def _search_with_entries(t: dict) -> bool:
    return any(r["method"] == "GET" and (r["response"] or {}).get("entry") for r in t["fhir_requests"])


def _posts(t: dict) -> bool:
    return t["writes"] and any(r["method"] == "POST" for r in t["fhir_requests"])


def test_honest_oracle_run_replays(oracle_doc: dict, small_suite):
    verified = verify_submission(oracle_doc, suite=small_suite)
    assert verified.n_trials == len(small_suite.tasks)
    assert verified.replayed == sum(len(t["fhir_requests"]) for t in oracle_doc["trials"]) > 0
    assert verified.baseline is True  # the oracle reads the answer key


def test_edited_response_names_the_trial_and_the_difference(oracle_doc: dict, small_suite):
    target = _first(oracle_doc, _search_with_entries)
    number, request = next((i, r) for i, r in enumerate(target["fhir_requests"], 1)
                           if r["method"] == "GET" and (r["response"] or {}).get("entry"))

    def change(d: dict) -> None:
        resource = trial(d, target["trial_id"])["fhir_requests"][number - 1]["response"]["entry"][0]["resource"]
        resource["id"] = resource["id"] + "x"

    message = _rejected(edited(oracle_doc, change), small_suite,
                        f"trial {target['trial_id']}: request #{number} GET {request['path']}")
    assert "response.entry[0].resource.id" in message and "replay gives" in message


def test_edited_total_in_a_response_is_rejected(oracle_doc: dict, small_suite):
    target = _first(oracle_doc, _search_with_entries)

    def change(d: dict) -> None:
        request = next(r for r in trial(d, target["trial_id"])["fhir_requests"] if r["method"] == "GET")
        request["response"]["total"] = request["response"]["total"] + 1

    message = _rejected(edited(oracle_doc, change), small_suite, f"trial {target['trial_id']}: request #")
    assert "response.total" in message


def test_edited_status_is_rejected(oracle_doc: dict, small_suite):
    target = _first(oracle_doc, _posts)

    def change(d: dict) -> None:
        next(r for r in trial(d, target["trial_id"])["fhir_requests"] if r["method"] == "POST")["status"] = 200
        next(c for c in trial(d, target["trial_id"])["tool_calls"] if c.get("status") == 201)["status"] = 200

    _rejected(edited(oracle_doc, change), small_suite, "recorded HTTP 200, replay gives HTTP 201")


def test_edited_write_is_rejected(oracle_doc: dict, small_suite):
    target = _first(oracle_doc, _posts)

    def change(d: dict) -> None:
        write = trial(d, target["trial_id"])["writes"][0]
        write["resource"]["status"] = "entered-in-error" if write["resource"].get("status") != "entered-in-error" else "final"

    message = _rejected(edited(oracle_doc, change), small_suite, f"trial {target['trial_id']}: write #1.resource.status")
    assert "writes do not follow from the requests" in message


def test_edited_generated_id_in_a_write_is_rejected(oracle_doc: dict, small_suite):
    """Generated ids are mapped one to one: the write must carry the id the create returned."""
    target = _first(oracle_doc, _posts)

    def change(d: dict) -> None:
        write = trial(d, target["trial_id"])["writes"][0]
        write["id"] = write["resource"]["id"] = str(uuid.uuid4())

    _rejected(edited(oracle_doc, change), small_suite, f"trial {target['trial_id']}: write #1")


def test_injected_write_is_rejected(oracle_doc: dict, small_suite):
    target = _first(oracle_doc, _posts)

    def change(d: dict) -> None:
        writes = trial(d, target["trial_id"])["writes"]
        extra = {**writes[-1], "seq": writes[-1]["seq"] + 1, "id": str(uuid.uuid4())}
        writes.append(extra)

    n = len(target["writes"])
    _rejected(edited(oracle_doc, change), small_suite,
              f"trial {target['trial_id']}: recorded {n + 1} write(s) but replaying its requests gives {n} "
              f"(first unmatched, recorded: create {target['writes'][-1]['resourceType']})")


def test_injected_write_into_a_query_trial_is_rejected(oracle_doc: dict, small_suite):
    """A write with no request behind it, where the record had none."""
    source = _first(oracle_doc, _posts)
    target = _first(oracle_doc, lambda t: t["kind"] == "query" and not t["writes"])

    def change(d: dict) -> None:
        trial(d, target["trial_id"])["writes"] = [dict(source["writes"][0])]

    _rejected(edited(oracle_doc, change), small_suite,
              f"trial {target['trial_id']}: recorded 1 write(s) but replaying its requests gives 0")


def test_dropped_write_request_is_rejected(oracle_doc: dict, small_suite):
    target = _first(oracle_doc, _posts)

    def change(d: dict) -> None:
        t = trial(d, target["trial_id"])
        index = next(i for i, r in enumerate(t["fhir_requests"]) if r["method"] == "POST")
        del t["fhir_requests"][index]
        calls = [c for c in t["tool_calls"] if c.get("status") is not None]
        t["tool_calls"].remove(calls[index])

    n = len(target["writes"])
    _rejected(edited(oracle_doc, change), small_suite,
              f"trial {target['trial_id']}: recorded {n} write(s) but replaying its requests gives {n - 1}")


def test_dropped_read_request_is_rejected(oracle_doc: dict, small_suite):
    target = _first(oracle_doc, _search_with_entries)

    def change(d: dict) -> None:
        t = trial(d, target["trial_id"])
        del t["fhir_requests"][0]

    _rejected(edited(oracle_doc, change), small_suite,
              f"trial {target['trial_id']}: {len(target['fhir_requests'])} tool call(s) reached the FHIR server "
              f"but {len(target['fhir_requests']) - 1} FHIR request(s) are recorded")


def test_added_request_that_writes_is_rejected(oracle_doc: dict, small_suite):
    """A write request added to the record (with its tool call) makes a write the record lacks."""
    source = _first(oracle_doc, _posts)
    post = next(r for r in source["fhir_requests"] if r["method"] == "POST")
    target = _first(oracle_doc, lambda t: t["kind"] == "query" and not t["writes"])

    def change(d: dict) -> None:
        t = trial(d, target["trial_id"])
        t["fhir_requests"].append(dict(post))
        t["tool_calls"].append({"step": 99, "name": "x", "arguments": {}, "ok": True, "status": post["status"]})

    _rejected(edited(oracle_doc, change), small_suite,
              f"trial {target['trial_id']}: recorded 0 write(s) but replaying its requests gives 1")


def test_ids_created_in_the_trial_are_mapped_in_later_requests(bench_run, small_suite):
    """A trial that creates a resource and reads it back by id replays under a new id."""
    from medagent import tasks

    from medagent.embedded import open_service

    task_service = open_service(small_suite)  # the suite's cohort, seeded by bench_run

    target = next(t for t in small_suite.tasks if t.patient)
    sid = task_service.create_session()
    client = tasks.LocalFhirClient(task_service, sid)
    resource = {"resourceType": "Observation", "status": "final", "code": {"text": "note"},
                "subject": {"reference": f"Patient/{target.patient}"}, "valueString": "x"}

    async def record() -> None:
        created = await client.request("POST", "Observation", json=resource)
        rid = created.body["id"]
        await client.request("GET", f"Observation/{rid}")
        await client.request("GET", "Observation", params={"_id": rid})
        await client.request("PUT", f"Observation/{rid}", json={**resource, "id": rid, "valueString": "y"})

    asyncio.run(record())
    writes = task_service.session_log(sid)
    task_service.delete_session(sid)
    record_ = {"trial_id": "t#1", "fhir_requests": client.requests, "writes": writes,
               "tool_calls": [{"status": r["status"]} for r in client.requests]}
    replayer = Replayer(task_service)
    replayer.replay(record_)  # honest: passes although every generated id differs
    assert replayer.requests == 4

    record_["fhir_requests"][1]["response"]["valueString"] = "z"
    with pytest.raises(SubmissionError, match=r"trial t#1: request #2 GET Observation/.*: response.valueString: "
                                              r"recorded 'z', replay gives 'x'"):
        replayer.replay(record_)


def test_run_recorded_over_http_verifies(small_suite, bench_run, tmp_path: Path, capsys):
    """Base URLs (host, port, session path) in links and fullUrls are normalised."""
    jsonl, _ = bench_run
    run, sub = tmp_path / "run", tmp_path / "http.json"
    assert main(["bench", "--suite", str(jsonl), "--agent", "oracle", "--fhir-url", "embedded-http",
                 "--out", str(run), "--quiet"]) == 0
    assert main(["submit", str(run), "-o", str(sub), "--suite", str(jsonl)]) == 0
    assert main(["leaderboard", "verify", str(sub), "--suite", str(jsonl)]) == 0
    assert "trials replayed (" in capsys.readouterr().out


def test_more_requests_than_steps_or_no_tool_calls_are_rejected(oracle_doc: dict, small_suite):
    target = _first(oracle_doc, _search_with_entries)
    steps = oracle_doc["metadata"]["max_steps"]

    def flood(d: dict) -> None:
        t = trial(d, target["trial_id"])
        t["fhir_requests"] = [t["fhir_requests"][0]] * (steps + 1)
        t["tool_calls"] = [{"status": t["fhir_requests"][0]["status"]}] * (steps + 1)

    _rejected(edited(oracle_doc, flood), small_suite,
              f"trial {target['trial_id']}: {steps + 1} FHIR requests recorded, more than the run's {steps} steps allow")

    def no_calls(d: dict) -> None:
        trial(d, target["trial_id"])["tool_calls"] = None

    _rejected(edited(oracle_doc, no_calls), small_suite,
              f"trial {target['trial_id']}: 0 tool call(s) reached the FHIR server but")


def test_a_query_string_in_a_path_replays_as_the_http_client_sent_it(bench_run, small_suite):
    """Over HTTP the client's params replace a query string written into the path (httpx);
    in-process the path reaches dispatch as it is: replay follows what the run used."""
    from medagent.fhir_server import serve_in_thread

    from medagent.embedded import open_service
    from medagent.bench import HttpBackend

    service = open_service(small_suite)
    mrn = next(t.patient for t in small_suite.tasks if t.patient)

    async def record(base_url: str) -> dict:
        backend = HttpBackend(base_url)
        try:
            session, client = await backend.open()
            await client.request("GET", f"Patient?identifier={mrn}")
            writes = await backend.close(session)
        finally:
            await backend.aclose()
        return {"trial_id": "h#1", "fhir_requests": client.requests, "writes": writes,
                "tool_calls": [{"status": r["status"]} for r in client.requests]}

    with serve_in_thread(service.store) as server:
        record_ = asyncio.run(record(server.base_url))
    assert record_["fhir_requests"][0]["response"]["total"] > 1  # the query never reached the server
    Replayer(service, over_http=True).replay(record_)
    with pytest.raises(SubmissionError, match=r"trial h#1: request #1 GET Patient\?identifier=.*: recorded HTTP 200"):
        Replayer(service).replay(record_)  # in-process, the path would have reached dispatch as it is
