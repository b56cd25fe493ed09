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


@pytest.fixture(scope="session")
def bench_run(small_suite, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(suite .jsonl, run folder) of the oracle agent on the small suite (embedded server)."""
    from medagent import tasks

    from medagent.cli import main

    root = tmp_path_factory.mktemp("e2e")
    jsonl, _ = tasks.write_suite(small_suite, root / "suite")
    out = root / "run"
    assert main(["bench", "--suite", str(jsonl), "--agent", "oracle", "--out", str(out), "--quiet"]) == 0
    return jsonl, out


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
    monkeypatch.setattr(_verify, "_open_replayer", lambda suite: None)  # MINI has no cohort to replay against
