"""The verifiers taskset ``medagent-env`` (verifiers finds tasksets by module name).

verifiers imports the module named by the taskset id (``medagent-env`` -> ``medagent_env``),
so this one module stays top level; the rest of medagent is under ``medagent.``.

The environment lives in :mod:`medagent.adapters.verifiers_env`; this package only
re-exports it under the id ``medagent-env``:
``vf-validate medagent-env --taskset.suite mab-v1 --runtime.type subprocess``.
"""

from medagent.adapters.verifiers_env import *  # noqa: F403
from medagent.adapters.verifiers_env import __all__  # noqa: F401
