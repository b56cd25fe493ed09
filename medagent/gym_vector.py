"""Many gym episodes at once on one store, one server session each (for RL rollouts).

    from medagent.gym_vector import MedVectorEnv
    envs = MedVectorEnv(1024, suite="mab-edge-v1")            # or task_id="task4_3"
    obs, infos = envs.reset(seed=0)                            # a tuple of 1024 JSON texts
    obs, rewards, terminated, truncated, infos = envs.step(actions)   # one action per episode

    # inside your own asyncio program (e.g. while the policy's batch is on a GPU):
    obs, infos = await envs.areset(seed=0)
    obs, rewards, terminated, truncated, infos = await envs.astep(actions)

``MedVectorEnv`` is a ``gymnasium.vector.VectorEnv``: ``single_observation_space`` /
``single_action_space`` are the :class:`medagent.gym.MedEnv` Text spaces, the batched spaces
are their ``Tuple``s; rewards, terminations and truncations are numpy arrays; ``infos`` is
a dict of per-episode arrays with ``_key`` masks (Gymnasium's convention). Autoreset is
Gymnasium's default ``NEXT_STEP``: the step after an episode ended resets that episode (its
action is ignored) and returns the new first observation with reward 0.

All ``n`` episodes step concurrently on one asyncio loop over one ``FhirService`` (one
SQLite store): each episode has its own server session, so episodes never see each other's
writes, and an open episode costs O(its writes). The env raises the service's cap on open
sessions (``max_sessions``) by ``n`` while it is open, so thousands of episodes fit. Tasks: ``task_id`` fixes one task for all
episodes; otherwise each reset draws a task from the suite with the vector env's
``np_random`` (``reset(seed=s)`` is reproducible), or ``reset(options={"task_ids": [...]})``
gives one task id per episode.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium import spaces

from medagent.gym import _check_task, _load_suite, text_space
from medagent.gym_episode import _PRIVATE, ACTION_MAX_CHARS, OBS_MAX_CHARS, Episode, EnvStateError

__all__ = ["MedVectorEnv"]


class MedVectorEnv(VectorEnv):
    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, suite: Any = "mab-edge-v1", task_id: str | None = None, *,
                 max_steps: int = 8, service: Any = None) -> None:
        if num_envs < 1:
            raise ValueError("num_envs must be at least 1")
        suite = _load_suite(suite)
        self.suite_id = suite.id
        self._fixed = _check_task(suite, task_id).id if task_id is not None else None
        pool = suite.tasks if self._fixed is None else [_check_task(suite, task_id)]
        if service is None:
            from medagent.embedded import open_service

            service = open_service(suite)
        # room for this env's own sessions: the server's cap on open sessions (max_sessions,
        # 1000 by default) guards a network server against leaked sessions, not n episodes
        service.settings.max_sessions += num_envs
        self._room = num_envs  # given back by aclose (the service itself stays out of the policy's reach)
        self.num_envs = num_envs
        self.max_steps = max_steps
        self.single_observation_space = text_space(OBS_MAX_CHARS)
        self.single_action_space = text_space(ACTION_MAX_CHARS)
        # Gymnasium's batch_space deep-copies the space per episode (seconds at n=1024): share it
        self.observation_space = spaces.Tuple([self.single_observation_space] * num_envs)
        self.action_space = spaces.Tuple([self.single_action_space] * num_envs)
        self.render_mode = None
        # the full tasks live with the episodes' hidden state, not on the env
        from medagent.tasks.toolsets import tools_of

        tools = tools_of(suite)  # the suite's own tool set
        self._episodes = [Episode(service, pool, max_steps=max_steps, tools=tools) for _ in range(num_envs)]
        self._task_ids = self._episodes[0].task_ids
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def tasks(self) -> list[Any]:
        """Each episode's current task, as its public view (``tasks.TaskView``)."""
        return [e.task for e in self._episodes]

    def _pick(self, i: int, task_ids: list[str] | None) -> str:
        if task_ids is not None:
            return task_ids[i]  # an unknown id is refused by Episode.begin
        if self._fixed is not None:
            return self._fixed
        return self._task_ids[int(self.np_random.integers(len(self._task_ids)))]

    async def areset(self, *, seed: int | list[int] | None = None,
                     options: dict[str, Any] | None = None) -> tuple[tuple[str, ...], dict[str, Any]]:
        """Start a new episode in every slot (fresh sessions); ``(observations, infos)``."""
        if isinstance(seed, list):
            seed = seed[0]
        if seed is not None:
            self._np_random, self._np_random_seed = _seeding(seed)
        task_ids = (options or {}).get("task_ids")
        if task_ids is not None and len(task_ids) != self.num_envs:
            raise ValueError(f"options['task_ids'] needs {self.num_envs} ids, got {len(task_ids)}")
        chosen = [self._pick(i, task_ids) for i in range(self.num_envs)]
        obs = await asyncio.gather(*(e.begin(t) for e, t in zip(self._episodes, chosen, strict=True)))
        self._autoreset[:] = False
        infos = {"task_id": np.array(chosen, dtype=object),
                 "_task_id": np.ones(self.num_envs, dtype=np.bool_)}
        return tuple(obs), infos

    async def astep(self, actions: Any) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every episode, concurrently; Gymnasium's batched 5-tuple."""
        actions = list(actions)
        if len(actions) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} actions, got {len(actions)}")

        async def one(i: int) -> tuple[str, float, bool, bool, dict[str, Any]]:
            episode = self._episodes[i]
            if self._autoreset[i]:
                task_id = self._pick(i, None)
                obs = await episode.begin(task_id)
                return obs, 0.0, False, False, {"task_id": task_id}
            return await episode.step(actions[i])

        results = await asyncio.gather(*(one(i) for i in range(self.num_envs)))
        obs = tuple(r[0] for r in results)
        rewards = np.array([r[1] for r in results], dtype=np.float64)
        terminated = np.array([r[2] for r in results], dtype=np.bool_)
        truncated = np.array([r[3] for r in results], dtype=np.bool_)
        self._autoreset = terminated | truncated
        return obs, rewards, terminated, truncated, _batch_infos([r[4] for r in results])

    def _run(self, coro: Any) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[tuple[str, ...], dict[str, Any]]:
        return self._run(self.areset(seed=seed, options=options))

    def step(self, actions: Any) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if all(e.done for e in self._episodes) and not self._autoreset.any():
            raise EnvStateError("call reset() before step()")
        return self._run(self.astep(actions))

    async def aclose(self) -> None:
        await asyncio.gather(*(e.end() for e in self._episodes))
        if self._room:  # the sessions are gone: give the room back, once
            _PRIVATE[self._episodes[0]].backend.service.settings.max_sessions -= self._room
            self._room = 0

    def close_extras(self, **kwargs: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.run_until_complete(self.aclose())
            self._loop.close()
        self._loop = None


def _seeding(seed: int) -> tuple[np.random.Generator, int]:
    from gymnasium.utils import seeding

    return seeding.np_random(seed)


def _batch_infos(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """Gymnasium's vector ``infos``: per key an object array and a ``_key`` presence mask."""
    n = len(infos)
    out: dict[str, Any] = {}
    for i, info in enumerate(infos):
        for key, value in info.items():
            if key not in out:
                out[key] = np.full(n, None, dtype=object)
                out["_" + key] = np.zeros(n, dtype=np.bool_)
            out[key][i] = value
            out["_" + key][i] = True
    return out
