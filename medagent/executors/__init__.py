"""Where ``medagent bench`` runs its trials: ``local`` (the default: one asyncio loop in
this process, :func:`medagent.bench.trial.run_trials`) or ``ray`` (:mod:`.ray_executor`, the
``[ray]`` extra: trials spread over a Ray cluster, records streamed back to this process,
still the only writer of ``trials.jsonl``)."""

from __future__ import annotations

EXECUTORS = ("local", "ray")

__all__ = ["EXECUTORS"]
