"""The summary of a run (``summary.json``) from its trial records.

:func:`summarize` builds the :class:`medagent.runfolder.Summary` document. Scores come
from :func:`medagent.scores.score_trials` (the same code verifies submissions).
``overall_ci95`` is the Wilson score interval (95%, z = 1.96) of ``overall`` over the
``n_trials`` trials; with several epochs the trials of one task are not independent, so
the interval is then optimistic. Reading and writing the run folder is
:mod:`medagent.runfolder`.
"""

from __future__ import annotations

import math
from typing import Any

from medagent.runfolder import RunFolder, Summary
from medagent.scores import score_trials

__all__ = ["summarize", "summary_of", "wilson_interval"]

_Z95 = 1.959963984540054


def wilson_interval(passed: int, n: int, z: float = _Z95) -> list[float] | None:
    """The Wilson score interval of a proportion ``passed / n`` (None when n = 0)."""
    if n <= 0:
        return None
    p = passed / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if passed == 0 else max(0.0, centre - half)
    hi = 1.0 if passed == n else min(1.0, centre + half)
    return [lo, hi]


def summarize(trials: list[dict[str, Any]], run: dict[str, Any], wall_time_s: float) -> dict[str, Any]:
    """``summary.json`` for ``trials`` of the run described by ``run`` (run.json)."""
    scores = score_trials(trials)
    passed = round((scores["overall"] or 0.0) * scores["n_trials"])
    summary: dict[str, Any] = {  # the order of summary.json (Summary puts format_version first)
        "suite": run.get("suite"),
        "suite_checksum": run.get("suite_checksum"),
        "cohort_checksum": run.get("cohort_checksum"),
        "model": run.get("model"),
        "agent": run.get("agent"),
        "protocol": run.get("protocol"),
        "epochs": run.get("epochs"),
        "max_steps": run.get("max_steps"),
        "generation": run.get("generation"),
        "reference_agent": bool(run.get("reference_agent")),
        "faults": run.get("faults") or "none",
        **scores,
        "overall_ci95": wilson_interval(passed, scores["n_trials"]),
        "ci_method": "wilson",
        # the suite's reference scores (blind, oracle), shown beside this run's
        "baselines": run.get("baselines") or {},
        "wall_time_s": round(wall_time_s, 3),
    }
    if summary["faults"] != "none":  # how many faults of each kind the agents met
        injected: dict[str, int] = {}
        for trial in trials:
            for kind, n in (trial.get("faults") or {}).items():
                injected[kind] = injected.get(kind, 0) + int(n)
        summary["faults_injected"] = dict(sorted(injected.items()))
    if run.get("cost_note"):
        summary["cost_note"] = run["cost_note"]
    return Summary.build(**summary)


def summary_of(folder: RunFolder) -> dict[str, Any]:
    """The run's recorded summary, completed from its trials where it is silent (a run
    stopped before its first summary, or one written before a score existed)."""
    computed = summarize(folder.trials, folder.run, 0.0)
    return {**computed, **{k: v for k, v in (folder.summary or {}).items() if v is not None}}
