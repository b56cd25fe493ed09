"""The installed import names are one namespace: the repository keeps its four folders
(medagent/, fhir_server/, patients/, tasks/), but installed, the last three are
``medagent.fhir_server``, ``medagent.patients`` and ``medagent.tasks`` (pyproject.toml's
package-dir). A project's own ``tasks.py`` (every Celery project has one), ``patients.py`` or
``fhir_server.py`` can then no longer shadow them."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLD = ("fhir_server", "patients", "tasks")
PACKAGE_FOLDERS = ("medagent", "fhir_server", "patients", "tasks", "medagent_env")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project folder with modules named like the repository's folders, each failing
    loudly when imported."""
    folder = tmp_path / "project"
    folder.mkdir()
    for name in OLD:
        (folder / f"{name}.py").write_text(f"raise ImportError(\"the project's own {name}.py was imported\")\n")
    return folder


def run(*args: object, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_a_project_with_its_own_tasks_py_still_imports_medagent(project):
    # `python -c`, like `python my_script.py`, puts the project folder first on sys.path
    code = ("import medagent.tasks, medagent.patients, medagent.fhir_server, medagent.fhir_server.app, "
            "medagent.embedded, medagent.cli, medagent.gym\n"
            "for m in (medagent.fhir_server, medagent.patients, medagent.tasks):\n"
            "    print(m.__name__, m.__file__)\n"
            "print(len(medagent.tasks.load_suite('mab-edge-v1').tasks))\n")
    done = run(sys.executable, "-c", code, cwd=project)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    for line, name in zip(lines[:3], OLD, strict=True):
        module, path = line.split()
        assert module == f"medagent.{name}" and not Path(path).is_relative_to(project)
    assert int(lines[-1]) > 0


def test_python_m_medagent_tasks_list_from_such_a_project(project, bench_suite_path, bench_suite):
    done = run(sys.executable, "-m", "medagent", "tasks", "list", "--suite", bench_suite_path, cwd=project)
    assert done.returncode == 0, done.stderr[-2000:]
    assert bench_suite.tasks[0].id in done.stdout
    installed = shutil.which("medagent")
    assert installed, "the medagent command is installed with the package"
    done = run(installed, "tasks", "list", "--suite", bench_suite_path, cwd=project)
    assert done.returncode == 0, done.stderr[-2000:]
    assert bench_suite.tasks[-1].id in done.stdout


def test_an_oracle_bench_from_such_a_project(project, bench_suite_path, bench_service):
    done = run(sys.executable, "-m", "medagent", "bench", "--suite", bench_suite_path, "--agent", "oracle",
               "--tasks", "1", "--quiet", cwd=project)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "overall 100.0%" in done.stdout + done.stderr


def _python_files() -> list[Path]:
    """Every .py file of the checkout (not .git, virtualenvs or build output)."""
    skip = {"build", "dist", "venv", "site", "runs", "node_modules"}
    tops = [p for p in ROOT.iterdir() if not p.name.startswith(".") and p.name not in skip]
    return [f for top in tops for f in ([top] if top.suffix == ".py" else top.rglob("*.py") if top.is_dir() else [])]


def test_no_module_imports_the_old_top_level_names():
    # In a checkout `import tasks` still works from the repository root (it is on sys.path),
    # but installed it is somebody else's module, and a second copy of ours besides.
    found = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and not node.level and node.module else []
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n.split(".")[0] in OLD]
    assert not found, found


def _build_lib(tmp_path: Path) -> Path:
    """What the wheel installs (setuptools' build_py with the project's own configuration,
    offline), from a copy of the sources."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in PACKAGE_FOLDERS:
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path / "lib"
    done = run(sys.executable, "setup.py", "-q", "build_py", "--build-lib", out, cwd=src)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_the_install_holds_one_namespace_and_works_from_such_a_project(tmp_path, project):
    lib = _build_lib(tmp_path)
    assert sorted(p.name for p in lib.iterdir()) == ["medagent", "medagent_env"]
    for name in OLD:
        assert (lib / "medagent" / name / "__init__.py").is_file()
    assert (lib / "medagent" / "tasks" / "suites" / "mab-edge-v1.jsonl").is_file()  # package data
    assert (lib / "medagent" / "container" / "Dockerfile").is_file()
    # the installed copy comes first on sys.path; the project folder is the working directory
    code = ("import medagent.tasks, medagent.docker_fhir, pathlib, sys\n"
            "assert medagent.tasks.__file__.startswith(sys.argv[1]), medagent.tasks.__file__\n"
            "print(len(medagent.tasks.load_suite('mab-edge-v1').tasks))\n"
            "ctx = medagent.docker_fhir.packaged_context(pathlib.Path(sys.argv[2]))\n"
            "print(sorted(p.name for p in ctx.iterdir()))\n")
    done = run(sys.executable, "-c", code, lib, tmp_path / "ctx", cwd=project, env={"PYTHONPATH": str(lib)})
    assert done.returncode == 0, done.stderr[-2000:]
    count, folders = done.stdout.splitlines()
    assert int(count) > 0
    # the image's build context has the checkout's layout, without a second copy inside medagent/
    assert folders == str(sorted(["medagent", "fhir_server", "patients", "tasks"]))
    for name in OLD:
        assert not (tmp_path / "ctx" / "medagent" / name).exists()
        assert (tmp_path / "ctx" / name / "__init__.py").is_file()


def test_the_image_puts_the_folders_where_an_install_does():
    copies = [line.split()[1:] for line in (ROOT / "medagent/container/Dockerfile").read_text().splitlines()
              if line.startswith("COPY ")]
    for name in OLD:
        assert [name, f"./medagent/{name}"] in copies, copies


def test_medagent_env_stays_a_top_level_shim():
    # verifiers imports a taskset by its id: `medagent-env` -> module medagent_env
    tree = ast.parse((ROOT / "medagent_env" / "__init__.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == {"medagent.adapters.verifiers_env"}
