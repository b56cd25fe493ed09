"""The adapters stay optional: the base CLI never imports their libraries, and a missing
extra is one line saying what to install (checked with the library hidden from import)."""

from __future__ import annotations

import subprocess
import sys

import pytest

_HIDE = "import sys; sys.modules.update({m: None for m in ('mcp', 'inspect_ai', 'verifiers', 'verifiers.v1')}); "


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_base_cli_imports_no_adapter_library():
    proc = _python("import sys, medagent, medagent.cli; medagent.cli.build_parser(); "
                   "print(sorted(m for m in ('mcp', 'inspect_ai', 'verifiers', 'langgraph') if m in sys.modules))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize(("extra", "module", "dist"), [
    ("mcp", "medagent.adapters.mcp_server:build_server", "mcp"),
    ("inspect", "medagent.adapters.inspect_task", "inspect-ai"),
    ("verifiers", "medagent.adapters.verifiers_env", "verifiers"),
])
def test_missing_extra_is_one_line(extra: str, module: str, dist: str):
    name, _, attr = module.partition(":")
    call = f"import {name} as m; m.{attr}(None)" if attr else f"import {name}"
    proc = _python(_HIDE + "from medagent.errors import ConfigError\n"
                   f"try:\n    {call}\nexcept ConfigError as e:\n    print(e)")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().startswith(f"this needs {dist}, which is not installed")
    assert proc.stdout.strip().endswith(f'pip install "medagent[{extra}]"')


def test_medagent_mcp_without_the_extra_is_one_line_and_exit_2():
    proc = _python(_HIDE + "from medagent.cli import main; raise SystemExit(main(['mcp']))")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ('medagent: error: this needs mcp, which is not installed (mcp): '
                                   'pip install "medagent[mcp]"')
