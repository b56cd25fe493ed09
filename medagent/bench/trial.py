"""Running trials: ``TrialRunner.run(trial)`` runs one (task, epoch) trial and returns its
record; ``run_trials`` runs many with ``concurrency`` trials at once on one asyncio loop.

One trial:

1. opens its own FHIR session (a backend of :mod:`medagent.bench.backends`);
2. makes a fresh agent and awaits ``agent.run(task.view(), env)`` under the trial time
   limit (``HarnessSettings.trial_timeout``) and the env's step limit — only the built-in
   reference solver (``full_task``) is given the whole ``tasks.Task``;
3. fetches the session's write log, deletes the session, grades with ``tasks.grade``;
4. returns the full record, which ``run_trials`` appends to ``trials.jsonl`` (atomic,
   fsynced) before reporting it (``on_record``).

A provider that fails after all retries (``ProviderError``), a FHIR server that keeps
failing (``FhirBackendError``), a timeout or a crashing agent (an agent reading
``task.expected`` gets an ``AttributeError``) make the trial ``status: "error"`` (with the
reason in ``error``); the run goes on. ``ProviderUnavailable`` (no trial can reach the
model) stops the run: the trials in flight are cancelled and not recorded.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medagent.env import StepLimitReached, TrialEnv
from medagent.errors import FhirBackendError, ProviderError, ProviderUnavailable
from medagent.pricing import PriceTable
from medagent.runfolder import TrialLog, TrialRecord

__all__ = ["Trial", "TrialRunner", "run_trials"]


@dataclass
class Trial:
    task: Any
    epoch: int

    @property
    def trial_id(self) -> str:
        return f"{self.task.id}#{self.epoch}"


@dataclass
class TrialRunner:
    """Runs single trials: session → agent → write log → grade → record."""

    backend: Any
    agent_factory: Callable[[], Any]
    max_steps: int
    trial_timeout: float
    llm: Any = None
    model: str | None = None
    prices: PriceTable = field(default_factory=PriceTable)
    full_task: bool = False  # only the built-in reference solver sees the whole Task
    suite_id: str = ""
    faults: Any = None  # a medagent.faults.FaultProfile, or None
    fault_delay_scale: float = 1.0
    tools: tuple = ()  # the suite's tool set (tasks.toolsets.tools_of); empty = the nine

    async def run(self, trial: Trial) -> dict[str, Any]:
        from medagent import tasks

        task = trial.task
        start = time.perf_counter()
        status, error, stop = "completed", None, "no_finish"
        session = client = None
        opened = False
        writes: list[dict[str, Any]] = []
        try:
            session, client = await self.backend.open()
            opened = True
        except FhirBackendError as exc:
            status, error, stop = "error", str(exc), "error"
        server_s = time.perf_counter() - start
        faulty = None
        extra: tuple[Any, ...] = ()
        if self.faults is not None and opened:  # the agent's traffic only: the write log is not faulted
            from medagent.faults import FaultyClient, trial_seed

            faulty = FaultyClient(None, self.faults, trial_seed(self.suite_id, task.id, trial.epoch),
                                  delay_scale=self.fault_delay_scale)
            extra = (tasks.NEXT_PAGE_TOOL,)
        env = TrialEnv(task, client, max_steps=self.max_steps, llm=self.llm, extra_tools=extra, faults=faulty,
                       tools=self.tools)
        if opened:
            try:
                async with asyncio.timeout(self.trial_timeout):
                    await self.agent_factory().run(task if self.full_task else task.view(), env)
            except StepLimitReached:
                pass
            except TimeoutError:
                status, error = "error", f"trial timed out after {self.trial_timeout:g} s"
            except ProviderUnavailable:
                raise
            except (ProviderError, FhirBackendError) as exc:
                status, error = "error", str(exc)
            except Exception as exc:  # noqa: BLE001 - a crashing agent is recorded, and the run goes on
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                where = f" ({Path(frame.filename).name}:{frame.lineno})"
                status, error = "error", f"agent crashed: {type(exc).__name__}: {exc}{where}"
            finally:
                t0 = time.perf_counter()
                try:
                    writes = await self.backend.close(session)
                except FhirBackendError as exc:
                    status, error = "error", error or str(exc)
                server_s += time.perf_counter() - t0
            if self.llm is not None and self.llm.unavailable is not None:
                raise self.llm.unavailable  # the agent swallowed it; the run still stops
            if status == "completed" and env.backend_error:
                status, error = "error", env.backend_error  # the agent swallowed FhirBackendError
            stop = ("error" if status == "error" else "finish" if env.finished
                    else "max_steps" if env.truncated else env.stop or "no_finish")
        t0 = time.perf_counter()
        grade = tasks.grade(task, env.answer, writes) if status == "completed" else None
        grade_s = time.perf_counter() - t0
        usage = env.usage.as_dict()
        duration = time.perf_counter() - start
        return TrialRecord.build(**{  # one trials.jsonl line (medagent.runfolder)
            "trial_id": trial.trial_id,
            "task_id": task.id,
            "epoch": trial.epoch,
            "category": task.category,
            "kind": task.kind,
            "status": status,
            "error": error,
            "stop": stop,
            "answer": env.answer,
            "writes": writes,
            "grade": grade.model_dump(mode="json") if grade is not None else None,
            "harm": bool(grade is not None and grade.harmed),
            "harm_checks": [c.name for c in grade.harm] if grade is not None else [],
            "messages": env.messages,
            "tool_calls": env.tool_calls,
            "fhir_requests": getattr(client, "requests", None) or [],  # plain JSON values already
            "faults": dict(faulty.counts) if faulty is not None else None,
            "usage": usage,
            "cost_usd": self.prices.cost(self.model, usage["prompt_tokens"], usage["completion_tokens"])
            if self.llm is not None
            else None,
            "steps": env.steps,
            "duration_s": round(duration, 4),
            # of duration_s: inside tool calls, opening/closing the session, grading
            "timing": {"tools_s": round(env.tool_time, 5), "session_s": round(server_s, 5),
                       "grade_s": round(grade_s, 5)},
        })


async def run_trials(
    runner: TrialRunner,
    trials: list[Trial],
    log: TrialLog,
    *,
    concurrency: int,
    on_record: Callable[[dict[str, Any]], None],
    secrets: list[str] | None = None,
) -> None:
    """Run ``trials`` with ``concurrency`` workers; each record is logged then reported."""
    queue: asyncio.Queue[Trial] = asyncio.Queue()
    for trial in trials:
        queue.put_nowait(trial)
    secrets = [s for s in (secrets or []) if s]

    async def worker() -> None:
        while True:
            try:
                trial = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            record = await runner.run(trial)
            log.append(record, secrets)
            on_record(record)
            await asyncio.sleep(0)  # a Ctrl-C (task cancelled) stops here even if no trial ever waited

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(trials)))):
                group.create_task(worker())
    except* ProviderUnavailable as group:  # the other workers were cancelled: stop the run
        raise group.exceptions[0] from None
