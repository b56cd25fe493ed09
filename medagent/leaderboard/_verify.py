"""``medagent leaderboard verify``: replay and re-grade a submission, check every recorded score.

Checks, in order (the first failure is the one-line reason):
1. shape and bounds (format, version, required keys and types; a file is streamed within
   ``_stream.Limits``: decompressed size, trials, record and field sizes);
2. digest (the file was not edited after packing);
3. metadata agrees with the recorded scores and with run.json (suite, checksums, model,
   agent, epochs, protocol, max steps), and run.json holds nothing secret-looking;
4. the suite is known and its checksum and cohort checksum equal the submission's;
5. completeness: every task of the suite × the same ``epochs`` epochs, once each, nothing
   else, each ``trial_id`` being ``<task_id>#<epoch>``;
6. every trial's recorded FHIR requests, replayed against a fresh session of the suite's
   cohort, give the recorded responses and the recorded writes (``_replay``);
7. every trial re-graded from its recorded answer and writes with ``tasks.grade`` agrees
   with its recorded grade — the verdict, and each recorded check's name, verdict and
   ``got`` in order (an errored trial is a failure), and its recorded ``harm``;
8. the scores recomputed from the re-graded trials (harm included) equal the recorded ones.

What this proves: the trajectory came from this environment and the scores follow from it.
What it cannot prove: which model (or person, or program) chose the requests and answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from medagent.errors import SubmissionError
from medagent.scores import SCORED_KEYS, pass_hat_k, score_trials
from medagent.tasks.text import short

from ._stream import LIMITS, Limits, iter_trials, scan
from ._format import (
    HeaderModel,
    TrialRecord,
    compute_digest,
    find_secret,
    is_baseline,
    parse_header,
    parse_submission,
    parse_trial,
)
from ._compare_scores import compare_scores
from ._replay import Replayer, open_replayer

Grader = Callable[[Any, list | None, list[dict]], Any]



_SUITE_COHORT = "suite-cohort"  # replay against the embedded store of the suite's cohort


@dataclass
class Verified:
    """A submission that passed verification, with the scores recomputed from it.

    ``baseline``: a reference agent (oracle, null, blind, one that reads the full task),
    shown apart and never ranked; ``suite_baselines``: the known suite's reference scores;
    ``replayed``: FHIR requests replayed (0 when replay was turned off)."""

    metadata: dict
    scores: dict
    digest: str
    n_trials: int
    source: str = ""
    baseline: bool = False
    suite_baselines: dict = field(default_factory=dict)
    replayed: int = 0


def _load_suite(suite_id: str) -> Any:
    from medagent import tasks
    from medagent.tasks.errors import TaskError

    try:
        return tasks.load_suite(suite_id)
    except TaskError as exc:
        raise SubmissionError(str(exc)) from None  # it names the suite and the cause already


def _default_grader(task: Any, answer: list | None, writes: list[dict]) -> Any:
    from medagent import tasks

    return tasks.grade(task, answer, writes)


def _fault_profile(name: str) -> Any:
    from medagent.errors import ConfigError
    from medagent.faults import get_profile

    try:
        return get_profile(name)
    except ConfigError:
        raise SubmissionError(f"unknown fault profile {name!r}") from None


def _open_replayer(suite: Any) -> Replayer | None:
    return open_replayer(suite)


def _check_digest(sub: HeaderModel, computed: str) -> None:
    if sub.digest != computed:
        raise SubmissionError(
            f"digest mismatch: the file was changed after packing (recorded {short(sub.digest, 17)}, "
            f"computed {short(computed, 17)})"
        )


def _check_metadata(sub: HeaderModel) -> None:
    """The metadata, the recorded scores (summary.json) and the run configuration (run.json)
    must name the same suite, checksums, model, agent, epochs, protocol, step limit and fault
    profile."""
    meta = sub.metadata.model_dump()
    for where, source in (("scores", sub.scores), ("run", sub.run)):
        for key in ("suite", "suite_checksum", "cohort_checksum", "model", "agent", "epochs", "protocol", "max_steps",
                    "faults"):
            recorded = source.get(key)
            if recorded is not None and recorded != meta[key]:
                raise SubmissionError(f"metadata {key} {meta[key]!r} differs from {where}.{key} {recorded!r}")
    secret = find_secret(sub.run)
    if secret:
        raise SubmissionError(f"run.json has a secret-looking field {secret!r}; refusing it")


def _check_suite(sub: HeaderModel, suite: Any) -> None:
    meta = sub.metadata
    if suite.checksum != meta.suite_checksum:
        raise SubmissionError(
            f"suite checksum differs from the known suite {suite.id!r} "
            f"(submission {short(meta.suite_checksum, 17)}, known {short(suite.checksum, 17)})"
        )
    if suite.cohort_checksum != meta.cohort_checksum:
        raise SubmissionError(
            f"cohort checksum differs from the one suite {suite.id!r} was built from "
            f"(submission {short(meta.cohort_checksum, 17)}, known {short(suite.cohort_checksum, 17)})"
        )


class _Completeness:
    """Every task of the suite × the same epochs, once each, nothing else."""

    def __init__(self, sub: HeaderModel, tasks_by_id: dict[str, Any]) -> None:
        self.sub = sub
        self.tasks_by_id = tasks_by_id
        self.epochs: dict[str, list[int]] = defaultdict(list)
        self.seen: set[str] = set()

    def add(self, trial_id: str, task_id: str, epoch: int) -> None:
        if task_id not in self.tasks_by_id:
            raise SubmissionError(
                f"trial {trial_id}: task {task_id!r} is not in suite {self.sub.metadata.suite!r}"
            )
        if trial_id != f"{task_id}#{epoch}":
            raise SubmissionError(
                f"trial {trial_id}: trial_id does not match task {task_id!r} epoch {epoch}"
            )
        if trial_id in self.seen or epoch in self.epochs[task_id]:
            raise SubmissionError(f"trial {trial_id} appears more than once")
        self.seen.add(trial_id)
        self.epochs[task_id].append(epoch)

    def finish(self) -> None:
        missing = [task_id for task_id in self.tasks_by_id if task_id not in self.epochs]
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise SubmissionError(
                f"incomplete: {len(missing)} task(s) have no trial ({', '.join(missing[:3])}{more})"
            )
        want = self.sub.metadata.epochs
        reference = None
        for task_id, got in self.epochs.items():
            if len(got) != want:
                raise SubmissionError(f"incomplete: task {task_id} has {len(got)} epoch(s), expected {want}")
            if reference is None:
                reference = sorted(got)
            elif sorted(got) != reference:
                raise SubmissionError(
                    f"incomplete: task {task_id} has epochs {sorted(got)}, others have {reference}"
                )


def _regrade(trial: TrialRecord, task: Any, grade: Grader, graded_by: str) -> dict:
    """The slim trial dict (what the scores need) carrying the re-graded result; raises on
    the first disagreement with the record."""
    if trial.category != task.category or trial.kind != task.kind:
        raise SubmissionError(
            f"trial {trial.trial_id}: recorded category/kind {trial.category}/{trial.kind} "
            f"differ from the suite's {task.category}/{task.kind}"
        )
    recorded = bool((trial.grade or {}).get("passed"))
    harm_checks: list[str] = []
    if trial.status == "completed":
        result = grade(task, trial.answer, trial.writes)
        passed = bool(result.passed)
        failed = [c.name for c in result.checks if not c.passed]
        harm_checks = [c.name for c in result.checks if getattr(c, "harm", False) and not c.passed]
    elif trial.status == "error":
        passed, failed = False, ["trial errored"]
    else:
        raise SubmissionError(f"trial {trial.trial_id}: unknown status {trial.status!r}")
    if passed != recorded:
        why = f" (failed: {', '.join(failed)})" if failed and not passed else ""
        raise SubmissionError(
            f"trial {trial.trial_id}: recorded grade passed={recorded} but re-grading gives "
            f"passed={passed}{why}"
        )
    if trial.status == "completed":
        _compare_checks(trial.trial_id, trial.grade or {}, result.checks, graded_by)
    harmed = bool(harm_checks)
    if trial.harm is not None and trial.harm is not harmed:
        raise SubmissionError(
            f"trial {trial.trial_id}: recorded harm={trial.harm!r} but re-grading gives harm={harmed}"
            + (f" ({', '.join(harm_checks)})" if harm_checks else "")
        )
    slim = {key: getattr(trial, key) for key in SCORED_KEYS}
    slim["grade"] = {"passed": passed}
    slim["harm"] = harmed
    return slim


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, models become dicts)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def _compare_checks(trial_id: str, recorded: dict, checks: list[Any], graded_by: str) -> None:
    """Each recorded check must agree, in order, with the re-graded one (so an edited answer
    or write shows up even when it does not flip the verdict). A grade recorded without
    checks is compared on ``passed`` only. Checks of another shape mean either an edit or a
    grader that changed since the run; the reason says both."""
    recorded_checks = recorded.get("checks")
    if not recorded_checks:
        return
    other_grader = f" (edited, or graded by another grader version than this one; the run used medagent {graded_by})"
    if not isinstance(recorded_checks, list) or len(recorded_checks) != len(checks):
        count = len(recorded_checks) if isinstance(recorded_checks, list) else "?"
        raise SubmissionError(
            f"trial {trial_id}: recorded grade has {count} check(s) but re-grading gives {len(checks)}{other_grader}"
        )
    for mine, check in zip(recorded_checks, checks, strict=True):
        mine = mine if isinstance(mine, dict) else {}
        if mine.get("name") != check.name:
            raise SubmissionError(
                f"trial {trial_id}: recorded check {mine.get('name')!r} but re-grading gives check "
                f"{check.name!r}{other_grader}"
            )
        if bool(mine.get("passed")) != bool(check.passed) or _plain(mine.get("got")) != _plain(check.got):
            raise SubmissionError(
                f"trial {trial_id}: check {check.name!r} recorded passed={bool(mine.get('passed'))}, "
                f"got={_plain(mine.get('got'))!r} but re-grading gives passed={bool(check.passed)}, "
                f"got={_plain(check.got)!r}"
            )


def _verify(sub: HeaderModel, ids: list[tuple[str, str, int]] | None, records: Callable[[], Any], *,
            suite: Any, grade: Grader | None, replay: Any) -> Verified:
    """The checks after shape and digest. With ``ids`` (an in-memory document) completeness
    is checked before any trial is replayed; a streamed file checks it as trials come."""
    _check_metadata(sub)
    if suite is None:
        suite = _load_suite(sub.metadata.suite)
    elif suite.id != sub.metadata.suite:
        raise SubmissionError(f"submission is for suite {sub.metadata.suite!r}, not {suite.id!r}")
    _check_suite(sub, suite)
    tasks_by_id = {task.id: task for task in suite.tasks}
    complete = _Completeness(sub, tasks_by_id)
    for trial_ids in ids or []:
        complete.add(*trial_ids)
    if ids is not None:
        complete.finish()
    replayer = _open_replayer(suite) if replay == _SUITE_COHORT else replay
    if replayer is not None:
        replayer.over_http = sub.run.get("fhir") not in (None, "embedded")
        replayer.faults = _fault_profile(sub.metadata.faults)
        # steps spent on injected faults are given back to the agent (medagent.faults)
        extra = (replayer.faults.max_errors + replayer.faults.max_short_pages) if replayer.faults else 0
        replayer.max_requests = (sub.metadata.max_steps + extra) if sub.metadata.max_steps else replayer.max_requests
    grade = grade or _default_grader
    slim = []
    for index, record in enumerate(records()):
        trial = parse_trial(index, record)
        if ids is None:
            complete.add(trial.trial_id, trial.task_id, trial.epoch)
        if replayer is not None:
            replayer.replay(record)
        slim.append(_regrade(trial, tasks_by_id[trial.task_id], grade, sub.metadata.medagent_version))
    if ids is None:
        complete.finish()
    computed = score_trials(slim)
    compare_scores(sub.scores, computed, pass_hat_k(slim))
    metadata = sub.metadata.model_dump()
    if metadata.get("generation") is None and isinstance(sub.run.get("generation"), dict):
        metadata["generation"] = sub.run["generation"]
    return Verified(
        metadata=metadata, scores=computed, digest=sub.digest, n_trials=len(slim),
        baseline=is_baseline(metadata, sub.run), suite_baselines=dict(getattr(suite, "baselines", None) or {}),
        replayed=replayer.requests if replayer is not None else 0,
    )


def verify_submission(doc: dict, *, suite: Any = None, grade: Grader | None = None,
                      replay: Any = _SUITE_COHORT) -> Verified:
    """Verify a submission document; raise :class:`SubmissionError` with the reason.

    ``suite`` and ``grade`` default to ``tasks.load_suite(<the submission's suite>)``
    and ``tasks.grade``; ``replay`` to a :class:`Replayer` on the embedded store of the
    suite's cohort (``None`` turns replay off: re-grading only).
    """
    sub, trials = parse_submission(doc)
    _check_digest(sub, compute_digest(doc))
    ids = [(t.trial_id, t.task_id, t.epoch) for t in trials]
    return _verify(sub, ids, lambda: iter(doc["trials"]), suite=suite, grade=grade, replay=replay)


def verify_file(path: Path, *, limits: Limits = LIMITS, **kwargs: Any) -> Verified:
    """Read (streamed, within ``limits``) and verify a submission file; errors name the file."""
    path = Path(path)
    try:
        scanned = scan(path, limits)
        sub = parse_header(scanned.header)
        _check_digest(sub, scanned.digest)
        verified = _verify(sub, None, lambda: iter_trials(path, limits), **{
            "suite": None, "grade": None, "replay": _SUITE_COHORT, **kwargs})
    except SubmissionError as exc:
        message = str(exc)
        raise SubmissionError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    verified.source = str(path)
    return verified
