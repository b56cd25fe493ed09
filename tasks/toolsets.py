"""Per-suite tool sets: each suite header records its tool names (``Suite.tools``).

``mab`` is the nine typed tools of the original benchmark (``tasks.TOOLS``), used by
``mab-v1`` and ``mab-edge-v1`` (and by any suite whose header names no tools); ``safety``
is those nine plus ``tasks.tools_safety.SAFETY_TOOLS``. The design a suite is built with
(``tasks._chart``) picks its set.
"""

from __future__ import annotations

from .errors import SuiteError
from .tools import FINISH_TOOL, TOOLS, Tool
from .tools_safety import SAFETY_TOOLS

TOOLSETS: dict[str, tuple[Tool, ...]] = {"mab": TOOLS, "edge": TOOLS, "safety": TOOLS + SAFETY_TOOLS}
_ALL: dict[str, Tool] = {t.name: t for tools in TOOLSETS.values() for t in tools}


def tool_names(design: str) -> list[str]:
    return [t.name for t in TOOLSETS[design]]


def tools_of(suite_or_names: object) -> tuple[Tool, ...]:
    """The Tool objects of a suite (or of a list of tool names); the nine when none given."""
    names = getattr(suite_or_names, "tools", suite_or_names) or []
    if not names:
        return TOOLS
    unknown = [n for n in names if n not in _ALL]
    if unknown:
        raise SuiteError(f"unknown tool(s) {', '.join(unknown)} (known: {', '.join(_ALL)})")
    return tuple(_ALL[n] for n in names)


def schemas_of(tools: tuple[Tool, ...], include_finish: bool = True) -> list[dict]:
    """OpenAI-style declarations of ``tools`` (and of ``finish``)."""
    return [t.schema() for t in tools] + ([FINISH_TOOL] if include_finish else [])
