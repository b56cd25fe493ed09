"""Trials driven from outside: the runner's own trials, with each tool call handed in.

An adapter receives tool calls from a client it does not control (an MCP client, an
Inspect solver, a verifiers harness). :class:`RemoteTrial` runs the runner's
``TrialRunner.run`` — session → agent → write log → grade → record — with an agent whose
every step is a call handed in through :meth:`RemoteTrial.call`; :meth:`RemoteTrial.finish`
ends it and returns the trial record. Step limits, the trial time limit, the session's
teardown (also on cancellation) and the record's shape are therefore the runner's.

:class:`RemoteRun` keeps a run folder (``run.json``, ``trials.jsonl``, ``summary.json``,
written through :mod:`medagent.runfolder`) for trials started by id, so ``medagent view``,
``report``, ``submit`` and ``leaderboard verify`` read an adapter's run like a bench run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medagent.env import Env
from medagent.errors import ConfigError, MedagentError
from medagent.tasks.models import TaskView

__all__ = ["RemoteRun", "RemoteTrial", "TrialClosed"]


class TrialClosed(MedagentError):
    """A call reached a trial that is over (finished, out of steps, timed out, unknown)."""


class _Inbox:
    """The agent side of a remote trial: awaits each step from the caller."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, Any, asyncio.Future]] = asyncio.Queue()

    async def run(self, view: TaskView, env: Env) -> None:
        while True:
            kind, payload, reply = await self.queue.get()
            try:
                if kind == "end":  # the agent stopped without an answer
                    env.end("no_finish")
                    reply.set_result(None)
                    return
                if kind == "finish":  # one step, like any other round
                    env.finish(payload)
                    reply.set_result(None)
                    return
                name, args = payload
                result = await env.call(name, args)
            except BaseException as exc:  # StepLimitReached ends the trial, as in bench
                if not reply.done():
                    reply.set_exception(exc)
                raise
            reply.set_result(result)


class RemoteTrial:
    """One trial of ``task`` (epoch ``epoch``) whose tool calls arrive one by one."""

    def __init__(self, backend: Any, task: Any, epoch: int, *, max_steps: int, trial_timeout: float,
                 tools: tuple = ()) -> None:
        from medagent.bench.trial import Trial, TrialRunner

        self.task = task
        self.epoch = epoch
        self.trial_id = f"{task.id}#{epoch}"
        self.max_steps = max_steps
        self._inbox = _Inbox()
        runner = TrialRunner(backend=backend, agent_factory=lambda: self._inbox,
                             max_steps=max_steps, trial_timeout=trial_timeout, tools=tools)
        self._job: asyncio.Task[dict[str, Any]] = asyncio.ensure_future(runner.run(Trial(task, epoch)))

    @property
    def done(self) -> bool:
        return self._job.done()

    def _closed_reason(self) -> str:
        if self._job.cancelled():
            return f"trial {self.trial_id} was cancelled"
        if self._job.exception() is not None:
            return f"trial {self.trial_id} failed: {self._job.exception()}"
        record = self._job.result()
        if record.get("stop") == "max_steps":
            return (f"step limit reached ({self.max_steps} steps): trial {self.trial_id} is over "
                    "and was recorded without an answer")
        if record.get("error"):
            return f"trial {self.trial_id} ended: {record['error']}"
        return f"trial {self.trial_id} is over"

    async def _send(self, kind: str, payload: Any) -> Any:
        if self._job.done():
            raise TrialClosed(self._closed_reason())
        reply: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._inbox.queue.put((kind, payload, reply))
        await asyncio.wait({reply, self._job}, return_when=asyncio.FIRST_COMPLETED)
        if reply.done() and not reply.cancelled() and reply.exception() is None:
            return reply.result()
        if not self._job.done():  # the reply failed but the runner has not yet recorded it
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._job)
        raise TrialClosed(self._closed_reason())

    async def call(self, name: str, args: Any) -> Any:
        """One tool call (a ``tasks.ToolResult``); raises TrialClosed when the trial is over."""
        return await self._send("call", (name, args))

    async def finish(self, answer: Any) -> dict[str, Any]:
        """Give the final answer; returns the graded trial record."""
        await self._send("finish", answer)
        return await self.record()

    async def end(self) -> dict[str, Any]:
        """End the trial without an answer (the agent stopped); returns the graded record."""
        if not self._job.done():
            with contextlib.suppress(TrialClosed):
                await self._send("end", None)
        return await self.record()

    async def record(self) -> dict[str, Any]:
        """The trial record, once the trial is over (waits for it)."""
        return await asyncio.shield(self._job)

    def on_done(self, callback: Any) -> None:
        """Call ``callback(trial, record)`` when the trial ends (``record`` None if cancelled
        or failed). Runs before any waiter of :meth:`finish` resumes."""

        def done(job: asyncio.Task) -> None:
            ok = not job.cancelled() and job.exception() is None
            callback(self, job.result() if ok else None)

        self._job.add_done_callback(done)

    async def abort(self) -> None:
        """Cancel the trial; its session is still closed (the runner's ``finally``)."""
        if not self._job.done():
            self._job.cancel()
        with contextlib.suppress(BaseException):
            await self._job



@functools.cache
def suite_of(suite_id: str) -> Any:
    """The suite ``suite_id`` (an id or a path), loaded once per process."""
    from medagent import tasks

    return tasks.load_suite(suite_id)


@functools.cache
def local_backend(suite_id: str) -> Any:
    """The embedded backend of ``suite_id``'s cohort, opened once per process and shared by
    every trial the adapters of this process start."""
    from medagent.bench.backends import LocalBackend
    from medagent.embedded import open_service

    return LocalBackend(open_service(suite_of(suite_id)))

@dataclass
class RemoteRun:
    """A run folder whose trials are started by task id from outside (``medagent mcp``).

    ``start(task_id)`` opens a trial on the next epoch of that task not yet recorded or
    open (up to ``epochs``); ``finish`` records it. An existing run folder of the same
    suite and settings is continued (its recorded trials count).
    """

    suite: Any
    tasks: list[Any]
    out_dir: Path
    backend: Any
    agent: str = "mcp"
    model: str | None = None
    epochs: int = 1
    max_steps: int = 8
    protocol: str = "mcp"
    trial_timeout: float = 900.0
    open_trials: dict[str, RemoteTrial] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {t.id: t for t in self.tasks}
        self.handles: dict[str, str] = {}  # opaque handle → trial id

    # -- run folder ---------------------------------------------------------------
    def open(self) -> None:
        from medagent.bench.config import BenchConfig
        from medagent.bench.folder import run_document
        from medagent.bench.summary import SummaryWriter
        from medagent.runfolder import TrialLog, read_json, write_json

        self.out_dir = Path(self.out_dir)
        run_path = self.out_dir / "run.json"
        if run_path.exists():
            run = read_json(run_path)
            for key, mine in (("suite_checksum", self.suite.checksum), ("protocol", self.protocol),
                              ("max_steps", self.max_steps), ("agent", self.agent), ("model", self.model),
                              ("epochs", self.epochs)):
                if run.get(key) != mine:
                    raise ConfigError(f"{self.out_dir} holds a run with {key} {run.get(key)!r}, not {mine!r}; "
                                      "give another --out")
        else:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            config = BenchConfig(suite=self.suite.id, agent=self.agent, model=self.model,
                                 tasks=[t.id for t in self.tasks] if len(self.tasks) < len(self.suite.tasks) else [],
                                 epochs=self.epochs, max_steps=self.max_steps)
            run = run_document(config, self.suite, bool(self.model), None)
            run["protocol"] = run["config"]["protocol"] = self.protocol
            write_json(run_path, run)
        self.run_doc = run
        self.log = TrialLog(self.out_dir / "trials.jsonl")
        previous = self.log.open()
        self.recorded = {r["trial_id"] for r in previous if r.get("trial_id")}
        self.summary = SummaryWriter(self.out_dir, run, previous, 0.0)
        self.summary.write()

    async def close(self) -> dict[str, Any]:
        """Cancel the open trials (their sessions are closed, nothing is recorded)."""
        for trial in list(self.open_trials.values()):
            await trial.abort()
        self.open_trials.clear()
        summary = self.summary.write()
        self.log.close()
        return summary

    # -- trials -------------------------------------------------------------------
    def _next_epoch(self, task_id: str) -> int:
        for epoch in range(1, self.epochs + 1):
            trial_id = f"{task_id}#{epoch}"
            if trial_id not in self.recorded and trial_id not in self.open_trials:
                return epoch
        raise TrialClosed(f"task {task_id} already has {self.epochs} trial(s) in this run "
                          f"(epochs {self.epochs}); start another task")

    def start(self, task_id: str) -> tuple[str, RemoteTrial]:
        """Open a trial of ``task_id``; returns its handle (what the client passes back)."""
        task = self.by_id.get(str(task_id))
        if task is None:
            raise TrialClosed(f"no task {task_id!r} in this run; list_tasks gives the task ids")
        from medagent.tasks.toolsets import tools_of

        trial = RemoteTrial(self.backend, task, self._next_epoch(task.id),
                            max_steps=self.max_steps, trial_timeout=self.trial_timeout,
                            tools=tools_of(self.suite))
        self.open_trials[trial.trial_id] = trial
        trial.on_done(self._record)
        handle = f"{trial.trial_id}.{secrets.token_hex(4)}"
        self.handles[handle] = trial.trial_id
        return handle, trial

    def find(self, handle: str | None) -> tuple[str, RemoteTrial]:
        """The open trial a handle names; without one, the only open trial."""
        if handle:
            trial_id = self.handles.get(str(handle))
            trial = self.open_trials.get(trial_id) if trial_id else None
            if trial is None:
                raise TrialClosed(f"no open trial {handle!r} (it is finished, or was never started)")
            return handle, trial
        alive = [(h, self.open_trials[t]) for h, t in self.handles.items() if t in self.open_trials]
        if not alive:
            raise TrialClosed("no open trial: call start_task first")
        if len(alive) > 1:
            raise TrialClosed(f"{len(alive)} trials are open ({', '.join(h for h, _ in alive)}): "
                              "pass the one you mean as 'trial'")
        return alive[0]

    def _record(self, trial: RemoteTrial, record: dict[str, Any] | None) -> None:
        """A trial ended: finished, out of steps or time (recorded as bench records them),
        or cancelled (``record`` None: nothing to record)."""
        self.open_trials.pop(trial.trial_id, None)
        if record is None:
            return
        self.log.append(record)
        self.recorded.add(trial.trial_id)
        self.summary.add(record)
        self.summary.write()

    async def call(self, handle: str | None, name: str, args: Any) -> Any:
        return await self.find(handle)[1].call(name, args)

    async def finish(self, handle: str | None, answer: Any) -> dict[str, Any]:
        return await self.find(handle)[1].finish(answer)

    def progress(self) -> list[dict[str, Any]]:
        """Each task of the run with its recorded and open trial counts."""
        rows = []
        for task in self.tasks:
            done = sum(f"{task.id}#{e}" in self.recorded for e in range(1, self.epochs + 1))
            running = sum(f"{task.id}#{e}" in self.open_trials for e in range(1, self.epochs + 1))
            rows.append({"id": task.id, "category": task.category, "kind": task.kind,
                         "recorded": done, "open": running, "epochs": self.epochs})
        return rows
