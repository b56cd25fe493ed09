"""`medagent view`, and `medagent bench --fhir-url` against a real server over HTTP."""

from __future__ import annotations

from medagent.cli import main
from medagent.runfolder import read_run


def test_bench_over_http_session_api(bench_suite, bench_suite_path, bench_service, tmp_path):
    from fhir_server import serve_in_thread

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
    from fhir_server import Store, serve_in_thread

    with serve_in_thread(Store(tmp_path / "empty.db")) as server:
        assert main(["bench", "--suite", str(bench_suite_path), "--out", str(tmp_path / "a"), "--agent", "oracle",
                     "--fhir-url", server.base_url, "--quiet"]) == 2
        assert "does not hold the cohort" in capsys.readouterr().err
    assert main(["bench", "--suite", str(bench_suite_path), "--out", str(tmp_path / "b"), "--agent", "oracle",
                 "--fhir-url", server.base_url, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "failed" in err and "\n" not in err.strip()
