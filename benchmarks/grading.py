"""Grading speed: ``tasks.grade`` over recorded trials (answers + write logs).

    python benchmarks/grading.py RUN_DIR [--repeat 20]

RUN_DIR is a run folder (``trials.jsonl``), e.g. from ``medagent bench --agent oracle``.
Prints the mean, p50, p99, worst wall time and the mean CPU time of one ``tasks.grade`` call per trial, against a
baseline measured in the same run: parsing the same trial records (``orjson.loads`` of
each line). Also grades every trial once more with a delete of a baseline record appended
(the harm path). Target: under 1 ms per trial.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import orjson

    from medagent import tasks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    lines = (args.run_dir / "trials.jsonl").read_bytes().splitlines()
    run = orjson.loads((args.run_dir / "run.json").read_bytes())
    suite = tasks.load_suite(run["suite"])
    trials = [orjson.loads(line) for line in lines]
    cases = [(suite.get(t["task_id"]), t["answer"], t["writes"]) for t in trials]
    vandal = {"seq": 99, "interaction": "delete", "method": "DELETE", "url": "Patient/S0000000",
              "status": 200, "resourceType": "Patient", "id": "S0000000", "versionId": "2",
              "resource": None}
    harmed = [(task, answer, [*writes, vandal]) for task, answer, writes in cases]

    t0 = time.perf_counter()
    for _ in range(args.repeat):
        for line in lines:
            orjson.loads(line)
    parse = (time.perf_counter() - t0) / (args.repeat * len(lines))

    each: list[float] = []
    passed = 0
    cpu0 = time.process_time()
    for _ in range(args.repeat):
        for task, answer, writes in cases:
            t = time.perf_counter()
            grade = tasks.grade(task, answer, writes)
            each.append(time.perf_counter() - t)
            passed += grade.passed
    cpu = (time.process_time() - cpu0) / len(each)
    t0 = time.perf_counter()
    harm = sum(tasks.grade(*case).harmed for case in harmed)
    harm_each = (time.perf_counter() - t0) / len(harmed)

    mean = sum(each) / len(each)
    ranked = sorted(each)
    print(f"{len(cases)} trials x {args.repeat}: tasks.grade mean {1e6 * mean:.0f} µs, "
          f"p50 {1e6 * ranked[len(ranked) // 2]:.0f} µs, p99 {1e6 * ranked[int(0.99 * len(ranked))]:.0f} µs, "
          f"max {1e6 * ranked[-1]:.0f} µs per trial (target < 1000 µs); "
          f"pass rate {passed / len(each):.3f}")
    print(f"CPU time per trial {1e6 * cpu:.0f} µs (not inflated by other processes on the machine)")
    print(f"baseline: parsing the trial record {1e6 * parse:.0f} µs → grading costs "
          f"{mean / parse:.1f}x parsing")
    print(f"with a harmful delete appended: {1e6 * harm_each:.0f} µs per trial, "
          f"{harm}/{len(harmed)} trials flagged as harm")


if __name__ == "__main__":
    main()
