"""`medagent view`, and `medagent bench --fhir-url` against a real server over HTTP."""

from __future__ import annotations

from medagent.cli import main
from medagent.runfolder import read_run


def test_bench_over_http_session_api(bench_suite, bench_suite_path, bench_service, tmp_path):
    from medagent.fhir_server import serve_in_thread

    with serve_in_thread(bench_service.store) as server:
        assert main(["bench", "--suite", str(bench_suite_path), "--out", str(tmp_path / "run"),
                     "--agent", "oracle", "--fhir-url", server.base_url, "--quiet"]) == 0
        assert bench_service.store is server.store
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.summary["overall"] == 1.0
    assert folder.run["fhir"] == server.base_url
    assert any(t["writes"] for t in folder.trials)


def test_embedded_http_mode(bench_suite, bench_suite_path, tmp_path):
    assert main(["bench", "--suite", str(bench_suite_path), "--out", str(tmp_path / "run"), "--agent", "oracle",
                 "--fhir-url", "embedded-http", "--tasks", "1", "9", "--quiet"]) == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.summary["overall"] == 1.0
    assert folder.run["fhir"] == "embedded-http"
    assert any(t["writes"] for t in folder.trials)  # category 9 orders went through the session API


def test_view_summary_and_one_trajectory(bench_suite, bench_suite_path, tmp_path, capsys):
    out = tmp_path / "run"
    task = next(t for t in bench_suite.tasks if t.kind == "action")
    assert main(["bench", "--suite", str(bench_suite_path), "--out", str(out), "--agent", "oracle",
                 "--tasks", task.id, "1", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["view", str(out)]) == 0
    text = capsys.readouterr().out
    assert "overall" in text and task.id in text
    assert main(["view", str(out), task.id]) == 0
    text = capsys.readouterr().out
    assert "grade: passed" in text and "answer:" in text
    assert main(["view", str(out), "task_nope"]) == 2
    assert "no trial 'task_nope'" in capsys.readouterr().err


def test_a_server_without_the_cohort_or_unreachable_is_one_line(bench_suite_path, tmp_path, capsys):
    from medagent.fhir_server import Store, serve_in_thread

    with serve_in_thread(Store(tmp_path / "empty.db")) as server:
        assert main(["bench", "--suite", str(bench_suite_path), "--out", str(tmp_path / "a"), "--agent", "oracle",
                     "--fhir-url", server.base_url, "--quiet"]) == 2
        assert "does not hold the cohort" in capsys.readouterr().err
    assert main(["bench", "--suite", str(bench_suite_path), "--out", str(tmp_path / "b"), "--agent", "oracle",
                 "--fhir-url", server.base_url, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "failed" in err and "\n" not in err.strip()


def test_a_server_of_the_other_profile_is_refused_by_its_marker(bench_suite, bench_service, tmp_path, capsys):
    """mab-v1 and edge-v1 cohorts of one seed and size share their patients' MRNs, so a sample
    Patient cannot tell them apart: the session-API check reads the cohort marker instead."""
    import httpx

    from medagent import patients
    from medagent import tasks
    from medagent.fhir_server import serve_in_thread

    edge = tasks.build_suite("edge-twin", 11, patients.ensure_cohort(bench_suite.cohort_seed,
                                                                      bench_suite.cohort_n_patients, "edge-v1"),
                             per_category=1)
    assert edge.cohort_profile == "edge-v1" and edge.cohort_checksum != bench_suite.cohort_checksum
    jsonl, _ = tasks.write_suite(edge, tmp_path / "suite")
    with serve_in_thread(bench_service.store) as server:  # holds the mab-v1 cohort
        mrn = next(t.patient for t in edge.tasks if t.patient)
        assert httpx.get(f"{server.base_url}/Patient/{mrn}").status_code == 200  # a sample Patient matches
        capsys.readouterr()
        assert main(["bench", "--suite", str(jsonl), "--out", str(tmp_path / "run"), "--agent", "oracle",
                     "--fhir-url", server.base_url, "--sessions", "on", "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "Traceback" not in err
        assert err.startswith(f"medagent: error: FHIR server {server.base_url} does not hold the cohort of suite "
                              "edge-twin (profile edge-v1")
        assert "no cohort marker on the server" in err
        # the suite of the cohort it does hold still runs
        assert main(["bench", "--suite", str(tasks.write_suite(bench_suite, tmp_path / "mab")[0]),
                     "--out", str(tmp_path / "ok"), "--agent", "oracle", "--fhir-url", server.base_url,
                     "--sessions", "on", "--tasks", "1", "--quiet"]) == 0


def test_http_backend_collects_every_page_of_the_log(running_server):
    """The server pages GET /sessions/{id}/log; the bench's backend follows every page."""
    import asyncio

    import httpx

    from medagent.bench.backends import HttpBackend
    from tests.fhir_server.test_sessions import _session_with_writes

    server = running_server(max_log_entries=2)
    sid, url = _session_with_writes(server, 5)

    async def close() -> list[dict]:
        backend = HttpBackend(server.base_url)
        try:
            return await backend.close(sid)
        finally:
            await backend.aclose()

    writes = asyncio.run(close())
    assert [e["seq"] for e in writes] == [1, 2, 3, 4, 5]
    assert httpx.get(url).status_code == 404  # and the session was deleted
