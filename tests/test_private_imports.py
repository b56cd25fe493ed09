"""Seams between medagent's packages, read from the source (ast):

- nothing outside ``medagent/leaderboard/`` imports a private leaderboard module
  (``medagent.leaderboard._x``): the run folder is ``medagent.runfolder``, the scores
  ``medagent.scores``;
- the report and the leaderboard do not import each other's private modules (their shared
  HTML helpers are ``medagent.pages``); the report imports nothing of the leaderboard;
- one atomic-write helper (``medagent.atomic``) and one ``print_summary``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for top in ("medagent", "tasks", "patients", "fhir_server") for p in sorted((ROOT / top).rglob("*.py"))]


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, package: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``path`` (of ``package``, by default the
    one it lies in); ``from X import y`` also yields ``X.y`` (y may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    if package is None:
        package = _module_of(path) if path.name == "__init__.py" else _module_of(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _inside(path: Path, folder: str) -> bool:
    return path.is_relative_to(ROOT / folder)


def _private_leaderboard(module: str) -> bool:
    parts = module.split(".")
    return parts[:2] == ["medagent", "leaderboard"] and len(parts) > 2 and parts[2].startswith("_")


def test_the_scan_sees_relative_and_absolute_imports(tmp_path):
    # the scanner itself must find what the rules forbid, in every spelling
    probe = tmp_path / "probe.py"  # as if it were a module of medagent.report
    probe.write_text("from medagent.leaderboard._site import columns\nfrom ..leaderboard import _verify\n"
                     "def f():\n    import medagent.leaderboard._format\n")
    found = [m for _, m in imports(probe, "medagent.report") if _private_leaderboard(m)]
    assert found == ["medagent.leaderboard._site", "medagent.leaderboard._site.columns",
                     "medagent.leaderboard._verify", "medagent.leaderboard._format"]


def test_no_private_leaderboard_module_is_imported_from_outside_the_leaderboard():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {m}" for p in SOURCES if not _inside(p, "medagent/leaderboard")
           for line, m in imports(p) if _private_leaderboard(m)]
    assert not bad, bad


def test_report_and_leaderboard_do_not_reach_into_each_other():
    bad = []
    for path in SOURCES:
        for line, module in imports(path):
            parts = module.split(".")
            if _inside(path, "medagent/leaderboard") and parts[:2] == ["medagent", "report"]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            if _inside(path, "medagent/report") and parts[:2] == ["medagent", "leaderboard"]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, bad
    for package in ("medagent/report", "medagent/leaderboard"):  # both build on the shared helpers
        used = {m for p in (ROOT / package).rglob("*.py") for _, m in imports(p)}
        assert "medagent.pages" in used, package


def test_one_atomic_write_helper():
    # a file replaced by rename (os.replace / Path.replace with a temporary name) happens in
    # medagent.atomic only; str.replace calls take two string arguments and are not counted
    bad = []
    for path in SOURCES:
        if path == ROOT / "medagent" / "atomic.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            func = node.func
            if func.attr == "replace" and isinstance(func.value, ast.Name) and func.value.id == "os":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} os.replace")
            elif (func.attr == "replace" and len(node.args) == 1 and not node.keywords
                  and "tmp" in ast.unparse(func.value).lower()):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(func)}")
    assert not bad, bad


def test_one_print_summary():
    defined = [f"{p.relative_to(ROOT)}:{node.lineno}" for p in SOURCES
               for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
               if isinstance(node, ast.FunctionDef) and node.name == "print_summary"]
    assert defined == ["medagent/results_view.py:" + defined[0].rsplit(":", 1)[1]], defined
