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
    from medagent import patients
    from medagent import tasks

    text = (ROOT / "docs" / "architecture.md").read_text()
    assert "re-exported by `tasks`" not in text
    assert tasks.NOW == patients.NOW and tasks.NOW is not patients.NOW  # defined apart, same instant
    assert not [p for p in (ROOT / "tasks").rglob("*.py")
                if re.search(r"^\s*((from|import) (medagent\.)?patients\b|from medagent import .*\bpatients\b)",
                           p.read_text(), flags=re.MULTILINE)]


def test_readme_says_where_the_cache_and_runs_go():
    text = (ROOT / "README.md").read_text()
    assert re.search(r"about \d+ GB per cohort", text)
    assert "runs/<time>-<agent>-<model>" in text and "MEDAGENT_HOME" in text


def _resolves(dotted: str) -> bool:
    """``pkg.module.attr…`` names something importable (tried as written, then under the
    ``medagent`` namespace, where the three other packages may be installed)."""
    import importlib

    for name in (dotted, f"medagent.{dotted}"):
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                break
            return True
    return False


def test_architecture_names_only_files_and_names_that_exist():
    text = (ROOT / "docs" / "architecture.md").read_text()
    code = re.findall(r"`([^`\n]+)`", text)
    top = r"(?:patients|fhir_server|tasks|medagent|medagent_env|docs|tests|benchmarks|examples)"
    paths = {c for c in code if re.fullmatch(top + r"(?:/[\w.*-]+)+/?", c)}
    missing = [p for p in sorted(paths) if not list(ROOT.glob(p.rstrip("/")))]
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"
    names = {m.group(0) for c in code
             for m in [re.match(r"(?:patients|fhir_server|tasks|medagent)(?:\.\w+)+", c)] if m}
    unknown = [n for n in sorted(names) if not _resolves(n)]
    assert not unknown, f"docs/architecture.md names what the code does not have: {unknown}"
    assert len(paths) > 20 and len(names) > 20  # the patterns still find the doc's names
