"""``medagent bench --executor ray``: trials spread over a Ray cluster (the ``[ray]`` extra).

The driver (the ``medagent bench`` process) starts ``--ray-workers`` actors (default: one
per alive node of the cluster, spread over the nodes), each running up to ``--concurrency``
trials at once on its own asyncio loop. Nothing is shared but results:

- **Cohort replica per node.** Each actor opens its node's cohort store under its own
  ``$MEDAGENT_HOME``. ``--ray-cohort seed`` (the default) seeds it there, once per node (the
  store's seeding lock makes the actors of one node wait for the first), from the deterministic
  generator, and checks the suite's cohort checksum; ``ship`` copies the driver's seeded
  store through Ray's object store in 64 MiB chunks instead. See ``docs/scaling.md`` for
  the measurements behind the default.
- **Sessions.** Each trial runs in its own session of its node's replica (in-process
  ``FhirService``), or, with ``--fhir-url URL``, of the FHIR server at ``URL`` *as seen from
  the node* (``http://127.0.0.1:8080/fhir`` is each node's own server, e.g. the Docker image).
- **Model endpoint.** ``--base-url`` as given, unless the node's environment sets
  ``MEDAGENT_RAY_BASE_URL`` (each node's own model server, e.g. ``http://127.0.0.1:8000/v1``).
- **Records.** Each finished trial's record comes back to the driver, the only writer of
  ``trials.jsonl`` (append + fsync as with the local executor, the records that arrived
  during one fsync going together in the next: group commit), so ``--resume``, ``view``,
  ``report``, ``submit`` and ``verify`` work on the run unchanged.
- **The cluster's token.** For ``--ray-address ray://…`` or ``HOST:PORT`` the driver turns
  on Ray's token authentication when the token is in ``RAY_AUTH_TOKEN``, the file
  ``RAY_AUTH_TOKEN_PATH`` names, or ``~/.ray/auth_token`` (:func:`use_cluster_token`); Ray
  reads and sends it, medagent never handles it.
- **Failures.** A trial whose worker is lost before it returns (a crashed process, a lost
  node) has no record: it goes back to the queue and runs again on a live worker, so it is
  recorded exactly once. An actor is restarted up to ``ACTOR_RESTARTS`` times; when no
  worker is left the run stops, its finished trials kept for ``--resume``. A driver killed
  mid-run resumes with ``medagent bench --resume DIR --executor ray``.
"""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medagent.atomic import atomic_file
from medagent.errors import ConfigError, MedagentError

__all__ = ["connect", "disconnect", "run_on_ray", "use_cluster_token", "ACTOR_RESTARTS", "CHUNK_BYTES"]

ACTOR_RESTARTS = 3
CLIENT_ATTEMPTS = 3  # ray:// connections refused by the client server's "Initialization failure"
CHUNK_BYTES = 64 << 20
COHORTS = ("seed", "ship")


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs the ray package: pip install 'medagent[ray]'") from None
    return ray


def _stored_checksum(path: Path) -> str | None:
    import sqlite3

    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'cohort_checksum'").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


class TrialWorker:
    """One Ray actor: a node-local cohort store, a ``TrialRunner``, up to ``concurrency`` trials."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.runner: Any = None
        self.tasks: dict[str, Any] = {}
        self.info: dict[str, Any] = {}
        self._setup_lock: asyncio.Lock | None = None

    def pid(self) -> int:
        return os.getpid()

    def _replica(self, suite: Any) -> Any:
        from medagent.embedded import cohort_db_path, open_service, seeding_lock

        path = cohort_db_path(suite.cohort_seed, suite.cohort_n_patients, getattr(suite, "cohort_profile", "mab-v1"))
        started = time.perf_counter()
        if self.spec["cohort"] == "ship":
            path.parent.mkdir(parents=True, exist_ok=True)
            # the store's own seeding lock: one actor of the node copies, the others then find it there.
            # Released before open_service, which takes the same (not re-entrant) lock to seed.
            with seeding_lock(path):
                if _stored_checksum(path) != suite.cohort_checksum:
                    self._write_shipped(path)
        service = open_service(suite)  # seeds from the generator when the store lacks the cohort
        self.info["replica_s"] = round(time.perf_counter() - started, 3)
        return service

    def _write_shipped(self, path: Path) -> None:
        ray = import_ray()
        for stale in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        with atomic_file(path) as out:
            for ref in self.spec["chunks"]:
                out.write(ray.get(ref))
        self.info["shipped"] = True

    async def setup(self) -> dict[str, Any]:
        if self._setup_lock is None:
            self._setup_lock = asyncio.Lock()
        async with self._setup_lock:
            if self.runner is None:
                await asyncio.to_thread(self._setup)
        return self.info

    def _setup(self) -> None:
        from medagent.fhir_server import ServerSettings

        from medagent.agents import load_agent, reads_full_task
        from medagent.faults import get_profile
        from medagent.pricing import PriceTable
        from medagent.bench.backends import HttpBackend, LocalBackend
        from medagent.bench.trial import TrialRunner
        from medagent.settings import load_settings
        from medagent.tasks.toolsets import tools_of

        import ray

        spec = self.spec
        suite = ray.get(spec["suite"])  # a reference: the constructor's arguments stay small
        self.tasks = {t.id: t for t in suite.tasks}
        config = spec["config"]
        if spec["fhir_url"]:
            backend = HttpBackend(spec["fhir_url"], token=ServerSettings().token)
        else:
            backend = LocalBackend(self._replica(suite))
        settings = load_settings()
        llm = None
        if spec["uses_model"]:
            from medagent.llm import ChatClient

            base_url = os.environ.get("MEDAGENT_RAY_BASE_URL") or config.base_url
            llm = ChatClient(config.model, base_url, spec["api_key"], settings, generation=config.generation())
        factory = load_agent(config.agent)
        self.runner = TrialRunner(backend=backend, agent_factory=factory, max_steps=config.max_steps,
                                  trial_timeout=settings.trial_timeout, llm=llm, model=config.model,
                                  prices=PriceTable(settings.prices), full_task=reads_full_task(factory),
                                  suite_id=suite.id, faults=get_profile(config.faults),
                                  fault_delay_scale=settings.fault_delay_scale, tools=tools_of(suite))
        self.info.update(node=ray.get_runtime_context().get_node_id(), pid=os.getpid())

    async def run(self, task_id: str, epoch: int) -> dict[str, Any]:
        from medagent.bench.trial import Trial

        await self.setup()
        return await self.runner.run(Trial(self.tasks[task_id], epoch))


def use_cluster_token() -> bool:
    """Turn on Ray's token authentication for this process when the cluster's token is at hand
    (Ray 2.52+): ``RAY_AUTH_TOKEN``, the file ``RAY_AUTH_TOKEN_PATH`` names, or
    ``~/.ray/auth_token``, unless ``RAY_AUTH_MODE`` says otherwise. Ray does this itself only
    when it finds a local cluster (no address or ``auto``); a client given ``ray://…`` or
    ``HOST:PORT`` otherwise connects without the token, and a cluster with token
    authentication refuses it ("Authentication required"). The token itself is read by Ray;
    medagent never reads, passes or logs it. True when token authentication is on."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # Ray before 2.52 has no token authentication
        return False
    import logging

    quiet = logging.getLogger(maybe_enable_token_auth_if_token_available.__module__)
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # not Ray's "token authentication is enabled" notice on every run
    try:
        return bool(maybe_enable_token_auth_if_token_available(warn_if_disabled=False))
    finally:
        quiet.setLevel(level)


def _ray_init(ray: Any, address: str | None) -> bool:
    """Connect (or start a local cluster); True when started here."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                               "configure_logging": False}
    try:
        if address:
            use_cluster_token()
            for attempt in range(CLIENT_ATTEMPTS):
                try:
                    with warnings.catch_warnings():  # Ray's own "connection timed out" warning: the error says it
                        warnings.simplefilter("ignore", UserWarning)
                        ray.init(address=address, **options)
                    break
                except ConnectionAbortedError:
                    # the client server could not start this client's own server process (seen
                    # now and then on a loaded head): a new attempt gets a new one
                    if not address.startswith("ray://") or attempt == CLIENT_ATTEMPTS - 1:
                        raise
                    time.sleep(1.0 + attempt)
        else:
            ray.init(_node_ip_address="127.0.0.1", **options)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; the user needs one line
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        # the first line, and the last one too when it differs (a server's traceback ends with its reason)
        first = " … ".join(dict.fromkeys(lines[:1] + lines[-1:]))
        for secret in (os.environ.get("RAY_AUTH_TOKEN"),):
            if secret:
                first = first.replace(secret, "***")
        hint = ""
        if "uthenticat" in first or "authorization" in first or (
                str(address).startswith("ray://") and "connection timeout" in first):
            # a client without the token of a cluster with token authentication only times out
            hint = (" (a cluster with token authentication needs its token in this process's environment: "
                    "RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token; see docs/scaling.md)")
        raise ConfigError(f"--ray-address {address or '(local)'}: cannot start or reach the Ray cluster: "
                          f"{type(exc).__name__}: {first[:300]}{hint}") from None
    return True


def _ship_chunks(ray: Any, suite: Any) -> list[Any]:
    """The driver's seeded store, checkpointed, as object-store chunks."""
    import sqlite3

    from medagent.embedded import open_service

    service = open_service(suite)
    path = Path(service.store.path)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    chunks = []
    with open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            chunks.append(ray.put(block))
    return chunks


def connect(config: Any) -> bool:
    """Join the cluster of ``--ray-address`` (or start a local one); True when started here."""
    ray = import_ray()
    if config.ray_cohort not in COHORTS:
        raise ConfigError(f"--ray-cohort {config.ray_cohort!r}: expected seed or ship")
    return _ray_init(ray, config.ray_address)


def disconnect(started_here: bool) -> None:
    if started_here:
        import_ray().shutdown()


async def run_on_ray(session: Any, fhir_url: str | None, trials: list[Any], *,
                     on_record: Callable[[dict[str, Any]], None], log: Any, secrets: list[str]) -> dict[str, Any]:
    """Run ``trials`` of ``session`` (a ``medagent.bench.run.Prepared``) on the connected Ray cluster
    (:func:`connect`); each record is logged by this process then reported. Returns what the
    executor learned (workers, nodes, re-run trials, replica times)."""
    from medagent.errors import ProviderUnavailable

    ray = import_ray()
    config = session.config
    if fhir_url and not fhir_url.startswith(("http://", "https://")):
        raise ConfigError(f"--fhir-url {fhir_url} cannot be used with --executor ray (give each node's server URL)")
    n_workers = config.ray_workers or max(1, len([n for n in ray.nodes() if n.get("Alive")]))
    chunks = _ship_chunks(ray, session.suite) if config.ray_cohort == "ship" and not fhir_url else []
    spec = {"config": config, "suite": ray.put(session.suite), "api_key": session.api_key, "cohort": config.ray_cohort,
            "chunks": chunks, "fhir_url": fhir_url, "uses_model": session.uses_model}
    actor_cls = ray.remote(num_cpus=0, max_restarts=ACTOR_RESTARTS, max_task_retries=0)(TrialWorker)
    actors = [actor_cls.options(max_concurrency=config.concurrency + 1, scheduling_strategy="SPREAD").remote(spec)
              for _ in range(n_workers)]
    try:
        return await _drive(ray, actors, trials, config.concurrency, on_record, log, secrets, ProviderUnavailable)
    finally:
        for actor in actors:
            ray.kill(actor)


async def _drive(ray: Any, actors: list[Any], trials: list[Any], concurrency: int,
                 on_record: Callable[[dict[str, Any]], None], log: Any, secrets: list[str],
                 unavailable: type[Exception]) -> dict[str, Any]:
    from ray.exceptions import RayActorError, RayTaskError

    queue: asyncio.Queue[Any] = asyncio.Queue()
    for trial in trials:
        queue.put_nowait(trial)
    remaining = {t.trial_id for t in trials}
    lanes = len(actors) * max(1, concurrency)
    state = {"live": lanes, "retried": 0}
    infos: list[dict[str, Any]] = []
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def done() -> None:
        for _ in range(lanes):
            queue.put_nowait(None)

    async def setup(i: int) -> None:
        try:
            infos.append(await actors[i].setup.remote())
        except RayTaskError as exc:
            cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else None
            if isinstance(cause, MedagentError):
                raise cause from None
            raise

    async def lane(i: int) -> None:
        actor = actors[i]
        failures = 0  # in a row: a worker that keeps failing (not restarted any more) is given up
        while (trial := await queue.get()) is not None:
            try:
                record = await actor.run.remote(trial.task.id, trial.epoch)
                failures = 0
            except RayActorError:
                # the worker was lost mid-trial: no record came back, so the trial runs again
                state["retried"] += 1
                queue.put_nowait(trial)
                failures += 1
                await asyncio.sleep(0.1 * failures)  # while Ray restarts the actor
                if failures > ACTOR_RESTARTS + 1:
                    state["live"] -= 1
                    if state["live"] == 0:
                        raise MedagentError("every Ray worker was lost; the finished trials are saved "
                                            "(continue with medagent bench --resume DIR)") from None
                    return
                continue
            except RayTaskError as exc:
                cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else None
                if isinstance(cause, unavailable | MedagentError):
                    raise cause from None
                raise
            if record["trial_id"] not in remaining:
                continue  # never counted twice
            remaining.discard(record["trial_id"])
            await received.put(record)

    async def writer() -> None:
        """Group commit: every record that arrived during the last fsync goes in the next one."""
        pending = len(trials)
        while pending:
            batch = [await received.get()]
            while not received.empty():
                batch.append(received.get_nowait())
            write = asyncio.ensure_future(asyncio.to_thread(log.append_many, batch, secrets))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:  # the run is stopping: finish this write before the log closes
                await write
                for record in batch:
                    on_record(record)
                raise
            for record in batch:
                on_record(record)
            pending -= len(batch)
        done()

    if not trials:
        return {"workers": 0}
    await asyncio.gather(*(setup(i) for i in range(len(actors))))
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(writer())
            for i in range(len(actors)):
                for _ in range(max(1, concurrency)):
                    group.create_task(lane(i))
    except* MedagentError as group:
        raise group.exceptions[0] from None
    except* Exception as group:  # noqa: BLE001 - one error, not a group, for the CLI
        raise group.exceptions[0] from None
    return {"workers": len(actors), "nodes": len({i.get("node") for i in infos}), "retried": state["retried"],
            "replica_s": [i.get("replica_s") for i in infos]}
