"""``text``: the original benchmark's plain-text protocol, for parity with published numbers.

One user prompt holds the function list, the context and the task. Each turn the model
answers with exactly one of::

    GET <url>?<param>=<value>&...
    POST <url>
    {JSON body}
    FINISH([answer, ...])

GETs and POSTs are sent to the trial's FHIR session (unlike the original, POSTs are really
executed, so the grader sees the stored writes). The function list is derived from each
tool's own FHIR request (``tasks.Tool.method``/``path``/``fixed``/``query``), so a suite's
added tools get their true URLs; when one of them updates a record (``PUT``), ``PUT <url>``
+ JSON is a fourth form. The reply goes back as the next user
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
from medagent.env import Env
from medagent.tasks.models import TaskView, ToolResult
from medagent.tasks.tools import Tool

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


def _url(tool: Tool) -> str:
    """The tool's request URL as the model writes it: the path under ``BASE_URL`` (its
    ``{arg}`` placeholders kept), or the whole URL an argument gives (``{url}``)."""
    whole = tool.path.startswith("{") and tool.path.endswith("}") and tool.path.count("{") == 1
    return tool.path if whole else BASE_URL + tool.path


def function_list(tools: list[Tool]) -> str:
    """The tools as the original's function list: ``METHOD url`` with FHIR parameter names,
    derived from each tool's own request (``Tool.method``, ``path``, ``fixed``, ``query``)."""
    functions = []
    for tool in tools:
        props = tool.parameters.get("properties", {})
        if tool.method == "GET":
            params = {tool.query.get(k, k): v for k, v in props.items() if k not in ("sort", "count")}
            params.update({k: {"type": "string", "description": f"always {v!r}"} for k, v in tool.fixed.items()})
            if "count" in props:
                params["_count"] = props["count"]
        else:
            resource = tool.path.split("/", 1)[0]
            params = {"body": {"type": "object", "description": f"the complete FHIR R4 {resource} resource"}}
        functions.append({
            "name": f"{tool.method} {_url(tool)}",
            "description": tool.description,
            "parameters": {"type": "object", "properties": params},
        })
    return json.dumps(functions, indent=1)


def writes_with(tools: list[Tool]) -> tuple[str, ...]:
    """The write methods the tools use (``POST``; ``PUT`` too when a tool updates)."""
    return tuple(m for m in ("POST", "PUT") if any(t.method == m for t in tools))


def prompt(tools: list[Tool], task: str) -> str:
    """The one user prompt: the forms, the function list and the task. The original's
    text for tools that only GET and POST; a tool that updates adds the ``PUT`` form."""
    text = PROMPT.format(functions=function_list(tools), task=task)
    if "PUT" in writes_with(tools):
        text = text.replace("POST url\n", "POST url  (a new record), or PUT url  (a record you read, changed)\n", 1)
    return text


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


def _status(result: ToolResult) -> str:
    """``429, Retry-After: 2`` for a reply asking to wait, else the status."""
    wait = getattr(result, "retry_after", None)
    return f"{result.status}, Retry-After: {wait:g}" if wait is not None else str(result.status)


async def _act(reply: str, env: Env, writes: tuple[str, ...] = ("POST",)) -> str | None:
    """Carry out one reply; the next user message, or None when the trial ends. ``writes``
    are the write methods the tools use (``PUT`` is a form only when a tool updates)."""
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
    method = text.split(" ", 1)[0]
    if method in writes:
        first, _, payload = text[len(method) + 1:].partition("\n")
        path, _ = fhir_path(first)
        try:
            body = json.loads(payload)
        except json.JSONDecodeError as exc:
            env.pass_turn()  # the model's mistake: the round counts
            return f"The {method} payload is not valid JSON ({exc}); nothing was sent."
        result = await env.request(method, path, json=body)
        return f"Response of the {method} request (HTTP {_status(result)}):\n{result_text(result)}"
    env.end("invalid_reply")  # not one of the three forms: the original ends the task here
    return None


class TextAgent:
    """The plain-text protocol (GET / POST + JSON / FINISH), at most ``max_steps`` rounds."""

    uses_model = True

    async def run(self, view: TaskView, env: Env) -> None:
        from medagent.tasks.tools import TOOLS

        if env.llm is None:
            raise RuntimeError("the text agent needs a model (--model)")
        tools = list(env.tool_set or TOOLS)  # the suite's tool set
        writes = writes_with(tools) or ("POST",)
        env.messages[:] = [{"role": "user", "content": prompt(tools, task_prompt(view))}]
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
            follow_up = await _act(turn.content or "", env, writes)
            if follow_up is None:
                return
            env.messages.append({"role": "user", "content": follow_up})
