"""Fixtures of the leaderboard tests: a packed MINI run and a ``known`` hook that makes the
stand-in MINI suite and grader the ones ``medagent leaderboard verify`` uses by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from medagent.leaderboard import _verify, pack_run

from ._runs import MINI, mini_grade, mini_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return mini_run(tmp_path / "run")


@pytest.fixture
def doc(run_dir: Path) -> dict:
    return pack_run(run_dir)


@pytest.fixture
def known_mini(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route the default suite loader and grader (used by the CLI) to MINI."""
    from medagent.errors import SubmissionError

    def load(suite_id: str):
        if suite_id != MINI.id:
            raise SubmissionError(f"unknown suite {suite_id!r}")
        return MINI

    monkeypatch.setattr(_verify, "_load_suite", load)
    monkeypatch.setattr(_verify, "_default_grader", mini_grade)
