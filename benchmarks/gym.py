"""Gym at scale: episodes/s and step latency at 1, 64 and 1024 concurrent episodes.

    python benchmarks/gym.py [--suite mab-edge-v1] [--sizes 1,64,1024] [--seconds 10]

All episodes of a size run in one ``medagent.gym_vector.MedVectorEnv`` (one asyncio loop,
one ``FhirService`` over the suite's store, one server session per episode). The policy
replays each task's reference solution (recorded once through a real session), so every
episode does the real reads, writes and grading of a solved episode; autoreset draws the
next task from the suite. Prints, per size:

- episodes/s and env steps/s (one env step = one tool call or ``finish`` of one episode);
- vector step latency p50 / p99 (one ``step`` of all n episodes), and the mean time per
  env step (wall time / env steps: one core's cost of a step, session and grading included);
- the baseline of the same run: the same requests replayed straight into
  ``FhirService.dispatch`` (no gym, no tools, no grading), per request.

Then memory: Python heap per open episode (tracemalloc) right after ``reset`` and after
each episode made 4 writes; an episode holds O(its writes) (replies are not kept).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _raw_per_request(service, scripts) -> float:
    import orjson

    total, n = 0.0, 0
    for script in scripts.values():
        session = service.create_session()
        for method, path, params, body in script.requests:
            raw = orjson.dumps(body) if body is not None else None
            t0 = time.perf_counter()
            service.dispatch(method, path, list(params), raw, {"accept": "application/fhir+json"}, session)
            total += time.perf_counter() - t0
            n += 1
        service.delete_session(session)
    return total / max(n, 1)


def _run_size(suite, service, scripts, n: int, seconds: float) -> dict[str, float]:
    from medagent.gym_vector import MedVectorEnv

    envs = MedVectorEnv(n, suite, service=service, max_steps=100)

    async def go() -> dict[str, float]:
        obs, infos = await envs.areset(seed=n)
        current = list(infos["task_id"])
        pos = [0] * n
        lat: list[float] = []
        episodes = steps = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or len(lat) < 4:
            actions = []
            for i in range(n):
                script = scripts[current[i]]
                if pos[i] < len(script.calls):
                    name, args = script.calls[pos[i]]
                else:
                    name, args = "finish", {"answer": script.answer}
                actions.append(json.dumps({"name": name, "arguments": args}))
            t0 = time.perf_counter()
            obs, rewards, terminated, truncated, infos = await envs.astep(actions)
            lat.append(time.perf_counter() - t0)
            restarted = infos.get("_task_id")
            for i in range(n):
                if restarted is not None and restarted[i]:
                    current[i], pos[i] = infos["task_id"][i], 0  # autoreset: a new episode began
                    continue
                steps += 1
                pos[i] += 1
                if terminated[i] or truncated[i]:
                    episodes += 1
                    assert rewards[i] == 1.0, (current[i], obs[i][:300])
        wall = time.perf_counter() - start
        await envs.aclose()
        lat.sort()
        return {"episodes_s": episodes / wall, "steps_s": steps / wall, "p50": statistics.median(lat),
                "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))], "episodes": episodes, "wall": wall}

    return asyncio.run(go())


def _memory(suite, service, scripts, n: int) -> tuple[float, float]:
    """Heap bytes per open episode: fresh, and after 4 writes each."""
    from medagent.gym_vector import MedVectorEnv

    task = next(t for t in suite.tasks if t.category == 3)
    name, args = next(c for c in scripts[task.id].calls if c[0] == "create_vital_sign")
    write = json.dumps({"name": name, "arguments": args})
    envs = MedVectorEnv(n, suite, task.id, service=service, max_steps=100)

    async def go() -> tuple[float, float]:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        await envs.areset(seed=0)
        fresh = tracemalloc.get_traced_memory()[0]
        for _ in range(4):
            obs, *_ = await envs.astep([write] * n)
        assert json.loads(obs[0])["status"] == 201, obs[0][:300]
        written = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        await envs.aclose()
        return (fresh - base) / n, (written - base) / n

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="mab-edge-v1")
    parser.add_argument("--sizes", default="1,64,1024")
    parser.add_argument("--seconds", type=float, default=10.0, help="time per size")
    args = parser.parse_args()

    from medagent import tasks

    from medagent.embedded import open_service
    from tests.fake_openai import record_oracle

    suite = tasks.load_suite(args.suite)
    service = open_service(suite)
    # one script per task id (record_oracle keys by prompt, which two tasks may share)
    scripts = {t.id: next(iter(record_oracle([t], service).values()))[1] for t in suite.tasks}
    raw = _raw_per_request(service, scripts)
    per_episode = statistics.mean(len(s.calls) + 1 for s in scripts.values())
    print(f"suite {suite.id}: {len(suite.tasks)} tasks, {per_episode:.2f} steps per solved episode (finish included)")
    print(f"baseline: raw FhirService.dispatch of the same requests: {raw * 1e6:.0f} µs/request")
    print(f"{'episodes':>8} {'episodes/s':>11} {'steps/s':>9} {'vec step p50':>13} {'p99':>9} "
          f"{'µs/env-step':>12} {'× raw':>6}")
    for n in (int(x) for x in args.sizes.split(",")):
        r = _run_size(suite, service, scripts, n, args.seconds)
        per_step = 1 / r["steps_s"]
        print(f"{n:>8} {r['episodes_s']:>11.0f} {r['steps_s']:>9.0f} {r['p50'] * 1e3:>10.2f} ms "
              f"{r['p99'] * 1e3:>6.1f} ms {per_step * 1e6:>12.0f} {per_step / raw:>6.1f}")
    fresh, written = _memory(suite, service, scripts, 1024)
    print(f"memory per open episode (1024 open): {fresh / 1024:.1f} KiB after reset (the first observation "
          f"included), {written / 1024:.1f} KiB after 4 writes each ({(written - fresh) / 4 / 1024:.2f} KiB/write; "
          "the written resources themselves are session rows in SQLite, not in the heap)")


if __name__ == "__main__":
    main()
