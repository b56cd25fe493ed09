"""The packages the wheel holds; everything else about the build is in pyproject.toml.

``[tool.setuptools.package-dir]`` there maps each import name to its folder (``medagent.tasks``
to ``tasks/``, ...). Setuptools' declarative discovery cannot put the packages it finds under
a prefix, so this file lists them: each mapped package and every package below its folder,
found at build time (a new subpackage needs no edit here).
"""

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]

setup(packages=[name for prefix, folder in PACKAGE_DIR.items()
                for name in [prefix, *(f"{prefix}.{sub}" for sub in find_namespace_packages(str(ROOT / folder)))]])
