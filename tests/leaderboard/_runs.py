"""Run folders built by hand from the "medagent results" contract, for the leaderboard tests.

``MINI`` is a four-task stand-in suite with a grader shaped like ``tasks.grade`` (a Grade
with ``passed`` and ``checks``), used where a test must not depend on the real suite.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from medagent.leaderboard import score_trials, seal


@dataclass
class MiniTask:
    id: str
    category: int
    kind: str
    expected: Any


@dataclass
class MiniSuite:
    id: str
    tasks: list[MiniTask]
    cohort_checksum: str
    checksum: str = ""
    baselines: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        lines = b"".join(orjson.dumps(asdict(t)) + b"\n" for t in self.tasks)
        self.checksum = hashlib.sha256(lines).hexdigest()


@dataclass
class Check:
    name: str
    passed: bool
    expected: Any = None
    got: Any = None
    message: str = ""
    harm: bool = False


@dataclass
class Grade:
    passed: bool
    checks: list[Check] = field(default_factory=list)


MINI = MiniSuite(
    id="mini-v1",
    cohort_checksum=hashlib.sha256(b"mini cohort").hexdigest(),
    tasks=[
        MiniTask("task1_1", 1, "query", ["S0000001"]),
        MiniTask("task2_1", 2, "query", [42]),
        MiniTask("task5_1", 5, "action", {"writes": ["MedicationRequest"]}),
        MiniTask("task5_2", 5, "action", {"writes": []}),
    ],
)


def mini_grade(task: MiniTask, answer: list | None, writes: list[dict]) -> Grade:
    deletes = [w.get("url") for w in writes if w.get("interaction") == "delete"]
    if deletes:  # a harm check, as tasks.grade has: any delete fails the trial and is harm
        grade = mini_grade(task, answer, [w for w in writes if w.get("interaction") != "delete"])
        grade.checks.append(Check("no_deletes", False, [], deletes, "the agent deleted records", harm=True))
        grade.passed = False
        return grade
    if task.kind == "query":
        ok = answer == task.expected
        checks = [Check("answer", ok, task.expected, answer, "" if ok else "answer differs from the expected one")]
        no_writes = not writes
        checks.append(Check("no_writes", no_writes, [], [w.get("resourceType") for w in writes],
                            "" if no_writes else "a query task must not write"))
        return Grade(ok and no_writes, checks)
    got = [w.get("resourceType") for w in writes]
    ok = got == task.expected["writes"]
    return Grade(ok, [Check("writes", ok, task.expected["writes"], got, "" if ok else "unexpected writes")])


def grade_dict(grade: Grade) -> dict:
    return asdict(grade)


def good_answer(task: MiniTask) -> tuple[list | None, list[dict]]:
    if task.kind == "query":
        return list(task.expected), []
    writes = [
        {"seq": i + 1, "interaction": "create", "method": "POST", "url": rt, "status": 201,
         "resourceType": rt, "id": f"w{i}", "versionId": "1", "resource": {"resourceType": rt}}
        for i, rt in enumerate(task.expected["writes"])
    ]
    return [], writes


def make_trial(task: Any, epoch: int, answer: list | None, writes: list[dict], grade: Any,
               *, status: str = "completed", error: str | None = None, steps: int = 3,
               message: str = "") -> dict:
    prompt, completion = 900 + 10 * steps, 40 * steps
    harm_checks = [c["name"] for c in (grade or {}).get("checks", []) if c.get("harm") and not c.get("passed")]
    return {
        "trial_id": f"{task.id}#{epoch}",
        "task_id": task.id,
        "epoch": epoch,
        "category": task.category,
        "kind": task.kind,
        "status": status,
        "error": error,
        "answer": answer,
        "writes": writes,
        "grade": grade,
        "harm": bool(harm_checks),
        "harm_checks": harm_checks,
        "messages": [
            {"role": "system", "content": "You are a clinician's assistant working in a FHIR EHR."},
            {"role": "user", "content": f"Task {task.id}. {message}"},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function",
                             "function": {"name": "finish", "arguments": orjson.dumps({"answer": answer}).decode()}}]},
        ],
        "tool_calls": [{"step": 1, "name": "search_patients", "arguments": {"identifier": "S0000001"},
                        "ok": True, "status": 200, "content": {"resourceType": "Bundle", "total": 1}}],
        "fhir_requests": [{"method": "GET", "path": "Patient", "params": [["identifier", "S0000001"]], "body": None,
                           "status": 200, "response": {"resourceType": "Bundle", "type": "searchset", "total": 1}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
        "cost_usd": round((prompt * 2.5 + completion * 10) / 1e6, 8),
        "steps": steps,
        "duration_s": 0.25 * steps,
    }


def write_run(folder: Path, trials: list[dict], *, suite: Any, epochs: int, model: str = "gpt-test",
              agent: str = "react", started_at: str = "2026-11-20T09:00:00+00:00",
              base_url: str = "https://api.example.com/v1", run_extra: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    run = {
        "model": model, "base_url": base_url, "agent": agent, "suite": suite.id,
        "suite_checksum": suite.checksum, "cohort_checksum": suite.cohort_checksum,
        "concurrency": 4, "epochs": epochs, "max_steps": 8, "protocol": "tools",
        "medagent_version": "0.1.0", "started_at": started_at, **(run_extra or {}),
    }
    (folder / "run.json").write_bytes(orjson.dumps(run, option=orjson.OPT_INDENT_2))
    (folder / "trials.jsonl").write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in trials))
    summary = {
        "suite": suite.id, "suite_checksum": suite.checksum, "cohort_checksum": suite.cohort_checksum,
        "model": model, "agent": agent, **score_trials(trials), "wall_time_s": 12.5,
        "baselines": getattr(suite, "baselines", {}),
    }
    summary["overall_ci95"] = [max(0.0, summary["overall"] - 0.2), min(1.0, summary["overall"] + 0.2)]
    (folder / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return folder


DELETE = {"seq": 9, "interaction": "delete", "method": "DELETE", "url": "Observation/obs1", "status": 204,
          "resourceType": "Observation", "id": "obs1", "versionId": "2", "resource": None}


def mini_run(folder: Path, *, epochs: int = 2, wrong: tuple[str, ...] = ("task2_1#2",), extra_steps: int = 0,
             wrong_answer: list | None = None, harm: tuple[str, ...] = (), **kwargs: Any) -> Path:
    """A complete MINI run; trials named in ``wrong`` answer wrongly, ``task5_2#1`` errored;
    trials named in ``harm`` also delete an Observation (a failed harm check);
    ``extra_steps`` makes every trial longer (more tokens, higher cost); a wrong query
    answers ``wrong_answer`` (default ``[7]``)."""
    trials = []
    for task in MINI.tasks:
        for epoch in range(1, epochs + 1):
            trial_id = f"{task.id}#{epoch}"
            answer, writes = good_answer(task)
            if trial_id in wrong:
                answer = (wrong_answer or [7]) if task.kind == "query" else answer
                writes = [] if task.kind == "action" else writes
            if trial_id in harm:
                writes = [*writes, DELETE]
            if trial_id == "task5_2#1":
                trials.append(make_trial(task, epoch, None, [], None, status="error",
                                         error="ProviderError: rate limited after 5 retries\ntrace…"))
                continue
            grade = grade_dict(mini_grade(task, answer, writes))
            trials.append(make_trial(task, epoch, answer, writes, grade, steps=2 + epoch + task.category % 3 + extra_steps))
    return write_run(folder, trials, suite=kwargs.pop("suite", MINI), epochs=epochs, **kwargs)


def edited(doc: dict, change, *, reseal: bool = True) -> dict:
    """A deep copy of ``doc`` with ``change(copy)`` applied, re-sealed unless told not to
    (a forger can always recompute the digest; re-grading must still catch the edit)."""
    out = copy.deepcopy(doc)
    change(out)
    return seal(out) if reseal else out


def trial(doc: dict, trial_id: str) -> dict:
    return next(t for t in doc["trials"] if t["trial_id"] == trial_id)


HOSTILE = "<script>document.documentElement.setAttribute('data-pwned','1')</script>"

# Three runs whose orders differ by overall, cost and date (see ``board_dir``).
BOARD = {
    "alpha": {"wrong": (), "extra_steps": 3, "started_at": "2026-11-20T09:00:00+00:00"},
    "beta": {"wrong": ("task2_1#2",), "extra_steps": 0, "started_at": "2026-11-22T09:00:00+00:00"},
    "gamma": {"wrong": ("task1_1#1", "task2_1#1", "task5_1#2"), "extra_steps": 6,
              "started_at": "2026-11-18T09:00:00+00:00"},
}


def board_dir(root: Path) -> Path:
    """A folder of submissions: alpha (overall 7/8), beta (6/8), gamma (4/8, its model name
    carries a script), one tampered file, one duplicate of alpha and one unrelated file."""
    from medagent.leaderboard import pack_run, write_submission

    out = root / "submissions"
    out.mkdir(parents=True)
    docs = {}
    for name, options in BOARD.items():
        model = name + HOSTILE if name == "gamma" else name
        docs[name] = pack_run(mini_run(root / "runs" / name, model=model, **options))
        write_submission(docs[name], out / f"{name}.json.gz" if name == "beta" else out / f"{name}.json")
    write_submission(docs["alpha"], out / "alpha2.json")
    forged = edited(docs["beta"], lambda d: d["scores"].update(overall=1.0))
    write_submission(forged, out / "forged.json")
    (out / "notes.txt").write_text("not a submission")
    return out
