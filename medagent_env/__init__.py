"""The verifiers taskset ``medagent-env`` (verifiers finds tasksets by module name).

The environment lives in :mod:`medagent.adapters.verifiers_env`; this package only
re-exports it under the id ``medagent-env``:
``vf-validate medagent-env --taskset.suite mab-v1 --runtime.type subprocess``.
"""

from medagent.adapters.verifiers_env import *  # noqa: F403
from medagent.adapters.verifiers_env import __all__  # noqa: F401
