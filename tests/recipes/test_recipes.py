"""The "Where to add things" recipes of docs/architecture.md, followed as written.

Each test follows one recipe in a temporary copy of the repository (the four package
folders and pyproject.toml) and proves the addition works there, through the `medagent`
command run as ``python -m medagent`` with the copy first on ``PYTHONPATH``:

- a task category: a new module in the categories folder, registered in the registry's
  ``__init__``; ``tasks build`` puts it in a suite whose oracle baseline for it is 100 %,
  and ``tasks list --category N`` shows it;
- an agent: a class with ``async def run(self, task, env)``, passed as ``module:Class``, as
  ``path/file.py:Class`` and by the name it is registered under in the ``medagent.agents``
  entry-point group; ``bench --agent`` runs it each way;
- a search parameter: one line in the search-parameter table; a server started from the
  copy answers it over HTTP, and a database indexed by the copy is refused by the
  original code in one line.

The copy's paths are found from the imported packages (no path written out here), so the
tests keep working when the packages' import names move.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from medagent import fhir_server
import medagent.fhir_server.search_params
import medagent
from medagent import patients
from medagent import tasks
import medagent.tasks.categories
from medagent.fhir_server.errors import FhirServerError
from medagent.fhir_server.process import start_serve

# medagent first: were the other three installed inside it, they are copied into its copy.
PACKAGES = (medagent, patients, fhir_server, tasks)
COHORT = ("mab-v1", 7, 10)  # COHORT's small cohort (tests/fixtures_cohort.py): cached, and seeded


def _in_copy(copy: Path, module) -> Path:
    """Where ``module``'s file is in the copy, laid out by import name as an install lays it."""
    parts = module.__name__.split(".")
    return copy.joinpath(*(parts if hasattr(module, "__path__") else parts[:-1]), Path(module.__file__).name)


def _medagent(copy: Path, *args: str, cwd: Path | None = None, timeout: float = 120
              ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(copy), COLUMNS="200")
    proc = subprocess.run([sys.executable, "-m", "medagent", *map(str, args)], cwd=cwd or copy, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (args, proc.stdout[-1500:], proc.stderr[-1500:])
    return proc


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("repo")
    for package in PACKAGES:
        shutil.copytree(Path(package.__file__).parent, _in_copy(copy, package).parent, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(Path(medagent.__file__).parents[1] / "pyproject.toml", copy / "pyproject.toml")
    # The copy, not the installed tree, is what the subprocesses import.
    names = [m.__name__ for m in PACKAGES] + [tasks.categories.__name__, fhir_server.search_params.__name__]
    probe = subprocess.run([sys.executable, "-c", "import importlib, sys; print(*(importlib.import_module(n)"
                            ".__file__ for n in sys.argv[1:]))", *names],
                           env=dict(os.environ, PYTHONPATH=str(copy)), cwd=copy, capture_output=True,
                           text=True, check=True)
    assert all(Path(f).is_relative_to(copy) for f in probe.stdout.split()), probe.stdout
    return copy


# --- a task category ---------------------------------------------------------------------

CATEGORY = '''"""Category {number} (query): a patient's administrative gender (the recipe test's category)."""

from __future__ import annotations

import random
from typing import Any

from ..models import Check, Grade, Task
from ._common import call_ok, graded, guess, mrn, resources, templated
from ._select import Instance, select_instances

NUMBER, NAME, KIND = {number}, "recipe_gender", "query"
TITLE = "Recorded gender"
BRANCHES = {{"female": 1, "male": 1}}
DESIGNS = {{"mab": BRANCHES}}


def select(chart: Any, rng: random.Random, n: int) -> list[Instance]:
    pools: dict[str, list[str]] = {{}}
    for m, p in chart.patients.items():
        pools.setdefault(p.gender, []).append(m)
    return select_instances(pools, BRANCHES, n, rng,
                            lambda b, m, r: Instance(m, b, {{}}, {{"answer": [b]}}))


render = templated(KIND, "What gender is recorded for patient {{patient}}? Answer e.g. [\\"female\\"].")


async def solve(task: Task, env: Any) -> list:
    found = resources(await call_ok(env, "search_patients", {{"identifier": mrn(task)}}))
    return [found[0]["gender"]]


blind = guess(["female"])


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    ok = isinstance(answer, list) and answer == task.expected["answer"]
    return graded([Check(name="answer", passed=ok, expected=task.expected["answer"], got=answer,
                         message="" if ok else "wrong gender")], writes, [])
'''


@pytest.fixture(scope="module")
def category_suite(repo_copy, embedded_service) -> tuple[int, Path]:
    """The category recipe followed in the copy, then a suite built with it: (number, suite file)."""
    number = max(tasks.CATEGORIES) + 1
    folder = _in_copy(repo_copy, tasks.categories).parent
    (folder / "recipe_gender.py").write_text(CATEGORY.format(number=number))
    with (folder / "__init__.py").open("a") as init:  # registered as the others are
        init.write("\nfrom . import recipe_gender  # noqa: E402\n\nregister(recipe_gender)\n")
    profile, seed, n = COHORT
    out = repo_copy / "suites"
    _medagent(repo_copy, "tasks", "build", "--suite-id", "recipe", "--profile", profile, "--cohort-seed", seed,
              "--patients", n, "--per-category", 2, "--out", out)
    return number, out / "recipe.jsonl"


def test_a_new_category_is_built_listed_and_solved_by_its_oracle(repo_copy, category_suite):
    number, suite = category_suite
    header = json.loads(suite.with_suffix(".json").read_text())
    assert number in header["categories"] or str(number) in header["categories"]
    mine = [json.loads(line) for line in suite.read_text().splitlines()]
    mine = [t for t in mine if t["category"] == number]
    assert len(mine) == 2 and {t["expected"]["answer"][0] for t in mine} <= {"female", "male"}
    assert header["baselines"]["oracle"]["per_category"][str(number)] == 1.0
    assert header["baselines"]["oracle"]["overall"] == 1.0
    listed = _medagent(repo_copy, "tasks", "list", "--suite", suite, "--category", number).stdout
    assert listed.count("What gender is recorded") == 2 and all(t["id"] in listed for t in mine)


# --- an agent ----------------------------------------------------------------------------

AGENT = '''class EchoAgent:
    """One tool call, then an answer naming itself and the call's status."""

    async def run(self, task, env):
        result = await env.call("search_patients", {"identifier": "S0000000"})
        env.finish(["recipe-agent", result.status])
'''


def test_a_new_agent_runs_by_module_file_and_entry_point(repo_copy, category_suite, tmp_path):
    number, suite = category_suite
    (repo_copy / "recipe_agents.py").write_text(AGENT)
    dist = repo_copy / "recipe_agents-0.1.dist-info"  # what installing a package with the entry point leaves
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: recipe-agents\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[medagent.agents]\necho = recipe_agents:EchoAgent\n")
    forms = {"module": "recipe_agents:EchoAgent", "file": f"{repo_copy / 'recipe_agents.py'}:EchoAgent",
             "entry-point": "echo"}
    for form, spec in forms.items():
        out = tmp_path / form
        _medagent(repo_copy, "bench", "--agent", spec, "--suite", suite, "--tasks", number, "--quiet",
                  "--out", out, cwd=tmp_path)
        trials = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
        assert len(trials) == 2 and {t["category"] for t in trials} == {number}
        for t in trials:
            assert t["status"] == "completed" and t["stop"] == "finish"
            assert t["answer"] == ["recipe-agent", 200]
            assert [c["name"] for c in t["tool_calls"]] == ["search_patients", "finish"]
            assert not t["grade"]["passed"]


# --- a search parameter ------------------------------------------------------------------

def test_a_new_search_parameter_answers_over_http(repo_copy, tmp_path, monkeypatch):
    table = _in_copy(repo_copy, fhir_server.search_params)
    text = table.read_text()
    anchor = '    "Patient": {\n'
    assert text.count(anchor) == 1
    table.write_text(text.replace(anchor, anchor + '        "language": ("token", ("communication.language",)),\n'))
    db = tmp_path / "recipe.db"
    monkeypatch.chdir(tmp_path)  # `python -m` puts the working folder first on sys.path
    cohort = ("--profile", "mab-v1", "--seed", "7", "--patients", "5")
    server = start_serve(db, *cohort, env={"PYTHONPATH": str(repo_copy)}, timeout=120)
    try:
        def search(**params: str) -> dict:
            reply = httpx.get(f"{server.base_url}/Patient", params={**params, "_count": "100"}, timeout=30)
            assert reply.status_code == 200, reply.text
            return reply.json()
        everyone = search()["total"]
        assert everyone == 5
        assert search(language="urn:ietf:bcp:47|en-US")["total"] == sum(
            1 for e in search()["entry"]
            if any(c.get("code") == "en-US" for x in e["resource"].get("communication", [])
                   for c in x["language"]["coding"]))
        assert search(language="en-US")["total"] >= 1
        assert search(language="xx-XX")["total"] == 0
    finally:
        server.stop()
    # the original code refuses the copy's database in one line ("then re-seed")
    with pytest.raises(FhirServerError) as refused:
        start_serve(db, "--no-seed", timeout=60)
    assert "another search-parameter table" in str(refused.value)
    assert "Traceback" not in str(refused.value)
