"""Grader behaviour shared by all categories: oracle passes, null fails, wrong answers
fail, writes in query tasks fail, missing/extra/misdirected orders fail."""

from __future__ import annotations

import pytest

from medagent import tasks
from tests.tasks._util import edit, other_patient, stored, task_of

QUERY = (1, 2, 4, 6, 7)
ACTION_ORDER_BRANCH = {3: "record", 5: "order_", 8: "refer", 9: "order", 10: "order_"}
NO_ACTION_BRANCH = {5: "no_order_", 9: "no_order_", 10: "no_order_"}
STRAY = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
         "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
         "subject": {"reference": "Patient/{mrn}"}, "authoredOn": "2023-11-13T10:15:00+00:00"}


def _stray(mrn: str | None) -> dict:
    return edit(STRAY, "subject", {"reference": f"Patient/{mrn or 'S0000000'}"})


@pytest.mark.parametrize("category", range(1, 11))
def test_oracle_passes_and_null_fails_every_branch(small_suite, run_trial, category):
    seen = set()
    for task in small_suite.category(category):
        if task.branch in seen:
            continue
        seen.add(task.branch)
        solve = tasks.get_category(category).solve

        def blind(t, env, solve=solve):  # the reference solution never reads the ground truth
            return solve(t.model_copy(update={"expected": {}}), env)
        trial = run_trial(task, solver=blind)
        assert trial.grade.passed, (task.id, task.branch, trial.grade.failed)
        null = run_trial(task, solver=None)
        assert not null.grade.passed, (task.id, "null agent passed")
        assert all(c.name and c.message for c in null.grade.failed)


@pytest.mark.parametrize("category", QUERY)
def test_any_write_in_a_query_task_fails(small_suite, run_trial, category):
    task = small_suite.category(category)[0]
    answer = run_trial(task).answer
    mrn = task.patient or other_patient(small_suite, "")  # the server refuses unknown patients
    trial = run_trial(task, solver=None, answer=answer, resources=[_stray(mrn)])
    assert not trial.grade.passed
    assert [c.name for c in trial.grade.failed] == ["extra write"]


@pytest.mark.parametrize("category", [1, 2, 4, 5, 6, 7, 9, 10])
def test_wrong_answer_fails(small_suite, run_trial, category):
    for task in small_suite.category(category):
        trial = run_trial(task)
        answer = list(trial.answer)
        first = answer[0]
        if isinstance(first, str):  # an MRN or "Patient not found"
            answer[0] = other_patient(small_suite, task.patient) if task.patient else "S0000001"
        else:
            answer[0] = first + 1 if first != -1 else 1.7
        again = run_trial(task, solver=None, answer=answer, resources=stored(trial.writes))
        assert not again.grade.passed, (task.id, answer)
        assert any(c.name == "answer[0]" and c.got == answer[0] for c in again.grade.failed)


@pytest.mark.parametrize("category", sorted(ACTION_ORDER_BRANCH))
def test_missing_extra_and_misdirected_orders_fail(small_suite, run_trial, category):
    task = task_of(small_suite, category, ACTION_ORDER_BRANCH[category])
    oracle = run_trial(task)
    resources = stored(oracle.writes)
    assert resources
    other = other_patient(small_suite, task.patient)
    cases = {
        "missing": [],
        "extra": resources + resources[:1],
        "wrong patient": [edit(r, "subject", {"reference": f"Patient/{other}"}) for r in resources],
        "yesterday": [edit(r, "authoredOn" if r["resourceType"] != "Observation"
                           else "effectiveDateTime", "2023-11-12T10:15:00+00:00")
                      for r in resources],
    }
    for name, writes in cases.items():
        trial = run_trial(task, solver=None, answer=oracle.answer, resources=writes)
        assert not trial.grade.passed, name


@pytest.mark.parametrize("category", sorted(NO_ACTION_BRANCH))
def test_an_order_on_a_no_action_branch_fails(small_suite, run_trial, category):
    ordered = task_of(small_suite, category, ACTION_ORDER_BRANCH[category])
    quiet = task_of(small_suite, category, NO_ACTION_BRANCH[category])
    orders = [edit(r, "subject", {"reference": f"Patient/{quiet.patient}"})
              for r in stored(run_trial(ordered).writes)]
    answer = run_trial(quiet).answer
    assert run_trial(quiet, solver=None, answer=answer).grade.passed
    trial = run_trial(quiet, solver=None, answer=answer, resources=orders)
    assert not trial.grade.passed
    assert {c.name for c in trial.grade.failed} == {"extra write"}


def test_create_then_delete_is_no_write_and_update_counts_once(small_suite, task_service):
    import asyncio

    task = task_of(small_suite, 10, "order_")

    async def go() -> list[dict]:
        sid = task_service.create_session()
        client = tasks.LocalFhirClient(task_service, sid)
        answer = await tasks.get_category(10).solve(task, tasks.ClientToolEnv(client))
        sr = next(e for e in task_service.session_log(sid) if e["resourceType"] == "ServiceRequest")
        resource = dict(sr["resource"], priority="routine")
        reply = await client.request("PUT", f"ServiceRequest/{sr['id']}", json=resource)
        assert reply.status == 200, reply.body
        stray = await client.request("POST", "ServiceRequest", json=_stray(task.patient))
        assert stray.status == 201
        gone = await client.request("DELETE", f"ServiceRequest/{stray.body['id']}")
        assert gone.status in (200, 204)
        log = task_service.session_log(sid)
        task_service.delete_session(sid)
        return answer, log

    answer, log = asyncio.run(go())
    assert len(log) == 4
    grade = tasks.grade(task, answer, log)
    assert grade.passed, grade.failed
