"""A "delete everything after answering" agent (tests only): it answers like the oracle,
then deletes the records it read and the patient, and only then calls finish.

Agents other than the built-in oracle get only the task's public view, so the test hands
this one the suite (``SUITE``) to answer right: the point is that the deletes alone fail it.
"""

from __future__ import annotations

from typing import Any

SUITE: Any = None  # set by the test: the suite whose tasks are run


class _Recording:
    """The env, keeping every tool result the reference solution gets."""

    def __init__(self, env: Any) -> None:
        self.env, self.results = env, []

    async def call(self, name: str, args: dict) -> Any:
        result = await self.env.call(name, args)
        self.results.append(result)
        return result


class VandalAgent:
    uses_model = False

    async def run(self, view: Any, env: Any) -> None:
        from medagent import tasks

        task = SUITE.get(view.id)
        recording = _Recording(env)
        answer = await tasks.get_category(task.category).solve(task, recording)
        targets: list[str] = []
        for result in recording.results:
            if isinstance(result.content, dict) and result.content.get("resourceType") == "Bundle":
                targets += [f"{e['resource']['resourceType']}/{e['resource']['id']}"
                            for e in result.content.get("entry") or []]
        if task.patient:
            targets.append(f"Patient/{task.patient}")
        if not targets:  # read nothing: delete some patient anyway
            found = await env.request("GET", "Patient", params={"_count": "1"})
            targets += [f"Patient/{e['resource']['id']}" for e in found.content.get("entry") or []]
        for ref in list(dict.fromkeys(targets))[:6]:
            await env.request("DELETE", ref)
        env.finish(answer)
