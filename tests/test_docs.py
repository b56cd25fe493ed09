"""The docs say each thing once and say it truly (the parts a test can check)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_architecture_has_each_section_once_and_no_stray_table_rows():
    text = (ROOT / "docs" / "architecture.md").read_text()
    headings = re.findall(r"^#+ .*$", text, flags=re.MULTILINE)
    assert len(headings) == len(set(headings)), [h for h in headings if headings.count(h) > 1]
    # a table row follows another row, or is a header followed by its |---| line
    lines = text.splitlines() + [""]
    for i, line in enumerate(lines):
        assert not line.startswith("---|"), f"stray table tail, line {i + 1}"
        if line.startswith("|"):
            header = lines[i + 1].startswith("|---")
            assert header or lines[i - 1].startswith("|"), f"stray table line {i + 1}: {line[:40]}"


def test_the_clock_claim_holds():
    import patients
    import tasks

    text = (ROOT / "docs" / "architecture.md").read_text()
    assert "re-exported by `tasks`" not in text
    assert tasks.NOW == patients.NOW and tasks.NOW is not patients.NOW  # defined apart, same instant
    assert not [p for p in (ROOT / "tasks").rglob("*.py")
                if re.search(r"^\s*(from|import) patients\b", p.read_text(), flags=re.MULTILINE)]


def test_readme_says_where_the_cache_and_runs_go():
    text = (ROOT / "README.md").read_text()
    assert re.search(r"about \d+ GB per cohort", text)
    assert "runs/<time>-<agent>-<model>" in text and "MEDAGENT_HOME" in text
