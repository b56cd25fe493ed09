"""The Ray executor on this machine: trial throughput and the two ways a node gets its cohort.

    python benchmarks/ray_executor.py [--suite mab-edge-v1] [--workers 2] [--skip-seed]

Starts a local Ray cluster (this machine's CPUs) and prints, each against a
baseline of the same run:

- the driver's write path: time per record appended to ``trials.jsonl`` (the ceiling of
  records/s a single driver can take, whatever the executor);
- the whole suite with the ``oracle`` agent through ``run_bench``: local executor vs
  ``--executor ray`` with ``--workers`` actors (cluster start-up not included; the actors'
  first-use of the already-seeded replica is), i.e. the driver's record path and Ray's
  per-trial round trip against the in-process loop;
- a node's cohort replica: ``ship`` (the seeded store checkpointed, put into the object
  store in 64 MiB chunks, fetched by a remote task and written + fsynced to a fresh file)
  vs ``seed`` (a fresh ``$MEDAGENT_HOME``: generate the cohort and bulk-load it, what a
  new node does on first use). ``--skip-seed`` leaves the (minutes-long) seed out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _suite_run(suite_id: str, executor: str, workers: int) -> tuple[float, float, int]:
    """Wall time, the driver's time appending records (serialise + write + fsync), bytes written."""
    from medagent.bench import BenchConfig, run_bench

    out = Path(tempfile.mkdtemp(prefix="medagent-raybench-")) / "run"
    config = BenchConfig(suite=suite_id, agent="oracle", concurrency=8, executor=executor, ray_workers=workers)
    stats: dict[str, float] = {}
    t0 = time.perf_counter()
    summary = run_bench(config, out, progress=False, stats=stats)
    wall = time.perf_counter() - t0
    assert summary["overall"] == 1.0, summary
    size = (out / "trials.jsonl").stat().st_size
    if executor == "local":
        _group_commit(out / "trials.jsonl")
    shutil.rmtree(out.parent)
    return wall, stats["write_s"], size


def _group_commit(trials_path: Path, batch: int = 32) -> None:
    """The same records appended one fsync each vs one fsync per ``batch`` (the Ray driver's way)."""
    from medagent.runfolder import TrialLog, read_trials

    records = read_trials(trials_path)
    times = {}
    for mode in ("each", "group"):
        log = TrialLog(trials_path.with_name(f"{mode}.jsonl"))
        log.open()
        t0 = time.perf_counter()
        if mode == "each":
            for record in records:
                log.append(record)
        else:
            for i in range(0, len(records), batch):
                log.append_many(records[i:i + batch])
        times[mode] = time.perf_counter() - t0
        log.close()
    n = len(records)
    print(f"driver records/s: {n / times['each']:.0f} with one fsync per record, {n / times['group']:.0f} with "
          f"group commit of {batch} ({times['each'] / times['group']:.1f}x)")


def _ship(ray, suite) -> tuple[float, float, int]:
    from medagent.executors.ray_executor import _ship_chunks

    t0 = time.perf_counter()
    chunks = _ship_chunks(ray, suite)
    put_s = time.perf_counter() - t0

    @ray.remote(num_cpus=0)
    def receive(refs: list) -> int:
        path = Path(tempfile.mkdtemp(prefix="medagent-ship-")) / "cohort.db"
        size = 0
        with open(path, "wb") as out:
            for ref in refs:
                block = ray.get(ref)
                out.write(block)
                size += len(block)
            out.flush()
            os.fsync(out.fileno())
        shutil.rmtree(path.parent)
        return size

    t0 = time.perf_counter()
    size = ray.get(receive.remote(chunks))
    return put_s, time.perf_counter() - t0, size


def _seed(suite) -> float:
    import subprocess

    home = tempfile.mkdtemp(prefix="medagent-seedbench-")
    code = ("import time; from medagent import tasks; from medagent.embedded import open_service; t=time.perf_counter(); "
            f"open_service(tasks.load_suite({suite.id!r})); print(time.perf_counter()-t)")
    try:
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "MEDAGENT_HOME": home},
                             capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="mab-edge-v1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-seed", action="store_true")
    args = parser.parse_args()

    import ray

    from medagent import tasks

    from medagent.embedded import open_service

    suite = tasks.load_suite(args.suite)
    open_service(suite)  # seeded before timing
    local, write_s, size = _suite_run(args.suite, "local", 1)
    n = len(suite.tasks)
    print(f"driver write path: {write_s / n * 1e3:.2f} ms per record (append + fsync, {size / n / 1024:.1f} KiB each) "
          f"= at most {n / write_s:.0f} records/s")
    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        on_ray = _suite_run(args.suite, "ray", args.workers)[0]
        print(f"oracle, {len(suite.tasks)} trials: local executor {local:.2f} s, ray executor ({args.workers} workers) "
              f"{on_ray:.2f} s ({on_ray / local:.1f}x; {len(suite.tasks) / on_ray:.0f} trials/s)")
        put_s, get_s, size = _ship(ray, suite)
        print(f"replica by ship: {size / 2**20:.0f} MiB, put {put_s:.1f} s (once, on the driver), "
              f"fetch + write + fsync {get_s:.1f} s per node ({size / 2**20 / get_s:.0f} MiB/s)")
    finally:
        ray.shutdown()
    if not args.skip_seed:
        seed_s = _seed(suite)
        print(f"replica by seed: generate + bulk-load {seed_s:.1f} s per node (all nodes in parallel)")


if __name__ == "__main__":
    main()
