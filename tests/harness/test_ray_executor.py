"""``medagent bench --executor ray`` on a local Ray cluster started by the test (two worker
actors on this machine, 127.0.0.1): the oracle scores 100 % with the local executor's
summary, a worker killed mid-trial loses nothing and counts nothing twice, and a run whose
driver was killed resumes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

TIMING = {"wall_time_s"}


@pytest.fixture(scope="module")
def ray_cluster(bench_service, tmp_path_factory):
    marker_dir = tmp_path_factory.mktemp("ray-markers")
    os.environ["MEDAGENT_TEST_DIE_ONCE"] = str(marker_dir / "died")  # read by DiesOnce in the workers
    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
             configure_logging=False, runtime_env={"env_vars": {"MEDAGENT_HOME": os.environ["MEDAGENT_HOME"],
                                                                 "MEDAGENT_TEST_DIE_ONCE": str(marker_dir / "died")}})
    yield marker_dir / "died"
    ray.shutdown()


class DiesOnce:
    """The first trial of category 4 it meets kills its worker process (once per test run);
    every trial answers like the null agent."""

    uses_model = False

    async def run(self, task, env):
        marker = Path(os.environ["MEDAGENT_TEST_DIE_ONCE"])
        if task.category == 4:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                os._exit(1)  # the worker is lost mid-trial
        await env.call("search_patients", {"family": "Nobody"})
        env.finish([])


def _bench(suite_path, out, *, resume=False, **kw):
    from medagent.bench import BenchConfig, run_bench

    return run_bench(BenchConfig(suite=str(suite_path), **kw), out, resume=resume, progress=False)


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines() if line.strip()]


def _comparable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in TIMING}


def test_oracle_on_ray_matches_the_local_executor_and_resumes(ray_cluster, bench_suite, bench_suite_path, tmp_path):
    local = _bench(bench_suite_path, tmp_path / "local", agent="oracle", concurrency=4)
    assert local["overall"] == 1.0
    # a driver killed after 7 records: --resume on Ray runs only the rest, on two workers
    run = tmp_path / "ray"
    shutil.copytree(tmp_path / "local", run)
    lines = (run / "trials.jsonl").read_text().splitlines(keepends=True)
    (run / "trials.jsonl").write_text("".join(lines[:7]))
    (run / "summary.json").unlink()
    on_ray = _bench(bench_suite_path, run, resume=True, agent="oracle", concurrency=2, executor="ray",
                    ray_workers=2)
    assert on_ray["overall"] == 1.0 and on_ray["n_trials"] == len(bench_suite.tasks)
    assert _comparable(on_ray) == _comparable(local)  # the same summary.json apart from timing
    records = _records(run)
    assert [json.loads(line)["trial_id"] for line in lines[:7]] == [r["trial_id"] for r in records[:7]]
    assert sorted(r["trial_id"] for r in records) == sorted(f"{t.id}#1" for t in bench_suite.tasks)  # once each
    assert all(r["grade"]["passed"] for r in records[7:])
    assert json.loads((run / "run.json").read_text())["config"]["executor"] == "local"  # as first run


def test_a_worker_lost_mid_trial_loses_nothing_and_counts_nothing_twice(ray_cluster, bench_suite,
                                                                         bench_suite_path, tmp_path):
    summary = _bench(bench_suite_path, tmp_path / "run", agent="tests.harness.test_ray_executor:DiesOnce",
                     concurrency=2, executor="ray", ray_workers=2)
    assert ray_cluster.exists()  # a worker did die mid-trial
    ids = [r["trial_id"] for r in _records(tmp_path / "run")]
    assert sorted(ids) == sorted(f"{t.id}#1" for t in bench_suite.tasks)  # every trial, once
    assert summary["n_trials"] == len(bench_suite.tasks) and summary["errors"] == 0
    assert all(r["status"] == "completed" for r in _records(tmp_path / "run"))


def test_bad_ray_flags_are_one_line_errors(bench_suite_path, tmp_path, capsys):
    from medagent.cli import main

    assert main(["bench", "--suite", str(bench_suite_path), "--agent", "oracle", "--executor", "ray",
                 "--ray-workers", "0", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--ray-workers must be at least 1" in err and "Traceback" not in err


def test_workers_use_the_fhir_server_at_fhir_url_as_seen_from_their_node(ray_cluster, bench_suite, bench_service,
                                                                          bench_suite_path, tmp_path):
    from fhir_server import serve_in_thread

    with serve_in_thread(bench_service.store) as server:
        before = bench_service.store.conn().execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        summary = _bench(bench_suite_path, tmp_path / "run", agent="oracle", concurrency=2, executor="ray",
                         ray_workers=2, fhir_url=server.base_url, tasks=["5"])
    records = _records(tmp_path / "run")
    assert summary["overall"] == 1.0 and len(records) == len(bench_suite.category(5))
    # the trials' requests went over HTTP to that server (its session URLs), and their sessions were closed
    root = server.base_url.split("/fhir")[0]
    assert all(f"{root}/sessions/" in json.dumps(r["fhir_requests"][0]) for r in records)
    assert bench_service.store.conn().execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == before
