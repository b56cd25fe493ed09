"""The Gymnasium API of the gym: registered ids, Gymnasium's own env checker, seeded task
choice, the vectorised form (episodes isolated from each other) and no access to the answer key."""

from __future__ import annotations

import json

import pytest

gymnasium = pytest.importorskip("gymnasium")
gym = pytest.importorskip("medagent.gym")


def _script(oracle_scripts, task_id):
    return next(script for tid, script in oracle_scripts.values() if tid == task_id)


def _write_task(bench_suite):
    """An action task whose reference solution writes (an order or a vital sign)."""
    return next(t for t in bench_suite.tasks if t.category == 3)


def test_gymnasium_env_checker_passes(bench_suite, bench_service):
    from gymnasium.utils.env_checker import check_env

    task = bench_suite.tasks[0]
    env = gym.make(bench_suite, task.id, service=bench_service)
    check_env(env, skip_render_check=True)
    env.close()
    suite_env = gym.MedEnv(bench_suite, service=bench_service)  # the task is chosen per reset
    check_env(suite_env, skip_render_check=True)
    suite_env.close()


def test_every_bundled_suite_and_task_has_a_registered_id(bench_service):
    from medagent import tasks

    suite = tasks.load_suite("mab-edge-v1")
    for env_id in ("medagent/mab-edge-v1", "medagent/mab-v1", f"medagent/mab-edge-v1-{suite.tasks[7].id}"):
        assert env_id in gymnasium.registry, env_id
    assert len([i for i in gymnasium.registry if i.startswith("medagent/mab-edge-v1-")]) == len(suite.tasks)
    spec = gymnasium.spec("medagent/mab-edge-v1-task4_3")
    assert spec.kwargs == {"suite": "mab-edge-v1", "task_id": "task4_3"}
    # gymnasium.make builds it (the service is swapped for the small test store: no cohort build)
    env = gymnasium.make("medagent/mab-edge-v1-task4_3", service=bench_service, max_steps=3)
    obs, info = env.reset(seed=1)
    assert info["task_id"] == "task4_3" and json.loads(obs)["task"]["id"] == "task4_3"
    assert obs in env.observation_space
    env.close()
    with pytest.raises(gymnasium.error.Error):
        gymnasium.make("medagent/mab-edge-v1-task99_1")


def test_a_seeded_reset_picks_the_same_task_and_options_choose_one(bench_suite, bench_service):
    with gym.MedEnv(bench_suite, service=bench_service) as env:
        picks = [env.reset(seed=s)[1]["task_id"] for s in (3, 4, 5, 3)]
        assert picks[0] == picks[3] and len(set(picks)) > 1
        _, info = env.reset(options={"task_id": bench_suite.tasks[5].id})
        assert info["task_id"] == bench_suite.tasks[5].id == env.task.id
    from medagent.tasks.errors import UnknownTaskError

    with gym.make(bench_suite, bench_suite.tasks[0].id, service=bench_service) as env:
        with pytest.raises(UnknownTaskError):
            env.reset(options={"task_id": bench_suite.tasks[1].id})


def test_vectorised_episodes_are_isolated(bench_suite, bench_service, oracle_scripts):
    from medagent.gym_vector import MedVectorEnv

    task = _write_task(bench_suite)
    script = _script(oracle_scripts, task.id)
    n = 6
    envs = MedVectorEnv(n, bench_suite, task.id, service=bench_service, max_steps=len(script.calls) + 2)
    obs, infos = envs.reset(seed=0)
    assert len(obs) == n and list(infos["task_id"]) == [task.id] * n and obs in envs.observation_space
    writers = [0, 2, 4]  # these run the reference solution; the others only finish
    idle = json.dumps({"name": "search_patients", "arguments": {"family": "Nobody"}})
    for name, args in script.calls:
        actions = [json.dumps({"name": name, "arguments": args}) if i in writers else idle for i in range(n)]
        obs, rewards, terminated, truncated, infos = envs.step(actions)
        assert not terminated.any() and not truncated.any() and not rewards.any()
    # an idle episode searches the patient's vitals: none of the writers' new readings is there
    reads = [json.dumps({"name": "search_vital_signs", "arguments": {"patient": task.patient,
                                                                      "date": "ge2023-11-13"}})] * n
    obs, *_ = envs.step(reads)
    seen = [len(json.loads(o)["content"].get("entry", [])) for o in obs]
    base = seen[1]  # what the shared baseline holds
    assert all(seen[i] == base + 1 for i in writers) and all(seen[i] == base for i in (1, 3, 5)), seen
    finish = [json.dumps({"name": "finish", "arguments": {"answer": script.answer}})] * n
    obs, rewards, terminated, truncated, infos = envs.step(finish)
    assert terminated.all() and list(rewards) == [1.0 if i in writers else 0.0 for i in range(n)]
    writes = [len(w) for w in infos["writes"]]
    assert all(writes[i] == 1 for i in writers) and all(writes[i] == 0 for i in range(n) if i not in writers)
    # next step: autoreset (the action is ignored) into fresh sessions
    obs, rewards, terminated, truncated, infos = envs.step(finish)
    assert not terminated.any() and not rewards.any() and all(json.loads(o)["task"]["id"] == task.id for o in obs)
    envs.close()


def test_a_policy_cannot_reach_the_answer_key_or_the_server(bench_suite, bench_service):
    from medagent import tasks

    from medagent.gym_vector import MedVectorEnv
    from tests.harness.test_trust import _children

    task = bench_suite.category(1)[0]

    def peeking_policy(env) -> dict:
        return {"name": "finish", "arguments": {"answer": env.task.expected["answer"]}}

    with gym.make(bench_suite, task.id, service=bench_service) as env:
        env.reset()
        with pytest.raises(AttributeError):
            peeking_policy(env)
        envs = MedVectorEnv(2, bench_suite, service=bench_service)
        envs.reset(seed=0)
        for root in (env, envs):
            assert _reachable(root, _children, (tasks.Task, type(bench_service), type(bench_service.store))) == []
        envs.close()


def _reachable(root, children, forbidden) -> list[str]:
    import asyncio

    found, seen, stack = [], set(), [("env", root)]
    while stack:
        path, obj = stack.pop()
        if obj is None or isinstance(obj, int | float | bool | bytes | str) or id(obj) in seen:
            continue
        if isinstance(obj, asyncio.AbstractEventLoop):
            continue  # the env's own idle loop (no pending work holds anything)
        seen.add(id(obj))
        if isinstance(obj, forbidden):
            found.append(f"{path} ({type(obj).__name__})")
            continue
        stack.extend((path + step, child) for step, child in children(obj))
    return found


def test_the_walker_would_find_a_task_left_on_the_env(bench_suite, bench_service):
    import types

    from medagent import tasks

    from tests.harness.test_trust import _children

    holder = types.SimpleNamespace(env=gym.make(bench_suite, bench_suite.tasks[0].id, service=bench_service),
                                   leak=[bench_suite.tasks[0]])
    assert _reachable(holder, _children, (tasks.Task,)) == ["env.leak[0] (Task)"]
    holder.env.close()


def test_an_open_episode_keeps_only_its_writes(bench_suite, bench_service):
    """Reads are not kept between steps: a long episode of searches holds no replies."""
    from medagent.gym_episode import _PRIVATE

    with gym.make(bench_suite, bench_suite.tasks[0].id, service=bench_service, max_steps=50) as env:
        env.reset()
        for _ in range(10):
            obs, *_ = env.step({"name": "search_patients", "arguments": {"family": "a"}})
        priv = _PRIVATE[env._episode]
        assert priv.client.requests == [] and json.loads(obs)["ok"]


def test_the_async_form_runs_inside_the_callers_event_loop(bench_suite, bench_service):
    import asyncio

    from medagent.gym_vector import MedVectorEnv

    query = [t for t in bench_suite.tasks if t.kind == "query"][:3]

    async def rollout() -> list[float]:
        envs = MedVectorEnv(3, bench_suite, service=bench_service)
        obs, infos = await envs.areset(options={"task_ids": [t.id for t in query]})
        assert [json.loads(o)["task"]["id"] for o in obs] == [t.id for t in query]
        answers = [t.expected["answer"] if i != 1 else ["wrong"] for i, t in enumerate(query)]
        _, rewards, terminated, _, _ = await envs.astep(
            [{"name": "finish", "arguments": {"answer": a}} for a in answers])
        await envs.aclose()
        assert terminated.all()
        return list(rewards)

    assert asyncio.run(rollout()) == [1.0, 0.0, 1.0]


def test_a_vector_env_has_room_for_its_episodes_beyond_the_session_cap(bench_suite, bench_service):
    """The server's cap on open sessions (``max_sessions``, 1000 by default, 429 beyond) is for
    leaked sessions of a network server: n episodes fit whatever n (here a cap of 2 and 3 episodes)."""
    from medagent.fhir_server import FhirService, ServerSettings
    from medagent.fhir_server.errors import FhirError

    from medagent.gym_vector import MedVectorEnv

    open_now = bench_service.store.conn().execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    service = FhirService(bench_service.store, ServerSettings(max_sessions=open_now + 2))
    sids = [service.create_session(), service.create_session()]
    with pytest.raises(FhirError) as refused:  # the cap holds for anyone else
        service.create_session()
    assert refused.value.status == 429
    for sid in sids:
        service.delete_session(sid)
    envs = MedVectorEnv(3, bench_suite, service=service)
    obs, _ = envs.reset(seed=1)
    assert len(obs) == 3 and all(json.loads(o)["task"]["id"] for o in obs)
    envs.close()
    assert service.settings.max_sessions == open_now + 2  # given back
    assert bench_service.store.conn().execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == open_now
