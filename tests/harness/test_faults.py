"""FHIR fault profiles (``medagent bench --faults``): the reference solutions retry and page
through them, grading never sees them, the same trial meets the same faults, and the run
records the profile."""

from __future__ import annotations

import asyncio

import pytest

from medagent.cli import main
from medagent.faults import NOT_SENT, PROFILES, FaultyClient, fault_outcome, rewrite_next, trial_seed
from medagent.runfolder import read_run
from medagent.report import build_report


@pytest.fixture(autouse=True)
def _instant_faults(monkeypatch):
    monkeypatch.setenv("MEDAGENT_FAULT_DELAY_SCALE", "0")  # Retry-After 0, no slow sleeps


def _bench(suite_path, out, *extra) -> int:
    return main(["bench", "--suite", str(suite_path), "--out", str(out), "--quiet", *extra])


@pytest.fixture(scope="module")
def heavy_run(bench_suite_path, tmp_path_factory):
    """The oracle on the small suite under --faults heavy (delays scaled to 0)."""
    out = tmp_path_factory.mktemp("faults") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDAGENT_FAULT_DELAY_SCALE", "0")
        assert _bench(bench_suite_path, out, "--agent", "oracle", "--faults", "heavy") == 0
    return out


def test_oracle_scores_100_percent_under_heavy_faults(bench_suite, heavy_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the view's table on one line per row
    folder = read_run(heavy_run, need_summary=True)
    assert folder.summary["overall"] == 1.0, [t["trial_id"] for t in folder.trials if not t["grade"]["passed"]]
    assert folder.summary["errors"] == 0
    assert folder.run["faults"] == "heavy" and folder.run["config"]["faults"] == "heavy"
    assert folder.summary["faults"] == "heavy"
    from medagent.leaderboard import pack_run

    assert pack_run(heavy_run)["metadata"]["faults"] == "heavy"  # the leaderboard entry's
    assert main(["view", str(heavy_run)]) == 0
    shown = capsys.readouterr().out
    assert "FHIR faults" in shown and "heavy (" in shown and "+1.00" in shown
    report = build_report(heavy_run, tmp_path / "report.html")
    assert "faults heavy" in report.read_text()
    injected = folder.summary["faults_injected"]
    # every kind of fault struck, and the oracle got through each
    assert injected.get("throttled", 0) + injected.get("unavailable", 0) >= 3
    assert injected.get("short_page", 0) >= 3 and injected.get("slow", 0) >= 3
    requests = [r for t in folder.trials for r in t["fhir_requests"]]
    kinds = {r.get("fault") for r in requests}
    assert {"short_page", "slow"} <= kinds and kinds & NOT_SENT
    for r in requests:
        if r.get("fault") in NOT_SENT:
            assert r["status"] in (429, 503) and r["retry_after"] == "0"
            assert r["response"] == fault_outcome(r["fault"], "0")
    # the oracle followed the next links (the next_page tool) and retried the refused calls
    calls = [c for t in folder.trials for c in t["tool_calls"]]
    assert any(c["name"] == "next_page" and c["ok"] for c in calls)
    # both kinds reached the agent: the harness's own retries of server failures sit under the
    # fault layer and never swallow an injected 503
    assert {429, 503} <= {c["status"] for c in calls if not c["ok"]}
    # grading read the server's write log: exactly one stored resource per required write
    for trial in folder.trials:
        refused = [r for r in trial["fhir_requests"] if r["method"] == "POST" and r.get("fault") in NOT_SENT]
        posted = [r for r in trial["fhir_requests"] if r["method"] == "POST" and r["status"] == 201]
        assert len(trial["writes"]) == len(posted), trial["trial_id"]
        assert all(w["status"] == 201 for w in trial["writes"])
        if refused:
            assert posted, trial["trial_id"]  # a refused write was sent again and stored once


def test_no_faults_by_default(bench_suite, bench_suite_path, tmp_path):
    from medagent import tasks

    tasks_2 = [t.id for t in bench_suite.tasks if t.category in (4, 9)][:4]
    assert _bench(bench_suite_path, tmp_path / "run", "--agent", "oracle", "--tasks", *tasks_2) == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.run["faults"] == "none" and folder.summary["faults"] == "none"
    assert "faults_injected" not in folder.summary
    assert not any("fault" in r for t in folder.trials for r in t["fhir_requests"])
    assert all(t["faults"] is None for t in folder.trials)
    assert tasks.NEXT_PAGE_TOOL.name not in {c["name"] for t in folder.trials for c in t["tool_calls"]}


def test_unknown_fault_profile_is_one_readable_line(bench_suite_path, tmp_path, capsys):
    with pytest.raises(SystemExit):
        _bench(bench_suite_path, tmp_path / "run", "--agent", "oracle", "--faults", "chaos")
    assert "invalid choice" in capsys.readouterr().err


class _Recorder:
    """The FHIR client under the fault layer: records what reaches it."""

    def __init__(self, service, session):
        from medagent import tasks

        self.inner = tasks.LocalFhirClient(service, session)

    @property
    def requests(self):
        return self.inner.requests

    async def request(self, method, path, params=None, json=None):
        return await self.inner.request(method, path, params=params, json=json)


def _faults_of(bench_service, seed: int, n: int = 30) -> list:
    async def go():
        client = FaultyClient(_Recorder(bench_service, None), PROFILES["heavy"], seed, delay_scale=0)
        for _ in range(n):
            await client.request("GET", "Observation", [("code", "K"), ("_count", "50")])
        return [r.get("fault") for r in client.requests]
    return asyncio.run(go())


def test_same_trial_seed_same_faults_other_seed_other_faults(bench_service):
    seed = trial_seed("mab-v1", "task9_3", 1)
    assert seed == trial_seed("mab-v1", "task9_3", 1)
    assert len({seed, trial_seed("mab-v1", "task9_3", 2), trial_seed("mab-v1", "task9_4", 1),
                trial_seed("other", "task9_3", 1)}) == 4
    first = _faults_of(bench_service, seed)
    assert first == _faults_of(bench_service, seed)
    assert any(first) and first != _faults_of(bench_service, trial_seed("mab-v1", "task9_3", 2))


def test_budget_bounds_the_extra_steps(bench_service):
    heavy = PROFILES["heavy"]
    for epoch in range(1, 30):
        kinds = _faults_of(bench_service, trial_seed("s", "t", epoch), n=12)
        assert sum(k in NOT_SENT for k in kinds) <= heavy.max_errors
        assert kinds.count("short_page") <= heavy.max_short_pages


def test_injected_error_is_a_production_reply_and_never_reaches_the_server(bench_service):
    from medagent import tasks

    # find a seed whose first request is refused
    seed = next(s for s in range(500) if _faults_of(bench_service, s, n=1)[0] in NOT_SENT)

    async def go():
        inner = _Recorder(bench_service, None)
        client = FaultyClient(inner, PROFILES["heavy"], seed, delay_scale=1.0, sleep=_no_sleep)
        env = tasks.ClientToolEnv(client)
        return await env.call("search_lab_observations", {"patient": "S0000001", "code": "K"}), inner

    result, inner = asyncio.run(go())
    assert not result.ok and result.status in (429, 503)
    assert result.retry_after == float(PROFILES["heavy"].retry_after_s)
    assert result.content["resourceType"] == "OperationOutcome"
    assert "Retry-After: 2" in result.content["issue"][0]["diagnostics"]
    assert len(inner.requests) == 1 and inner.requests[0]["fault"] in NOT_SENT  # recorded, not sent


async def _no_sleep(_s):
    return None


def test_short_page_then_next_page_gives_every_result(bench_service, bench_suite):
    """The short first page links to the rest with the count asked; following it gives
    exactly the results of the unfaulted search."""
    from medagent import tasks
    from medagent.tasks.categories._common import call_ok

    task = next(t for t in bench_suite.tasks if t.category == 9 and t.branch == "order")
    args = {"patient": task.patient, "code": "K", "count": 1000}

    async def plain():
        return await call_ok(tasks.ClientToolEnv(tasks.LocalFhirClient(bench_service)), "search_lab_observations", args)

    async def faulted(seed):
        client = FaultyClient(_Recorder(bench_service, None), PROFILES["heavy"], seed, delay_scale=0)
        env = tasks.ClientToolEnv(client, tools=(*tasks.TOOLS, tasks.NEXT_PAGE_TOOL))
        first = await env.call("search_lab_observations", args)
        return first, await call_ok(env, "search_lab_observations", args), client

    expected = asyncio.run(plain()).content
    assert len(expected["entry"]) > 3
    for seed in range(200):
        first, full, client = asyncio.run(faulted(seed))
        if client.requests[0].get("fault") == "short_page":
            break
    else:
        pytest.fail("no seed gave a short first page")
    assert first.ok and len(first.content["entry"]) <= 3 and first.content["total"] == expected["total"]
    nxt = first.content["link"][0]
    assert nxt["relation"] == "next" and "_count=1000" in nxt["url"]
    assert full.content["entry"] == expected["entry"]
    record = client.requests[0]
    assert record["asked_count"] == 1000 and ["_count", "1000"] not in record["params"]
    # the record holds the server's own reply: its next link asks for the small page size
    server_next = next(link["url"] for link in record["response"]["link"] if link["relation"] == "next")
    assert "_count=1000" not in server_next
    assert rewrite_next(record["response"], 1000)["link"] != record["response"]["link"]


def test_next_page_refuses_a_url_that_is_not_a_search(bench_service):
    from medagent import tasks

    env = tasks.ClientToolEnv(tasks.LocalFhirClient(bench_service), tools=(tasks.NEXT_PAGE_TOOL,))
    for url in ("http://x/fhir/Patient/S0000001", "http://x/fhir/../../sessions", "", "http://x/fhir/metadata"):
        result = asyncio.run(env.call("next_page", {"url": url}))
        assert not result.ok and result.status is None, url


def test_a_faulted_run_verifies_and_forged_fault_records_fail(heavy_run, bench_suite_path, tmp_path, capsys):
    """Replay skips the injected 429/503 (checking each is the fault layer's reply) and
    replays the short pages and slow replies as sent; a forged fault record fails."""
    from medagent.leaderboard import read_submission, write_submission
    from tests.leaderboard._runs import edited, trial

    sub = tmp_path / "heavy.json.gz"
    assert main(["submit", str(heavy_run), "-o", str(sub), "--suite", str(bench_suite_path)]) == 0
    assert main(["leaderboard", "verify", str(sub), "--suite", str(bench_suite_path)]) == 0
    out = capsys.readouterr().out
    assert "re-graded, overall 1.0000" in out and "harm-weighted +1.0000, under --faults heavy" in out
    doc = read_submission(sub)
    faulted = next(t for t in doc["trials"] if any(r.get("fault") in NOT_SENT for r in t["fhir_requests"]))
    number = next(i for i, r in enumerate(faulted["fhir_requests"]) if r.get("fault") in NOT_SENT)
    plain = next(t for t in doc["trials"] if t["fhir_requests"] and "fault" not in t["fhir_requests"][0])

    def edit_reply(d: dict) -> None:
        trial(d, faulted["trial_id"])["fhir_requests"][number]["response"]["issue"][0]["diagnostics"] = "x"

    def hide_a_read(d: dict) -> None:  # a request that reached the server passed off as refused
        trial(d, plain["trial_id"])["fhir_requests"][0]["fault"] = "throttled"

    def unknown_kind(d: dict) -> None:
        trial(d, plain["trial_id"])["fhir_requests"][0]["fault"] = "gremlin"

    def over_budget(d: dict) -> None:  # more 429/503 than the profile ever injects in a trial
        record = trial(d, faulted["trial_id"])
        requests, calls = record["fhir_requests"], record["tool_calls"]
        at = [i for i, c in enumerate(calls) if c.get("status") is not None][number]
        extra = PROFILES["heavy"].max_errors
        requests[number:number] = [dict(requests[number]) for _ in range(extra)]
        calls[at:at] = [dict(calls[at]) for _ in range(extra)]

    def no_profile(d: dict) -> None:
        d["metadata"]["faults"] = d["run"]["faults"] = d["scores"]["faults"] = "none"
        d["run"]["config"]["faults"] = "none"

    refused = sum(r.get("fault") in NOT_SENT for r in faulted["fhir_requests"])
    cases = [
        (edit_reply, f"trial {faulted['trial_id']}: request #{number + 1} "),
        (hide_a_read, f"trial {plain['trial_id']}: request #1 "),
        (unknown_kind, f"trial {plain['trial_id']}: unknown fault kind(s) gremlin"),
        (over_budget, f"trial {faulted['trial_id']}: {refused + 2} injected 429/503 replies, more than "
                      "the heavy profile's 2"),
        (no_profile, "trial "),
    ]
    for change, reason in cases:
        forged = write_submission(edited(doc, change), tmp_path / "forged.json")
        assert main(["leaderboard", "verify", str(forged), "--suite", str(bench_suite_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"medagent: error: {forged}: {reason}"), err
        if change is no_profile:
            assert "the run had no fault profile" in err


def test_same_trials_meet_the_same_faults_in_two_runs(bench_suite, bench_suite_path, tmp_path):
    chosen = [t.id for t in bench_suite.tasks if t.category in (4, 6, 9, 10)]
    for name in ("a", "b"):
        assert _bench(bench_suite_path, tmp_path / name, "--agent", "oracle", "--faults", "heavy",
                      "--concurrency", "3", "--tasks", *chosen) == 0

    def faults(name):
        return {t["trial_id"]: [(r["method"], r.get("fault"), r["status"]) for r in t["fhir_requests"]]
                for t in read_run(tmp_path / name).trials}

    first = faults("a")
    assert first == faults("b") and any(k for seq in first.values() for _, k, _ in seq)


@pytest.mark.parametrize("protocol", ["tools", "text"])
def test_the_model_sees_status_outcome_retry_after_and_the_next_link(bench_suite, bench_suite_path, oracle_scripts,
                                                                   tmp_path, protocol):
    """A model agent (the fake model replaying the oracle's calls) reads the fault as a
    production server gives it: the status, the OperationOutcome, Retry-After, and a next link."""
    from tests.fake_openai import FakeOpenAI, ReplayPolicy

    chosen = [t.id for t in bench_suite.tasks if t.category in (4, 6, 7, 9, 10)]
    with FakeOpenAI(ReplayPolicy(oracle_scripts)) as fake:
        assert _bench(bench_suite_path, tmp_path / "run", "--model", "fake-model", "--base-url", fake.url,
                      "--protocol", protocol, "--faults", "heavy", "--concurrency", "4", "--tasks", *chosen) == 0
        offered = [[t["function"]["name"] for t in body.get("tools") or []] for body in fake.requests]
    if protocol == "tools":
        assert all("next_page" in names for names in offered)
    texts = [m["content"] for t in read_run(tmp_path / "run").trials for m in t["messages"]
             if m.get("role") in ("tool", "user") and isinstance(m.get("content"), str)]
    refused = [x for x in texts if "OperationOutcome" in x and ("429" in x or "503" in x)]
    assert refused and all("Retry-After: 0" in x for x in refused)
    if protocol == "tools":
        assert all(x.startswith(("error: HTTP 429 (Retry-After: 0 s): ", "error: HTTP 503 (Retry-After: 0 s): "))
                   for x in refused)
    else:
        assert all(x.startswith(("Response of the GET request (HTTP 429, Retry-After: 0)",
                                 "Response of the GET request (HTTP 503, Retry-After: 0)",
                                 "Response of the POST request (HTTP 429, Retry-After: 0)",
                                 "Response of the POST request (HTTP 503, Retry-After: 0)")) for x in refused)
    assert any('"relation":"next"' in x and "_offset=" in x for x in texts)


def test_oracle_under_light_faults(bench_suite, bench_suite_path, tmp_path):
    chosen = [t.id for t in bench_suite.tasks if t.category in (1, 5, 9)]
    assert _bench(bench_suite_path, tmp_path / "run", "--agent", "oracle", "--faults", "light",
                  "--tasks", *chosen) == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.summary["overall"] == 1.0 and folder.summary["faults"] == "light"
    light = PROFILES["light"]
    for t in folder.trials:
        assert sum(r.get("fault") in NOT_SENT for r in t["fhir_requests"]) <= light.max_errors


def test_faults_over_http_the_same_as_in_process(bench_suite, bench_suite_path, tmp_path):
    """The wrapper sits on the trial's client whatever the backend: over a real socket the
    oracle meets the same faults as in-process and still scores 100 %."""
    chosen = [t.id for t in bench_suite.tasks if t.category in (4, 9, 10)]
    runs = {}
    for name, extra in (("http", ("--fhir-url", "embedded-http")), ("local", ())):
        assert _bench(bench_suite_path, tmp_path / name, "--agent", "oracle", "--faults", "heavy",
                      "--tasks", *chosen, *extra) == 0
        folder = read_run(tmp_path / name, need_summary=True)
        assert folder.summary["overall"] == 1.0
        runs[name] = {t["trial_id"]: [r.get("fault") for r in t["fhir_requests"]] for t in folder.trials}
    assert runs["http"] == runs["local"] and any(k for seq in runs["http"].values() for k in seq)


def test_steps_spent_on_injected_faults_are_given_back(bench_service, bench_suite):
    """An agent with a budget of 3 rounds (two reads and finish) still finishes when the EHR
    refuses two of its calls: each injected 429/503 gives its step back; without faults the
    fourth read is over the limit."""
    from dataclasses import replace

    from medagent.env import StepLimitReached, TrialEnv

    always = replace(PROFILES["heavy"], error_rate=1.0, max_errors=2, short_page_rate=0.0)
    task = bench_suite.tasks[0]
    args = {"patient": "S0000001", "code": "K"}

    async def go(faults):
        env = TrialEnv(task.view(), _Recorder(bench_service, None), max_steps=3, faults=faults)
        statuses = [(await env.call("search_lab_observations", args)).status for _ in range(4)]
        env.finish(["done"])
        return statuses, env.steps

    statuses, steps = asyncio.run(go(FaultyClient(None, always, 1, delay_scale=0)))
    assert sorted(statuses[:2]) != [200, 200] and all(s in (429, 503) for s in statuses[:2])
    assert statuses[2:] == [200, 200] and steps == 5  # 3 rounds + the 2 the faults took

    with pytest.raises(StepLimitReached):
        asyncio.run(go(None))  # no faults: the fourth read is beyond the budget
