"""The medagent task suite: categories, instructions, the agent's tools, reference
solutions and graders (MedAgentBench-compatible, graded on what was written).

    suite = tasks.load_suite("mab-v1")
    answer = await tasks.get_category(task.category).solve(task, env)
    grade = tasks.grade(task, answer, writes)
"""

from __future__ import annotations

from ._clock import NOW, NOW_ISO
from ._suite_io import DEFAULT_SUITE, known_suites, load_suite, write_suite
from .baselines import compute_baselines, with_baselines
from .build import build_suite
from .categories import CATEGORIES, get_category
from .clients import FhirClient, HttpFhirClient, LocalFhirClient
from .env import ClientToolEnv, ToolEnv
from .errors import FhirClientError, SolveError, SuiteError, TaskError, ToolError, UnknownTaskError
from .grading import grade
from .models import Check, FhirReply, Grade, Suite, Task, TaskView, ToolResult
from .tools import FINISH_TOOL, NEXT_PAGE_TOOL, TOOLS, TOOLS_BY_NAME, Tool, get_tool, tool_schemas

__all__ = [
    "CATEGORIES", "DEFAULT_SUITE", "FINISH_TOOL", "NEXT_PAGE_TOOL", "NOW", "NOW_ISO", "TOOLS", "TOOLS_BY_NAME", "Check",
    "ClientToolEnv", "FhirClient", "FhirClientError", "FhirReply", "Grade", "HttpFhirClient",
    "LocalFhirClient", "SolveError", "Suite", "SuiteError", "Task", "TaskError", "Tool",
    "TaskView", "ToolEnv", "ToolError", "ToolResult", "UnknownTaskError", "build_suite", "compute_baselines", "get_category",
    "get_tool", "grade", "known_suites", "load_suite", "tool_schemas", "with_baselines", "write_suite",
]
