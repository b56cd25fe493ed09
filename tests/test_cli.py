import subprocess
import sys

from medagent.cli import main


def test_help_lists_verbs(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "usage: medagent" in out


def test_version_via_module():
    proc = subprocess.run(
        [sys.executable, "-m", "medagent", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("medagent ")
