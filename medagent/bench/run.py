"""``medagent bench`` as a function: ``run_bench(config, out_dir)`` = prepare → run → write.

- :func:`prepare` checks the settings (agent, model, API key), selects the trials, opens
  the run folder (a new one: ``run.json`` written; ``--resume``: ``run.json`` checked and
  the finished trials read back) and returns a frozen :class:`Prepared`;
- :func:`execute` opens the FHIR backend (:mod:`medagent.bench.backends`), makes the model
  client and runs what is left (:func:`medagent.bench.trial.run_trials`, or on a Ray
  cluster), writing ``trials.jsonl`` and ``summary.json`` (:mod:`medagent.bench.summary`)
  as trials finish, then prints the summary.

A resumed run skips every trial already in ``trials.jsonl``. ``ProviderUnavailable`` stops
the run (one line, saying where the finished trials are kept for ``--resume``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from medagent.agents import load_agent, needs_model, reads_full_task
from medagent.bench.backends import fhir_base, open_backend
from medagent.bench.config import BenchConfig, check_resume, select_tasks
from medagent.bench.folder import claim_out_dir, default_out_dir, run_document
from medagent.bench.summary import SummaryWriter
from medagent.bench.trial import Trial, TrialRunner, run_trials
from medagent.errors import ConfigError, ProviderUnavailable
from medagent.faults import get_profile
from medagent.pricing import PriceTable
from medagent.runfolder import TrialLog, write_json
from medagent.results_view import Progress, print_summary, score_line
from medagent.settings import HarnessSettings, load_settings, resolve_api_key

__all__ = ["Prepared", "execute", "prepare", "run_bench"]


@dataclass(frozen=True)
class Prepared:
    """What :func:`execute` needs, settled before anything runs."""

    config: BenchConfig  # base_url filled in from the settings when the agent calls a model
    suite: Any
    out_dir: Path  # the run folder (claimed: made unique)
    settings: HarnessSettings
    factory: Any  # the agent factory
    uses_model: bool
    api_key: str | None
    prices: PriceTable
    run_doc: dict[str, Any]  # run.json as written
    log: TrialLog  # trials.jsonl, open for appending
    previous: tuple[dict[str, Any], ...]  # the records already in trials.jsonl (--resume)
    todo: tuple[Trial, ...]  # the trials still to run
    wall_before: float  # wall time of the earlier part of a resumed run

    @property
    def secrets(self) -> list[str]:
        """Strings never written into a record (the API key)."""
        return [self.api_key] if self.api_key and self.api_key != "EMPTY" else []


def prepare(config: BenchConfig, suite: Any, out_dir: Path, *, resume: bool, claim: bool = False) -> Prepared:
    """Check the settings and open the run folder (``claim``: ``out_dir`` is a default
    name, made unique by :func:`claim_out_dir`)."""
    settings = load_settings()
    factory = load_agent(config.agent)
    declared = needs_model(factory)
    if declared and not config.model:
        raise ConfigError(f"agent {config.agent!r} calls a model: give --model")
    uses_model = bool(config.model) if declared is None else declared
    api_key: str | None = None
    if uses_model:
        config = replace(config, base_url=config.base_url or settings.base_url)
        api_key = resolve_api_key(settings, config.api_key_env)
        if not api_key:
            if not config.base_url:
                raise ConfigError(
                    "no API key: set OPENAI_API_KEY (or --api-key-env NAME, or api_key in the settings file)"
                )
            api_key = "EMPTY"  # local OpenAI-compatible servers often need none
    prices = PriceTable(settings.prices)
    chosen = select_tasks(suite, config.tasks)
    run_path = out_dir / "run.json"
    previous_summary: dict[str, Any] = {}
    if resume:
        from medagent.runfolder import read_json

        if not run_path.exists():
            raise ConfigError(f"--resume {out_dir}: not a run folder (no run.json)")
        run_doc = read_json(run_path)
        check_resume(config, run_doc, suite)
        summary_path = out_dir / "summary.json"
        if summary_path.exists():
            previous_summary = read_json(summary_path)
    else:
        if claim:
            out_dir = claim_out_dir(out_dir)
        elif (out_dir / "trials.jsonl").exists():
            raise ConfigError(_taken_message(out_dir, chosen, config.epochs))
        out_dir.mkdir(parents=True, exist_ok=True)
        note = prices.note(config.model) if uses_model else None
        run_doc = run_document(config, suite, uses_model, note, reads_full_task(factory))
        write_json(out_dir / "run.json", run_doc)
    log = TrialLog(out_dir / "trials.jsonl")
    previous = log.open()
    done = {r.get("trial_id") for r in previous}
    trials = (Trial(task, epoch) for epoch in range(1, config.epochs + 1) for task in chosen)
    return Prepared(
        config=config, suite=suite, out_dir=out_dir, settings=settings, factory=factory, uses_model=uses_model,
        api_key=api_key, prices=prices, run_doc=run_doc, log=log, previous=tuple(previous),
        todo=tuple(trial for trial in trials if trial.trial_id not in done),
        wall_before=float(previous_summary.get("wall_time_s") or 0.0),
    )


def _taken_message(out_dir: Path, chosen: list[Any], epochs: int) -> str:
    """Why ``--out`` cannot be used: a finished run needs another folder, a stopped one --resume."""
    from medagent.runfolder import read_trials

    done = {r.get("trial_id") for r in read_trials(out_dir / "trials.jsonl")}
    wanted = {Trial(task, epoch).trial_id for epoch in range(1, epochs + 1) for task in chosen}
    if wanted <= done:
        return f"{out_dir} already holds a finished run ({len(done)} trials); give another --out"
    return f"{out_dir} already holds a run; continue it with --resume {out_dir}"


def _record_mode(prep: Prepared, backend: Any) -> tuple[dict[str, Any], int]:
    """run.json says how trials were isolated: ``sessions`` (one session per trial) or
    ``shared`` (one trial at a time on a plain FHIR server, writes undone after each).
    Returns the run document and the concurrency to use."""
    mode = getattr(backend, "mode", "sessions")
    run_doc = dict(prep.run_doc)
    concurrency = prep.config.concurrency
    changed = run_doc.get("fhir_mode") != mode
    run_doc["fhir_mode"] = mode
    if mode == "shared":  # trials take turns on the shared server: say so, wait for none
        concurrency = 1
        changed |= run_doc.get("concurrency") != 1
        run_doc["concurrency"] = 1
    if changed:
        write_json(prep.out_dir / "run.json", run_doc)
    return run_doc, concurrency


async def execute(prep: Prepared, fhir_url: str | None, *, console: Any = None,
                  progress: bool = True) -> dict[str, Any]:
    """Run the trials of ``prep`` against ``fhir_url`` (None: the embedded service); returns
    the summary."""
    config = prep.config
    if config.executor == "ray":  # trials on a Ray cluster; this process still writes the records
        from medagent.executors.ray_executor import connect, disconnect, run_on_ray

        async def on_ray(on_record: Any, secrets: list[str]) -> None:
            info = await run_on_ray(prep, fhir_url, list(prep.todo), on_record=on_record, log=prep.log,
                                    secrets=secrets)
            if progress and info.get("workers"):
                (console or Console(stderr=True)).print(escape(
                    f"ray: {info['workers']} workers on {info['nodes']} node(s); "
                    f"{info['retried']} trial(s) re-run after a lost worker"))

        started = connect(config)  # a cluster that cannot be reached stops the run before it starts
        try:
            return await _drive(prep, prep.run_doc, on_ray, None, console=console, progress=progress)
        finally:
            disconnect(started)
    from medagent.llm import ChatClient
    from medagent.tasks.toolsets import tools_of

    backend = await open_backend(fhir_url, prep.suite, config.sessions)
    try:
        await backend.check(prep.suite)
    except BaseException:
        await backend.aclose()
        raise
    run_doc, concurrency = _record_mode(prep, backend)
    llm = None
    if prep.uses_model:
        llm = ChatClient(config.model, config.base_url, prep.api_key, prep.settings,
                         generation=config.generation())
    runner = TrialRunner(
        backend=backend,
        agent_factory=prep.factory,
        max_steps=config.max_steps,
        trial_timeout=prep.settings.trial_timeout,
        llm=llm,
        model=config.model,
        prices=prep.prices,
        full_task=reads_full_task(prep.factory),
        suite_id=prep.suite.id,
        faults=get_profile(config.faults),
        fault_delay_scale=prep.settings.fault_delay_scale,
        tools=tools_of(prep.suite),
    )

    async def local(on_record: Any, secrets: list[str]) -> None:
        await run_trials(runner, list(prep.todo), prep.log, concurrency=concurrency,
                         on_record=on_record, secrets=secrets)

    async def cleanup() -> None:
        await backend.aclose()
        if llm is not None:
            await llm.close()

    return await _drive(prep, run_doc, local, cleanup, console=console, progress=progress)


async def _drive(prep: Prepared, run_doc: dict[str, Any], execute: Any, cleanup: Any, *, console: Any,
                 progress: bool) -> dict[str, Any]:
    """Run ``execute(on_record, secrets)`` with the progress bar and summary around it."""
    out_dir = prep.out_dir
    summary_writer = SummaryWriter(out_dir, run_doc, list(prep.previous), prep.wall_before)
    total = len(prep.previous) + len(prep.todo)
    done = False
    unavailable: ProviderUnavailable | None = None
    try:
        with Progress(console, total, summary_writer.trials, enabled=progress) as bar:

            def on_record(record: dict[str, Any]) -> None:
                summary_writer.add(record)
                bar.update(record)

            await execute(on_record, prep.secrets)
        done = True
    except ProviderUnavailable as exc:
        unavailable = exc
    finally:
        prep.log.close()
        summary = summary_writer.write()
        if not done and unavailable is None and len(summary_writer.trials) < total:
            (console or Console(stderr=True)).print(
                escape(f"stopped: {len(summary_writer.trials)} finished trials are saved in {out_dir}; "
                       f"continue with: medagent bench --resume {out_dir}"))
        if cleanup is not None:
            await cleanup()
    if unavailable is not None:  # one line: the cause, and where the finished trials are
        kept = len(summary_writer.trials)
        where = (f"; {kept} finished trials are kept in {out_dir} (medagent bench --resume {out_dir})"
                 if kept else "")
        raise ProviderUnavailable(f"{unavailable}{where}") from None
    if progress:
        print_summary(console, summary, out_dir)
    elif console is not None:  # --quiet: still where the run went and its score
        console.print(escape(score_line(summary, out_dir)), highlight=False, soft_wrap=True)
    return summary


def run_bench(
    config: BenchConfig,
    out_dir: Path | None = None,
    *,
    resume: bool = False,
    console: Any = None,
    progress: bool = True,
    stats: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Run the benchmark into ``out_dir``; returns the summary (also in summary.json).

    ``stats``, when given, receives ``write_s``: the time spent appending trial records
    (serialise + write + fsync), for benchmarks."""
    from medagent import tasks

    suite = tasks.load_suite(config.suite)
    prep = prepare(config, suite, Path(out_dir) if out_dir else default_out_dir(config),
                   resume=resume, claim=not out_dir)
    with fhir_base(config.fhir_url, suite) as fhir_url:
        if not fhir_url and config.sessions != "off":  # first use prepares the cohort: outside the
            # event loop, so Ctrl-C stops it at once
            from medagent.embedded import open_service

            open_service(suite)
        try:
            return asyncio.run(execute(prep, fhir_url, console=console, progress=progress))
        finally:
            if stats is not None:
                stats["write_s"] = prep.log.write_s
