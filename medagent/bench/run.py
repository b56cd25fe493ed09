"""One invocation of ``medagent bench``: prepare the run folder, then run what is left."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from medagent.agents import load_agent, needs_model, reads_full_task
from medagent.errors import ConfigError, ProviderUnavailable
from medagent.faults import get_profile
from medagent.pricing import PriceTable
from medagent.results import TrialLog, write_json
from medagent.runner import SummaryWriter, Trial, TrialRunner, run_trials
from medagent.runner_bench import BenchConfig, check_resume, claim_out_dir, run_document, select_tasks
from medagent.results_view import Progress, print_summary, score_line
from medagent.settings import load_settings, resolve_api_key


class BenchSession:
    def __init__(self, config: BenchConfig, suite: Any, out_dir: Path, *, console: Any, progress: bool):
        self.config = config
        self.suite = suite
        self.out_dir = out_dir
        self.console = console
        self.show_progress = progress
        self.settings = load_settings()
        self.api_key: str | None = None

    def prepare(self, *, resume: bool, claim: bool = False) -> None:
        """Check the settings and open the run folder (``claim``: a default folder name,
        made unique by :func:`claim_out_dir`)."""
        config = self.config
        self.factory = load_agent(config.agent)
        declared = needs_model(self.factory)
        if declared and not config.model:
            raise ConfigError(f"agent {config.agent!r} calls a model: give --model")
        self.uses_model = bool(config.model) if declared is None else declared
        if self.uses_model:
            config.base_url = config.base_url or self.settings.base_url
            self.api_key = resolve_api_key(self.settings, config.api_key_env)
            if not self.api_key:
                if not config.base_url:
                    raise ConfigError(
                        "no API key: set OPENAI_API_KEY (or --api-key-env NAME, or api_key in the settings file)"
                    )
                self.api_key = "EMPTY"  # local OpenAI-compatible servers often need none
        self.prices = PriceTable(self.settings.prices)
        self.tasks = select_tasks(self.suite, config.tasks)
        self.log = TrialLog(self.out_dir / "trials.jsonl")
        run_path = self.out_dir / "run.json"
        previous_summary: dict[str, Any] = {}
        if resume:
            from medagent.leaderboard._rundir import read_json

            if not run_path.exists():
                raise ConfigError(f"--resume {self.out_dir}: not a run folder (no run.json)")
            self.run_doc = read_json(run_path)
            check_resume(config, self.run_doc, self.suite)
            summary_path = self.out_dir / "summary.json"
            if summary_path.exists():
                previous_summary = read_json(summary_path)
        else:
            if claim:
                self.out_dir = claim_out_dir(self.out_dir)
                self.log = TrialLog(self.out_dir / "trials.jsonl")
            elif (self.out_dir / "trials.jsonl").exists():
                raise ConfigError(self._taken_message())
            self.out_dir.mkdir(parents=True, exist_ok=True)
            note = self.prices.note(config.model) if self.uses_model else None
            self.run_doc = run_document(config, self.suite, self.uses_model, note, reads_full_task(self.factory))
            write_json(run_path, self.run_doc)
        self.previous = self.log.open()
        done = {r.get("trial_id") for r in self.previous}
        trials = (Trial(task, epoch) for epoch in range(1, config.epochs + 1) for task in self.tasks)
        self.todo = [trial for trial in trials if trial.trial_id not in done]
        self.wall_before = float(previous_summary.get("wall_time_s") or 0.0)

    def _taken_message(self) -> str:
        """Why ``--out`` cannot be used: a finished run needs another folder, a stopped one --resume."""
        from medagent.results import read_trial_records

        done = {r.get("trial_id") for r in read_trial_records(self.out_dir)}
        wanted = {Trial(task, epoch).trial_id for epoch in range(1, self.config.epochs + 1) for task in self.tasks}
        if wanted <= done:
            return f"{self.out_dir} already holds a finished run ({len(done)} trials); give another --out"
        return f"{self.out_dir} already holds a run; continue it with --resume {self.out_dir}"

    async def _backend(self, fhir_url: str | None) -> Any:
        from medagent.runner_backends import LocalBackend

        if fhir_url:
            from fhir_server import ServerSettings

            from medagent.runner_shared import choose_backend

            return await choose_backend(fhir_url, ServerSettings().token, self.config.sessions)
        if self.config.sessions == "off":
            raise ConfigError("--sessions off needs --fhir-url (a plain FHIR server holding the cohort)")
        from medagent.embedded import open_service

        return LocalBackend(open_service(self.suite))

    def _record_mode(self, backend: Any) -> None:
        """run.json says how trials were isolated: ``sessions`` (one session per trial) or
        ``shared`` (one trial at a time on a plain FHIR server, writes undone after each)."""
        mode = getattr(backend, "mode", "sessions")
        changed = self.run_doc.get("fhir_mode") != mode
        self.run_doc["fhir_mode"] = mode
        if mode == "shared":  # trials take turns on the shared server: say so, wait for none
            self.concurrency = 1
            changed |= self.run_doc.get("concurrency") != 1
            self.run_doc["concurrency"] = 1
        if changed:
            write_json(self.out_dir / "run.json", self.run_doc)

    async def run(self, fhir_url: str | None) -> dict[str, Any]:
        if self.config.executor == "ray":  # trials on a Ray cluster; this process still writes the records
            from medagent.executors.ray_executor import connect, disconnect, run_on_ray

            async def on_ray(on_record: Any, secrets: list[str]) -> None:
                info = await run_on_ray(self, fhir_url, self.todo, on_record=on_record, log=self.log,
                                        secrets=secrets)
                if self.show_progress and info.get("workers"):
                    (self.console or Console(stderr=True)).print(escape(
                        f"ray: {info['workers']} workers on {info['nodes']} node(s); "
                        f"{info['retried']} trial(s) re-run after a lost worker"))

            started = connect(self.config)  # a cluster that cannot be reached stops the run before it starts
            try:
                return await self._drive(on_ray, None)
            finally:
                disconnect(started)
        from medagent.llm import ChatClient
        from tasks.toolsets import tools_of

        self.concurrency = self.config.concurrency
        backend = await self._backend(fhir_url)
        try:
            await backend.check(self.suite)
        except BaseException:
            await backend.aclose()
            raise
        self._record_mode(backend)
        llm = None
        if self.uses_model:
            llm = ChatClient(self.config.model, self.config.base_url, self.api_key, self.settings,
                             generation=self.config.generation())
        self.runner = TrialRunner(
            backend=backend,
            agent_factory=self.factory,
            max_steps=self.config.max_steps,
            trial_timeout=self.settings.trial_timeout,
            llm=llm,
            model=self.config.model,
            prices=self.prices,
            full_task=reads_full_task(self.factory),
            suite_id=self.suite.id,
            faults=get_profile(self.config.faults),
            fault_delay_scale=self.settings.fault_delay_scale,
            tools=tools_of(self.suite),
        )

        async def local(on_record: Any, secrets: list[str]) -> None:
            await run_trials(self.runner, self.todo, self.log, concurrency=self.concurrency,
                             on_record=on_record, secrets=secrets)

        async def cleanup() -> None:
            await backend.aclose()
            if llm is not None:
                await llm.close()

        return await self._drive(local, cleanup)

    async def _drive(self, execute: Any, cleanup: Any) -> dict[str, Any]:
        """Run ``execute(on_record, secrets)`` with the progress bar and summary around it."""
        summary_writer = SummaryWriter(self.out_dir, self.run_doc, self.previous, self.wall_before)
        total = len(self.previous) + len(self.todo)
        self.started = time.perf_counter()
        done = False
        unavailable: ProviderUnavailable | None = None
        try:
            with Progress(self.console, total, summary_writer.trials, enabled=self.show_progress) as bar:

                def on_record(record: dict[str, Any]) -> None:
                    summary_writer.add(record)
                    bar.update(record)

                await execute(on_record, [self.api_key] if self.api_key and self.api_key != "EMPTY" else [])
            done = True
        except ProviderUnavailable as exc:
            unavailable = exc
        finally:
            self.log.close()
            summary = summary_writer.write()
            if not done and unavailable is None and len(summary_writer.trials) < total:
                (self.console or Console(stderr=True)).print(
                    escape(f"stopped: {len(summary_writer.trials)} finished trials are saved in {self.out_dir}; "
                           f"continue with: medagent bench --resume {self.out_dir}"))
            if cleanup is not None:
                await cleanup()
        if unavailable is not None:  # one line: the cause, and where the finished trials are
            kept = len(summary_writer.trials)
            where = (f"; {kept} finished trials are kept in {self.out_dir} (medagent bench --resume {self.out_dir})"
                     if kept else "")
            raise ProviderUnavailable(f"{unavailable}{where}") from None
        if self.show_progress:
            print_summary(self.console, summary, self.out_dir)
        elif self.console is not None:  # --quiet: still where the run went and its score
            self.console.print(escape(score_line(summary, self.out_dir)), highlight=False, soft_wrap=True)
        return summary
