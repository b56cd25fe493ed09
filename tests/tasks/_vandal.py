"""A "delete everything after answering" agent (tests only): it answers like the oracle,
then deletes the records it read and the patient, and only then calls finish."""

from __future__ import annotations

from typing import Any


class VandalAgent:
    uses_model = False

    async def run(self, task: Any, env: Any) -> None:
        import tasks

        answer = await tasks.get_category(task.category).solve(task, env)
        targets: list[str] = []
        for req in env.client.requests:
            body = req.get("response")
            if req["method"] == "GET" and isinstance(body, dict):
                targets += [f"{e['resource']['resourceType']}/{e['resource']['id']}"
                            for e in body.get("entry") or []]
        if task.patient:
            targets.append(f"Patient/{task.patient}")
        if not targets:  # read nothing: delete some patient anyway
            found = await env.request("GET", "Patient", params={"_count": "1"})
            targets += [f"Patient/{e['resource']['id']}" for e in found.content.get("entry") or []]
        for ref in list(dict.fromkeys(targets))[:6]:
            await env.request("DELETE", ref)
        env.finish(answer)
