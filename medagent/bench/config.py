"""``medagent bench``'s configuration: ``BenchConfig``, ``--model-arg``, ``--tasks``, resume.

``BenchConfig`` is what ``run.json`` records (never the API key). ``check_resume`` refuses a
``--resume`` whose settings change what a trial is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from medagent.errors import ConfigError

__all__ = ["BenchConfig", "check_resume", "parse_model_args", "safe_url", "select_tasks"]

# Fields that may differ when a run is resumed (they do not change what a trial is).
_RESUMABLE = {"concurrency", "fhir_url", "sessions", "executor", "ray_address", "ray_workers", "ray_cohort"}
_SECRET_ARG = re.compile(r"^key$|api[_-]?key|secret|passw|(?<![a-z])token(?![a-z])|authori[sz]ation|credential",
                         re.IGNORECASE)


@dataclass
class BenchConfig:
    suite: str = "mab-edge-v1"  # tasks.DEFAULT_SUITE (kept literal: tasks is imported lazily)
    agent: str = "react"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    tasks: list[str] = field(default_factory=list)
    concurrency: int = 1
    epochs: int = 1
    max_steps: int = 8
    protocol: str = "tools"
    fhir_url: str | None = None
    # generation settings, sent with every model request (None: not sent)
    temperature: float | None = 0.0
    max_tokens: int | None = None
    seed: int | None = None
    reasoning_effort: str | None = None
    model_args: dict[str, Any] = field(default_factory=dict)  # --model-arg key=value
    faults: str = "none"  # FHIR fault profile (medagent.faults): none, light or heavy
    sessions: str = "auto"  # the server's session API: auto (probe), on, off (shared server)
    # where trials run (medagent.executors): local (this process) or ray (a Ray cluster)
    executor: str = "local"
    ray_address: str | None = None  # None: start a local cluster; "auto"; "ray://host:10001"
    ray_workers: int | None = None  # actors; None: one per alive node
    ray_cohort: str = "seed"  # how each node gets its cohort replica: seed (generator) or ship (object store)

    def __post_init__(self) -> None:
        from medagent.faults import get_profile

        get_profile(self.faults)  # a ConfigError for an unknown profile
        if self.sessions not in ("auto", "on", "off"):
            raise ConfigError(f"--sessions {self.sessions!r}: expected auto, on or off")
        if self.protocol not in ("tools", "text"):
            raise ConfigError(f"--protocol {self.protocol!r}: expected tools or text")
        if self.executor not in ("local", "ray"):
            raise ConfigError(f"--executor {self.executor!r}: expected local or ray")
        if self.ray_cohort not in ("seed", "ship"):
            raise ConfigError(f"--ray-cohort {self.ray_cohort!r}: expected seed or ship")
        if self.ray_workers is not None and self.ray_workers < 1:
            raise ConfigError("--ray-workers must be at least 1")
        if self.executor == "ray" and self.sessions == "off":
            raise ConfigError("--executor ray needs sessions (--sessions off runs one trial at a time on one server)")
        if self.protocol == "text" and self.agent == "react":
            self.agent = "text"
        elif self.agent == "text":
            self.protocol = "text"
        for name in ("concurrency", "epochs", "max_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ConfigError("--max-tokens must be at least 1")
        for key in self.model_args:
            if _SECRET_ARG.search(key):
                raise ConfigError(f"--model-arg {key}: secrets go in the environment, never in a run's settings")

    def generation(self) -> dict[str, Any]:
        """The generation settings as sent to the provider (``--model-arg`` wins; None: not sent)."""
        settings = {"temperature": self.temperature, "max_completion_tokens": self.max_tokens,
                    "seed": self.seed, "reasoning_effort": self.reasoning_effort, **self.model_args}
        return {k: v for k, v in settings.items() if v is not None}

    @classmethod
    def from_run(cls, run: dict[str, Any]) -> BenchConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (run.get("config") or {}).items() if k in names})


def parse_model_args(items: list[str]) -> dict[str, Any]:
    """``["top_p=0.9", "stop=[\"x\"]", "mode=fast"]`` → a dict (JSON values, else strings)."""
    args: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--model-arg {item!r}: expected key=value")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        args[key.strip()] = value
    return args


def safe_url(url: str | None) -> str | None:
    """``url`` without user info, query or fragment (no secret can ride along)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def select_tasks(suite: Any, wanted: list[str]) -> list[Any]:
    """Tasks by id (``task5_12``), category number (``5``) or kind (``query``/``action``)."""
    if not wanted:
        return list(suite.tasks)
    by_id = {t.id: t for t in suite.tasks}
    chosen: dict[str, Any] = {}
    for item in wanted:
        for part in str(item).split(","):
            part = part.strip()
            if part in by_id:
                matches = [by_id[part]]
            elif part.isdigit():
                matches = [t for t in suite.tasks if t.category == int(part)]
            elif part in ("query", "action"):
                matches = [t for t in suite.tasks if t.kind == part]
            else:
                matches = []
            if not matches:
                raise ConfigError(_no_match(suite, part))
            chosen.update((t.id, t) for t in matches)
    return [t for t in suite.tasks if t.id in chosen]


def _no_match(suite: Any, part: str) -> str:
    """What ``--tasks`` accepts in this suite: its own categories (the header's) and ids."""
    from medagent.labels import number_ranges

    categories = getattr(suite, "categories", None) or sorted({t.category for t in suite.tasks})
    example = suite.tasks[0].id if suite.tasks else "task1_1"
    return (f"--tasks {part!r} matches no task of suite {suite.id}, whose categories are "
            f"{number_ranges(categories)} (give task ids like {example}, category numbers, query or action)")


def check_resume(config: BenchConfig, previous: dict[str, Any], suite: Any) -> None:
    old = BenchConfig.from_run(previous)
    for f in fields(BenchConfig):
        if f.name in _RESUMABLE or f.name == "base_url":
            continue
        if getattr(old, f.name) != getattr(config, f.name):
            raise ConfigError(
                f"--resume: {f.name} was {getattr(old, f.name)!r} in this run, not "
                f"{getattr(config, f.name)!r}; resume with the same settings"
            )
    if previous.get("suite_checksum") != suite.checksum:
        raise ConfigError(f"--resume: suite {suite.id} changed since this run started (checksum differs)")
