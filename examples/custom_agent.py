"""A custom agent in a few lines, typed against the public protocol (``medagent.Env``,
``medagent.TaskView``; see ``medagent.agents`` for the contract) so an editor completes
``view.`` and ``env.``.

Run it on the patient look-up tasks (category 1)::

    medagent bench --agent examples.custom_agent:LookupAgent --tasks 1
    medagent bench --agent examples/custom_agent.py:LookupAgent --tasks 1

It reads the name and birth date from the instruction, searches patients with one tool call
and answers with the MRN of the one exact match (or "Patient not found"). On other tasks it
gives no answer. A model-driven agent would call ``await env.llm.complete(messages,
env.usage, tools=env.tools)`` in its loop instead.
"""

from __future__ import annotations

import re

from medagent import Env, TaskView

ASKED = re.compile(r"named (.+?) (\S+), born on (\d{4}-\d{2}-\d{2})")


class LookupAgent:
    async def run(self, view: TaskView, env: Env) -> None:
        asked = ASKED.search(view.instruction)
        if asked is None:
            return  # not a look-up: finish without an answer
        given, family, birthdate = asked.groups()
        result = await env.call("search_patients", {"family": family, "birthdate": birthdate})
        patients = [entry["resource"] for entry in (result.content or {}).get("entry", [])] if result.ok else []
        mrns = [p["id"] for p in patients
                if any(n.get("family") == family and given in n.get("given", []) for n in p.get("name", []))]
        env.finish(mrns if len(mrns) == 1 else ["Patient not found"])
