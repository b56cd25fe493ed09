"""``text``: the original benchmark's plain-text protocol, for parity with published numbers.

One user prompt holds the function list, the context and the task. Each turn the model
answers with exactly one of::

    GET <url>?<param>=<value>&...
    POST <url>
    {JSON body}
    FINISH([answer, ...])

GETs and POSTs are sent to the trial's FHIR session (unlike the original, POSTs are really
executed, so the grader sees the stored writes). The reply goes back as the next user
message. The loop ends at ``FINISH``, at an answer in none of the three forms (as in the
original; ``stop: "invalid_reply"``) or after ``env.max_steps`` rounds (8 by default, the
original's limit, ``FINISH`` included). An empty reply gets one reminder; a second one
ends the trial (``stop: "empty_reply"``).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from medagent.agents._react import result_text, task_prompt

BASE_URL = "http://localhost:8080/fhir/"

PROMPT = """You are a clinician's assistant with access to a FHIR R4 server. Answer the task \
below by calling the functions listed, one call per reply.

To read, reply with exactly one line:
GET url?name1=value1&name2=value2
To write, reply with the URL on the first line and the JSON payload on the next lines:
POST url
{{"resourceType": ...}}
When everything asked is answered and done, reply with the answers as a JSON list:
FINISH([answer1, answer2, ...])

Reply with nothing but one of these three forms.

Functions (JSON):
{functions}

Task: {task}"""

_FINISH = re.compile(r"^FINISH\((.*)\)\s*$", re.DOTALL)
EMPTY_REMINDER = "Your reply was empty. Reply with exactly one of: GET url, POST url + JSON payload, FINISH([...])."


# The tools as the original's HTTP functions: (method, resource type, fixed search parameters).
_HTTP = {
    "search_patients": ("GET", "Patient", {}),
    "search_conditions": ("GET", "Condition", {}),
    "search_lab_observations": ("GET", "Observation", {"category": "laboratory"}),
    "search_vital_signs": ("GET", "Observation", {"category": "vital-signs"}),
    "create_vital_sign": ("POST", "Observation", {}),
    "search_medication_requests": ("GET", "MedicationRequest", {}),
    "create_medication_request": ("POST", "MedicationRequest", {}),
    "search_procedures": ("GET", "Procedure", {}),
    "create_service_request": ("POST", "ServiceRequest", {}),
}


def function_list(tools: list[Any]) -> str:
    """The tools as the original's function list: ``METHOD url`` with FHIR parameter names."""
    functions = []
    for tool in tools:
        method, resource, fixed = _HTTP.get(tool.name, ("GET", tool.name, {}))
        props = tool.parameters.get("properties", {})
        if method == "GET":
            params = {k.replace("_", "-"): v for k, v in props.items() if k not in ("sort", "count")}
            params.update({k: {"type": "string", "description": f"always {v!r}"} for k, v in fixed.items()})
            params["_count"] = props.get("count", {"type": "integer"})
        else:
            params = {"body": {"type": "object", "description": f"the complete FHIR R4 {resource} resource"}}
        functions.append({
            "name": f"{method} {BASE_URL}{resource}",
            "description": tool.description,
            "parameters": {"type": "object", "properties": params},
        })
    return json.dumps(functions, indent=1)


def _strip_fences(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = re.sub(r"^```[a-zA-Z]*\n?", "", text)
        text = re.sub(r"\n?```$", "", text)
    return text.strip()


def fhir_path(url: str) -> tuple[str, list[tuple[str, str]]]:
    """``http://host/fhir/Observation?code=MG`` → (``Observation``, [("code", "MG")])."""
    parts = urlsplit(url.strip())
    path = parts.path
    if "/fhir/" in path:
        path = path.split("/fhir/", 1)[1]
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "_format"]
    return path.strip("/"), params


def _status(result: Any) -> str:
    """``429, Retry-After: 2`` for a reply asking to wait, else the status."""
    wait = getattr(result, "retry_after", None)
    return f"{result.status}, Retry-After: {wait:g}" if wait is not None else str(result.status)


async def _act(reply: str, env: Any) -> str | None:
    """Carry out one reply; the next user message, or None when the trial ends."""
    text = _strip_fences(reply)
    finish = _FINISH.match(text)
    if finish:
        try:
            env.finish(json.loads(finish.group(1)))
        except json.JSONDecodeError:
            env.finish([finish.group(1)])
        return None
    if text.startswith("GET "):
        path, params = fhir_path(text[4:].splitlines()[0])
        result = await env.request("GET", path, params=params)
        return f"Response of the GET request (HTTP {_status(result)}):\n{result_text(result)}"
    if text.startswith("POST "):
        first, _, payload = text[5:].partition("\n")
        path, _ = fhir_path(first)
        try:
            body = json.loads(payload)
        except json.JSONDecodeError as exc:
            env.pass_turn()  # the model's mistake: the round counts
            return f"The POST payload is not valid JSON ({exc}); nothing was sent."
        result = await env.request("POST", path, json=body)
        return f"Response of the POST request (HTTP {_status(result)}):\n{result_text(result)}"
    env.end("invalid_reply")  # not one of the three forms: the original ends the task here
    return None


class TextAgent:
    """The plain-text protocol (GET / POST + JSON / FINISH), at most ``max_steps`` rounds."""

    uses_model = True

    async def run(self, task: Any, env: Any) -> None:
        from tasks.tools import TOOLS

        if env.llm is None:
            raise RuntimeError("the text agent needs a model (--model)")
        tools = list(getattr(env, "tool_set", None) or TOOLS)  # the suite's tool set
        prompt = PROMPT.format(functions=function_list(tools), task=task_prompt(task))
        env.messages[:] = [{"role": "user", "content": prompt}]
        reminded = False
        while True:  # every round is a step: the env's step limit ends the loop
            turn = await env.llm.complete(env.messages, env.usage)
            env.messages.append(turn.message)
            if turn.empty:
                if reminded:
                    env.end("empty_reply")
                    return
                reminded = True
                env.pass_turn()
                env.messages.append({"role": "user", "content": EMPTY_REMINDER})
                continue
            follow_up = await _act(turn.content or "", env)
            if follow_up is None:
                return
            env.messages.append({"role": "user", "content": follow_up})
