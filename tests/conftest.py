"""Shared test configuration.

Fixtures are grouped by the package that owns them, each in its own plugin module:
- ``tests/fixtures_cohort.py``: small synthetic cohorts and seeded databases (patients/).
- ``tests/fixtures_server.py``: running FHIR servers (fhir_server/).
- ``tests/fixtures_tasks.py``: small task suites built from the small cohort (tasks/).
"""

import os
import shutil
import signal
import tempfile

# A test run started in the background by a non-interactive shell inherits SIGINT ignored,
# and so would every `medagent` the tests start: the Ctrl-C tests would then test the
# shell, not medagent. Children of this process get SIGINT's default action back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Every test session gets its own cache folder, shared by all its tests (the small cohorts
# are generated once per session), so nothing is read from or written to the user's
# MEDAGENT_HOME, whether set or the default ~/.cache/medagent. MEDAGENT_TEST_HOME names a
# folder to reuse across sessions instead (faster reruns; never point it at a real home).
# The user's harness settings file (~/.config/medagent/settings.toml) is not read either.
USER_HOME = os.environ.get("MEDAGENT_HOME")
_OWN_HOME = not os.environ.get("MEDAGENT_TEST_HOME")
os.environ["MEDAGENT_HOME"] = os.environ.get("MEDAGENT_TEST_HOME") or tempfile.mkdtemp(prefix="medagent-test-home-")
os.environ["MEDAGENT_CONFIG"] = os.path.join(os.environ["MEDAGENT_HOME"], "no-settings.toml")
for _name in ("MEDAGENT_TOKEN", "MEDAGENT_DB"):
    os.environ.pop(_name, None)

pytest_plugins = ["tests.fixtures_cohort", "tests.fixtures_server", "tests.fixtures_tasks"]


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001 - pytest's hook signature
    if _OWN_HOME:  # the session's cohorts and databases (~150 MB) go with it
        shutil.rmtree(os.environ["MEDAGENT_HOME"], ignore_errors=True)
