"""``medagent bench --executor ray`` on a Ray cluster started by the test (``ray start --head``
on this machine with token authentication on, two worker actors): the oracle scores 100 %
with the local executor's ``summary.json``, a worker killed mid-trial loses nothing and
counts nothing twice, a driver killed mid-run resumes with ``--resume``, and a driver
reaches the cluster both at its GCS address (``HOST:PORT``) and through the Ray client
(``ray://``) with the cluster's token taken from the environment (never the command line).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]
TIMING = {"wall_time_s"}
START = "import sys; from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _has_ray_client() -> bool:
    try:
        import grpc  # noqa: F401 - the Ray client's transport (ray[client])
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def ray_cluster(request, tmp_path_factory):
    """A head node in its own process group, its token only in the environment, joined by
    this process at its GCS address through the executor's ``connect``."""
    from medagent.bench import BenchConfig
    from medagent.executors.ray_executor import connect

    token = secrets.token_hex(16)
    died = tmp_path_factory.mktemp("ray-markers") / "died"
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's unix socket paths have a length limit
    gcs, client = _free_port(), _free_port() if _has_ray_client() else None
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0",
           "MEDAGENT_TEST_DIE_ONCE": str(died)}  # the workers inherit the head's environment
    log = open(Path(temp) / "head.log", "w+")
    args = [sys.executable, "-c", START, "start", "--head", "--block", "--port", str(gcs), "--node-ip-address",
            "127.0.0.1", "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp]
    if client:
        args += ["--ray-client-server-port", str(client)]
    head = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_TOKEN", "RAY_AUTH_MODE")}
    try:
        request.getfixturevalue("bench_service")  # the small cohort's store, seeded while the head starts
        deadline = time.monotonic() + 180  # ~15 s idle; 40 s seen on a loaded machine
        while "Ray runtime started" not in Path(log.name).read_text():
            assert head.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()[-3000:]
            time.sleep(0.2)
        os.environ["RAY_AUTH_TOKEN"] = token  # as a user's driver gets it; never on the command line
        assert connect(BenchConfig(suite="x", executor="ray", ray_address=f"127.0.0.1:{gcs}")) is True
        yield SimpleNamespace(died=died, token=token, client=f"ray://127.0.0.1:{client}" if client else None,
                              gcs=f"127.0.0.1:{gcs}", logs=Path(temp) / "session_latest" / "logs")
    finally:
        ray.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for sig in (signal.SIGTERM, signal.SIGKILL):  # the head's own process group: all of its Ray processes
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            try:
                head.wait(3)
            except subprocess.TimeoutExpired:
                pass
        head.wait()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


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


class Slow:
    """The null agent, a quarter second per trial (a driver can be killed mid-run)."""

    uses_model = False

    async def run(self, task, env):
        import asyncio

        await asyncio.sleep(0.25)
        await env.call("search_patients", {"family": "Nobody"})
        env.finish([])


def _client_server_logs(cluster) -> str:
    """The tails of the head's Ray client server logs (for a failure's message)."""
    return "".join(f"\n--- {p.name}\n" + p.read_text(errors="replace")[-1500:]
                   for p in sorted(cluster.logs.glob("ray_client_server*.err")))


def _bench(suite_path, out, *, resume=False, **kw):
    from medagent.bench import BenchConfig, run_bench

    return run_bench(BenchConfig(suite=str(suite_path), **kw), out, resume=resume, progress=False)


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines() if line.strip()]


def _comparable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in TIMING}


def test_oracle_on_ray_matches_the_local_executor_and_resumes(ray_cluster, bench_suite, bench_suite_path, tmp_path):
    local = _bench(bench_suite_path, tmp_path / "local", agent="oracle", concurrency=4)
    assert local["overall"] == 1.0 and local["n_trials"] == len(bench_suite.tasks)
    # what a driver killed after 7 records leaves: --resume on Ray runs only the rest, on two workers
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
                     concurrency=2, executor="ray", ray_workers=2, tasks=["3", "4"])
    assert ray_cluster.died.exists()  # a worker did die mid-trial
    expected = sorted(f"{t.id}#1" for t in bench_suite.tasks if t.category in (3, 4))
    ids = [r["trial_id"] for r in _records(tmp_path / "run")]
    assert sorted(ids) == expected  # every trial, once
    assert summary["n_trials"] == len(expected) and summary["errors"] == 0
    assert all(r["status"] == "completed" for r in _records(tmp_path / "run"))


def test_bad_ray_flags_are_one_line_errors(bench_suite_path, tmp_path, capsys):
    from medagent.cli import main

    assert main(["bench", "--suite", str(bench_suite_path), "--agent", "oracle", "--executor", "ray",
                 "--ray-workers", "0", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--ray-workers must be at least 1" in err and "Traceback" not in err


def test_workers_use_the_fhir_server_at_fhir_url_as_seen_from_their_node(ray_cluster, bench_suite, bench_service,
                                                                          bench_suite_path, tmp_path):
    from medagent.fhir_server import serve_in_thread

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


def test_a_driver_killed_mid_run_over_ray_client_resumes(ray_cluster, bench_suite, bench_suite_path, tmp_path):
    """``medagent bench --ray-address ray://…`` (the cluster's token in RAY_AUTH_TOKEN only):
    the driver process is killed (SIGKILL) mid-run, then ``--resume`` finishes the run."""
    if ray_cluster.client is None:
        pytest.skip("the Ray client needs ray[client] (grpcio)")
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    env["RAY_AUTH_TOKEN"] = ray_cluster.token
    cmd = [sys.executable, "-m", "medagent", "bench", "--suite", str(bench_suite_path), "--tasks", "1", "2",
           "--agent", "tests.harness.test_ray_executor:Slow", "--executor", "ray", "--ray-address",
           ray_cluster.client, "--ray-workers", "1", "--concurrency", "1", "--out", str(out)]
    expected = sorted(f"{t.id}#1" for t in bench_suite.tasks if t.category in (1, 2))
    driver = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not ((out / "trials.jsonl").exists() and len(_records(out)) >= 3):
        assert driver.poll() is None and time.monotonic() < deadline, (driver.communicate()[0][-3000:]
                                                                        + _client_server_logs(ray_cluster))
        time.sleep(0.05)
    driver.kill()
    first = driver.communicate()[0]
    before = [r["trial_id"] for r in _records(out)]
    assert 3 <= len(before) < len(expected)
    resumed = subprocess.run([sys.executable, "-m", "medagent", "bench", "--resume",
                              str(out), "--executor", "ray", "--ray-address", ray_cluster.client],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:] + _client_server_logs(ray_cluster)
    records = _records(out)
    assert [r["trial_id"] for r in records[:len(before)]] == before  # the killed driver's records kept
    assert sorted(r["trial_id"] for r in records) == expected  # every trial once
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_trials"] == len(expected) and summary["errors"] == 0
    # the token went nowhere: not in the output, the records or the run folder
    for text in (first, resumed.stdout, resumed.stderr, *(p.read_text() for p in out.iterdir() if p.is_file())):
        assert ray_cluster.token not in text
