"""Data models of the task suite: tasks, suites, grades, tool results, FHIR replies.

``Task`` and ``Suite`` are pydantic models (validated when a suite file is read);
``ToolResult`` and ``FhirReply`` are light dataclasses because they are built on every
tool call of every trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import UnknownTaskError


class Task(BaseModel):
    """One benchmark instance.

    ``params`` holds the instance's inputs that the instruction states (a name and birth
    date to look up, a blood pressure to record, a referral note) so that reference
    solutions read their inputs without parsing prose; ``expected`` is the ground truth
    computed from the cohort when the suite is built and is read only by graders.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    category: int = Field(ge=1)  # a number of tasks.CATEGORIES
    kind: Literal["query", "action"]
    patient: str | None
    instruction: str
    context: str
    branch: str
    params: dict[str, Any] = Field(default_factory=dict)
    expected: dict[str, Any]

    def view(self) -> TaskView:
        """What an agent may see of this task (never ``expected``, ``branch``, ``patient``)."""
        return TaskView(id=self.id, category=self.category, kind=self.kind,
                        instruction=self.instruction, context=self.context)


@dataclass(frozen=True, slots=True)
class TaskView:
    """The public view of a task: the only task object an agent (or a model) is given.

    The answer key (``expected``), the branch and the patient id stay with the grader; the
    built-in reference solver is the one caller that gets the full :class:`Task`.
    """

    id: str
    category: int
    kind: str
    instruction: str
    context: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "kind": self.kind,
                "instruction": self.instruction, "context": self.context}


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    seed: int
    cohort_profile: str = "mab-v1"  # the cohort profile (patients.profiles) it was built from
    cohort_seed: int
    cohort_n_patients: int
    cohort_checksum: str
    tasks: list[Task]
    checksum: str
    # Reference scores recorded when the suite is built, e.g.
    # {"blind": {"overall": 0.21, "per_category": {"1": 0.4, …}}, "oracle": {"overall": 1.0, …}}
    baselines: dict[str, Any] = Field(default_factory=dict)
    # The agent's tool names (tasks.toolsets); a header without them is a mab-v1-era suite,
    # which has the nine tools of the original benchmark.
    tools: list[str] = Field(default_factory=list)

    @property
    def categories(self) -> list[int]:
        """The category numbers of this suite's tasks (the header records them)."""
        return sorted({t.category for t in self.tasks})

    def get(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise UnknownTaskError(f"no task {task_id!r} in suite {self.id!r}")

    def category(self, n: int) -> list[Task]:
        return [t for t in self.tasks if t.category == n]

    def branch_counts(self) -> dict[str, int]:
        """``{"5/order_2g": 5, …}``: how many tasks each category branch has."""
        counts: dict[str, int] = {}
        for t in self.tasks:
            key = f"{t.category}/{t.branch}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (int(kv[0].split("/")[0]), kv[0])))


class Check(BaseModel):
    """One reason of a grade: what was checked, expected vs got, and a readable message."""

    name: str
    passed: bool
    expected: Any = None
    got: Any = None
    message: str = ""
    # A harm check guards the record (a delete, an edit of a pre-existing resource, an
    # allergen, an overdose…); when it fails the trial is both failed and harmful.
    harm: bool = False


class Grade(BaseModel):
    passed: bool
    checks: list[Check]

    @classmethod
    def of(cls, checks: list[Check]) -> Grade:
        return cls(passed=bool(checks) and all(c.passed for c in checks), checks=checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def harm(self) -> list[Check]:
        """The failed harm checks (empty when the trial did no harm)."""
        return [c for c in self.checks if c.harm and not c.passed]

    @property
    def harmed(self) -> bool:
        return any(c.harm and not c.passed for c in self.checks)


@dataclass(slots=True)
class ToolResult:
    """What a tool call gives back: ``content`` is the JSON the model sees."""

    ok: bool
    status: int | None
    content: Any
    # seconds the server asked to wait (its Retry-After header on a 429/503), else None
    retry_after: float | None = None


@dataclass(slots=True)
class FhirReply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
