"""Agent tools and FHIR clients: schemas, argument errors as results, HTTP and in-process."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from medagent import tasks
from tests.tasks._util import task_of


def test_tool_schemas_are_documented():
    names = [t.name for t in tasks.TOOLS]
    assert len(names) == len(set(names)) == 9
    assert sorted(t.name for t in tasks.TOOLS if t.kind == "write") == [
        "create_medication_request", "create_service_request", "create_vital_sign"]
    for tool in tasks.TOOLS:
        assert tool.description and tool.parameters["type"] == "object"
        for name, spec in tool.parameters["properties"].items():
            assert spec.get("description"), (tool.name, name)
        assert set(tool.parameters["required"]) <= set(tool.parameters["properties"])
    schemas = tasks.tool_schemas()
    assert schemas[-1] == tasks.FINISH_TOOL
    assert tasks.FINISH_TOOL["function"]["parameters"]["required"] == ["answer"]


def _call(service, name, args, session=None):
    client = tasks.LocalFhirClient(service, session)
    return asyncio.run(tasks.ClientToolEnv(client).call(name, args)), client


@pytest.mark.parametrize("name, args, message", [
    ("search_lab_observations", {"patient": "S1"}, "missing required argument(s) code"),
    ("search_lab_observations", {"patient": "S1", "code": "MG", "colour": "red"}, "unknown argument"),
    ("search_lab_observations", {"patient": "S1", "code": "MG", "count": "many"}, "must be an integer"),
    ("search_lab_observations", {"patient": "S1", "code": "MG", "count": 5000}, "between 1 and 1000"),
    ("search_lab_observations", {"patient": "S1", "code": "MG", "sort": "value"}, "must be one of"),
    ("search_patients", "not json", "the arguments are not a JSON object: not json"),
    ("create_service_request", {"resource": "ServiceRequest"}, "must be a JSON object"),
    ("create_service_request", {"resource": {"resourceType": "Observation"}}, "creates a ServiceRequest"),
    ("order_pizza", {}, "unknown tool"),
])
def test_bad_arguments_come_back_as_results(task_service, name, args, message):
    result, client = _call(task_service, name, args)
    assert result.ok is False and result.status is None
    assert message in result.content["error"]
    assert client.requests == []  # nothing reached the server


def test_a_resource_sent_as_a_json_string_is_accepted(small_suite, task_service):
    import orjson

    task = task_of(small_suite, 10, "order_")
    sid = task_service.create_session()
    resource = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                "subject": {"reference": f"Patient/{task.patient}"}}
    result, _ = _call(task_service, "create_service_request",
                      {"resource": orjson.dumps(resource).decode()}, session=sid)
    assert result.ok and result.status == 201 and result.content["id"]
    assert len(task_service.session_log(sid)) == 1
    task_service.delete_session(sid)


def test_reads_return_trimmed_bundles_sorted_newest_first(small_suite, task_service):
    task = task_of(small_suite, 7, "measured")
    result, client = _call(task_service, "search_lab_observations",
                           {"patient": task.patient, "code": "GLU", "count": 3})
    assert result.ok and result.status == 200
    bundle = result.content
    assert bundle["resourceType"] == "Bundle" and bundle["total"] >= len(bundle["entry"])
    resources = [e["resource"] for e in bundle["entry"]]
    assert 1 <= len(resources) <= 3 and all("meta" not in r for r in resources)
    times = [r["effectiveDateTime"] for r in resources]
    assert times == sorted(times, reverse=True)
    assert resources[0]["valueQuantity"]["value"] == task.expected["answer"][0]
    assert ["_sort", "-date"] in client.requests[0]["params"]


def test_invalid_fhir_write_returns_the_operation_outcome(task_service):
    sid = task_service.create_session()
    result, client = _call(task_service, "create_service_request",
                           {"resource": {"status": "active", "intent": "order",
                                         "subject": "Patient/S1"}}, session=sid)
    assert result.ok is False and 400 <= result.status < 500
    assert result.content["resourceType"] == "OperationOutcome"
    assert task_service.session_log(sid) == []
    assert client.requests[0]["status"] == result.status
    task_service.delete_session(sid)


def test_oracle_over_http_through_sessions(small_suite, seeded_db, running_server):
    """One task of every category, solved over a real socket in its own session."""
    from medagent.fhir_server import Store

    server = running_server(Store(seeded_db))
    picked = [task_of(small_suite, n, b) for n, b in
              ((1, "found"), (2, ""), (3, ""), (4, "value"), (5, "order_"), (6, "several"),
               (7, "measured"), (8, ""), (9, "order"), (10, "order_"))]

    async def one(http, task):
        made = (await http.post(f"{server.root_url}/sessions")).json()
        client = tasks.HttpFhirClient(made["base_url"], http=http)
        answer = await tasks.get_category(task.category).solve(task, tasks.ClientToolEnv(client))
        log = (await http.get(f"{server.root_url}/sessions/{made['id']}/log")).json()
        await http.delete(f"{server.root_url}/sessions/{made['id']}")
        return task, answer, log, client.requests

    async def go():
        async with httpx.AsyncClient() as http:
            return await asyncio.gather(*(one(http, t) for t in picked))

    for task, answer, log, requests in asyncio.run(go()):
        grade = tasks.grade(task, answer, log)
        assert grade.passed, (task.id, grade.failed)
        assert requests and all(r["status"] in (200, 201) for r in requests)
        posts = [r for r in requests if r["method"] == "POST"]
        assert len(posts) == len(log)


def test_unreachable_server_is_a_tool_result_not_an_exception():
    async def go():
        async with tasks.HttpFhirClient("http://127.0.0.1:9/fhir", timeout=2) as client:
            return await tasks.ClientToolEnv(client).call(
                "search_patients", {"family": "Lopez"})
    result = asyncio.run(go())
    assert result.ok is False and "unreachable" in result.content["error"]


def test_lab_search_by_loinc_equals_search_by_local_code(small_suite, task_service):
    task = task_of(small_suite, 9, "order")
    by_local, _ = _call(task_service, "search_lab_observations",
                        {"patient": task.patient, "code": "K", "count": 1000})
    by_loinc, _ = _call(task_service, "search_lab_observations",
                        {"patient": f"Patient/{task.patient}", "code": "http://loinc.org|2823-3",
                         "count": 1000, "date": "le2023-11-13T10:15:00+00:00"})
    assert by_local.ok and by_loinc.ok and by_local.content["total"] > 0
    assert by_local.content == by_loinc.content
