"""No import cycle between the modules of one package (patients, fhir_server, tasks, medagent).

Read from the source with ``ast``, nothing imported. Every import counts: at module level,
inside functions, under ``if TYPE_CHECKING``. ``from pkg import name`` imports ``pkg`` (its
``__init__``) and, when ``pkg/name.py`` exists, that module too; so a child that takes a
sibling through its package (``from . import sibling``) while the package's ``__init__``
imports the child is a cycle. The rule: children import siblings directly
(``from .sibling import x``), never from their package ``__init__``.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("patients", "fhir_server", "tasks", "medagent")  # the repository's folders

Edge = tuple[str, str, str]  # (importing module, imported module, "path:line")


def import_names(root: Path) -> dict[str, str]:
    """Folder → the name it is imported by: the folder's own name unless pyproject's
    ``[tool.setuptools.package-dir]`` maps another name onto it."""
    names = {folder: folder for folder in PACKAGES}
    pyproject = root / "pyproject.toml"
    if pyproject.exists():
        mapping = tomllib.loads(pyproject.read_text()).get("tool", {}).get("setuptools", {}).get("package-dir", {})
        for name, folder in mapping.items():
            if name and folder.strip("/") in names:
                names[folder.strip("/")] = name
    return names


def module_files(root: Path, package: str, import_name: str | None = None) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file of the folder ``package``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root / package).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join([import_name or package, *parts])] = path
    return out


def _imported_names(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement reaches (each may be a module or a module's attribute)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    return [source] + [f"{source}.{alias.name}" for alias in node.names]


def import_edges(root: Path, package: str) -> list[Edge]:
    """Every import from one module of ``package`` to another (itself excluded)."""
    names = import_names(root) if package in PACKAGES else {package: package}
    files = module_files(root, package, names[package])
    others = set(names.values()) - {names[package]}

    def owner(name: str) -> str | None:  # the longest known module prefix of a dotted name
        home = max((n for n in names.values() if name == n or name.startswith(n + ".")), key=len, default=None)
        if home != names[package]:
            return None  # outside, or in another of the packages (medagent.patients seen from medagent)
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    edges: set[Edge] = set()
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            reached = _imported_names(node, module, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom) and reached[1:] and set(reached[1:]) <= others:
                reached = reached[1:]  # `from medagent import tasks` imports another package only
            for name in reached:
                target = owner(name)
                if target is not None and target != module:
                    edges.add((module, target, f"{path.relative_to(root)}:{node.lineno}"))
    return sorted(edges)


def find_cycles(root: Path, package: str) -> list[list[Edge]]:
    """One cycle (as its edges, in order) per strongly connected group of modules."""
    graph: dict[str, dict[str, str]] = {}
    for source, target, where in import_edges(root, package):
        graph.setdefault(source, {}).setdefault(target, where)
        graph.setdefault(target, {})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(graph):  # Tarjan, iterative (no recursion limit)
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return [_cycle_in(graph, set(group)) for group in groups]


def _cycle_in(graph: dict[str, dict[str, str]], group: set[str]) -> list[Edge]:
    """A shortest cycle through the group's first module (breadth-first, inside the group)."""
    first = min(group)
    came_from: dict[str, str] = {}
    frontier = [first]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child not in group:
                    continue
                if child == first:
                    path = [node]
                    while path[-1] != first:
                        path.append(came_from[path[-1]])
                    path.reverse()
                    path.append(first)
                    return [(a, b, graph[a][b]) for a, b in zip(path, path[1:], strict=False)]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle found in the group {sorted(group)}")  # pragma: no cover


def describe(cycle: list[Edge]) -> str:
    return " -> ".join(f"{source} ({where})" for source, _, where in cycle) + f" -> {cycle[-1][1]}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_a_package(package):
    cycles = find_cycles(ROOT, package)
    assert not cycles, f"import cycle(s) in {package}:\n" + "\n".join(describe(c) for c in cycles)


# -- the checker itself finds cycles -------------------------------------------------------


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_planted_cycle_is_found_and_named(tmp_path):
    root = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from .b import thing\n",
        "pkg/b.py": "def thing():\n    from pkg.a import other  # a function-level import counts\n",
        "pkg/c.py": "from .a import thing\n",  # depends on the cycle, not part of it
    })
    cycles = find_cycles(root, "pkg")
    assert [[(s, t) for s, t, _ in c] for c in cycles] == [[("pkg.a", "pkg.b"), ("pkg.b", "pkg.a")]]
    message = describe(cycles[0])
    assert "pkg.a (pkg/a.py:1) -> pkg.b (pkg/b.py:2) -> pkg.a" == message.replace("\\", "/")


def test_a_child_importing_from_its_package_init_is_a_cycle(tmp_path):
    root = _package(tmp_path, {
        "pkg/__init__.py": "from .a import run\n",
        "pkg/a.py": "from . import helpers\nrun = helpers.run\n",  # through pkg/__init__
        "pkg/helpers.py": "def run():\n    pass\n",
        "pkg/sub/__init__.py": "from .x import y\n",
        "pkg/sub/x.py": "if False:\n    from .. import a\ny = 1\n",  # two levels up, under a guard
    })
    cycles = [[(s, t) for s, t, _ in c] for c in find_cycles(root, "pkg")]
    assert [("pkg", "pkg.a"), ("pkg.a", "pkg")] in cycles
    assert len(cycles) == 1


def test_the_allowed_shapes_are_not_cycles(tmp_path):
    root = _package(tmp_path, {
        "pkg/__init__.py": "from .a import run\nfrom .sub import y\n",
        "pkg/a.py": "from .helpers import run\nimport pkg.helpers as h\n",  # siblings, directly
        "pkg/helpers.py": "import pkg.sub.x\n\ndef run():\n    from .sub.x import y\n",
        "pkg/sub/__init__.py": "from .x import y\n",
        "pkg/sub/x.py": "from ..leaf import z\ny = z\n",
        "pkg/leaf.py": "import os\nfrom json import loads\nz = 1\n",  # outside the package: ignored
        "pkg/cli.py": "from pkg import run  # the package init does not import cli\n",
    })
    assert find_cycles(root, "pkg") == []
    edges = {(s, t) for s, t, _ in import_edges(root, "pkg")}
    assert ("pkg.sub.x", "pkg.leaf") in edges and ("pkg.cli", "pkg") in edges
    assert not any(s == "pkg.leaf" for s, _ in edges)
    assert ("pkg.helpers", "pkg.sub.x") in edges and ("pkg.a", "pkg.helpers") in edges


def test_installed_names_from_pyproject_are_followed(tmp_path):
    """With ``package-dir`` mapping ``medagent.patients`` onto ``patients/``, absolute imports
    under the new name still count, and they are not mistaken for imports of ``medagent``."""
    root = _package(tmp_path, {
        "pyproject.toml": '[tool.setuptools.package-dir]\n"medagent.patients" = "patients"\n',
        "patients/__init__.py": "from .a import x\n",
        "patients/a.py": "import medagent.patients.b as b\nx = 1\n",
        "patients/b.py": "from medagent.patients import a\n",  # back through the package: a cycle
        "medagent/__init__.py": "from .run import go\n",
        "medagent/run.py": "from medagent.patients import x\ngo = x\n",  # another package: no edge
    })
    assert import_names(root)["patients"] == "medagent.patients"
    cycles = [[s for s, _, _ in c] for c in find_cycles(root, "patients")]
    assert cycles == [["medagent.patients", "medagent.patients.a", "medagent.patients.b"]]
    assert find_cycles(root, "medagent") == []
    assert import_edges(root, "medagent") == [("medagent", "medagent.run", "medagent/__init__.py:1")]

