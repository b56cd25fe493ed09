"""A fake OpenAI-compatible chat-completions server on a real socket, for harness tests.

``FakeOpenAI(policy)`` serves ``POST /v1/chat/completions`` (non-streaming) on
127.0.0.1 at a free port in a background thread, in the real wire format (``choices``,
``message.tool_calls`` with JSON-string ``arguments``, ``finish_reason``, ``usage``), so
the real ``openai`` client talks to it through ``--base-url`` / ``fake.url``.

Policies decide the assistant turn from the request:

- :class:`ReplayPolicy` solves tasks: per task (found by its prompt) it replays the
  tool calls that the reference solution made (recorded with :func:`record_oracle`), one
  tool call per turn, then calls ``finish`` with the reference answer. Without ``tools``
  in the request (``--protocol text``) it answers in the text protocol instead
  (``GET url`` / ``POST url`` + JSON / ``FINISH([...])``), replaying the recorded FHIR
  requests. ``wrong={task_id}`` makes it answer those tasks with ``["wrong"]``.

Misbehaviour is injected per task with ``faults={task_id: [kind, ...]}`` (consumed one per
request of that task, in order) or for every request with ``fault_all=[kind, ...]``
(consumed in order, whatever the task). Kinds: ``"429"`` (with ``Retry-After``),
``"500"``, ``"401"`` (not retried; its message echoes the Authorization header, as real
providers echo part of a bad key), ``"404"`` (unknown model), ``"400"`` (a request the
provider refuses), ``"quota"`` (429 ``insufficient_quota``), ``"malformed"`` (tool
arguments that are not JSON),
``"slow"`` (answers after ``slow_s`` seconds — longer than the client's request timeout),
``"empty"`` (no content, no tool calls). ``delay_s`` delays every answer (to keep a run
busy long enough to kill it).

A request with ``"stream": true`` gets the same answer as server-sent events (one delta
chunk, the finish reason, the usage chunk, ``[DONE]``).

``fake.requests`` keeps every request body and ``fake.auth`` every Authorization header.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import orjson


@dataclass
class Script:
    calls: list[tuple[str, dict[str, Any]]]
    requests: list[tuple[str, str, list[tuple[str, str]], Any]]  # method, path, params, json
    answer: Any


def _prompt_key(messages: list[dict[str, Any]], tools: bool) -> str:
    """The task prompt (instruction + context) the agent sent."""
    from medagent.agents._react import task_prompt  # noqa: F401 - documents the format

    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content") or ""
        if tools:
            return content
        return content.rsplit("\nTask: ", 1)[-1]
    return ""


def record_oracle(suite_tasks: list[Any], service: Any, tools: Any = None) -> dict[str, tuple[str, Script]]:
    """Run every reference solution through a real session; {prompt: (task_id, Script)}.
    ``tools``: the suite's tool set (``tasks.toolsets.tools_of``; default the nine)."""
    from medagent import tasks
    from medagent.tasks.clients import LocalFhirClient

    from medagent.agents._react import task_prompt
    from medagent.env import TrialEnv

    async def one(task: Any) -> Script:
        session = service.create_session()
        try:
            client = LocalFhirClient(service, session=session)
            env = TrialEnv(task, client, max_steps=100, tools=tools)
            answer = await tasks.get_category(task.category).solve(task, env)
            calls = [(c["name"], c["arguments"]) for c in env.tool_calls]
            requests = [_request_tuple(r) for r in client.requests]
            return Script(calls=calls, requests=requests, answer=answer)
        finally:
            service.delete_session(session)

    async def all_tasks() -> dict[str, tuple[str, Script]]:
        return {task_prompt(t): (t.id, await one(t)) for t in suite_tasks}

    return asyncio.run(all_tasks())


def _request_tuple(request: Any) -> tuple[str, str, list[tuple[str, str]], Any]:
    from medagent.runfolder import to_jsonable

    r = to_jsonable(request)
    req = r.get("request", r)
    params = req.get("params") or []
    if isinstance(params, dict):
        params = list(params.items())
    return (req.get("method", "GET"), req.get("path") or req.get("url"), [tuple(p) for p in params],
            req.get("json", req.get("body")))


@dataclass
class ReplayPolicy:
    scripts: dict[str, tuple[str, Script]]
    wrong: set[str] = field(default_factory=set)

    def task_of(self, body: dict[str, Any]) -> str | None:
        entry = self.scripts.get(_prompt_key(body.get("messages", []), bool(body.get("tools"))))
        return entry[0] if entry else None

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages", [])
        tools = bool(body.get("tools"))
        entry = self.scripts.get(_prompt_key(messages, tools))
        if entry is None:
            return {"role": "assistant", "content": "I cannot help with that."}
        task_id, script = entry
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        answer = ["wrong"] if task_id in self.wrong else script.answer
        if tools:
            if turn < len(script.calls):
                name, args = script.calls[turn]
            else:
                name, args = "finish", {"answer": answer}
            return tool_call_message(name, args, f"call_{turn}")
        if turn < len(script.requests):
            method, path, params, payload = script.requests[turn]
            query = urlencode(params)
            url = f"http://localhost:8080/fhir/{path}" + (f"?{query}" if query else "")
            content = f"GET {url}" if method == "GET" else f"{method} {url}\n{json.dumps(payload)}"
            return {"role": "assistant", "content": content}
        return {"role": "assistant", "content": f"FINISH({json.dumps(answer)})"}


def tool_call_message(name: str, args: dict[str, Any] | str, call_id: str = "call_0") -> dict[str, Any]:
    arguments = args if isinstance(args, str) else json.dumps(args)
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
    }


class FakeOpenAI:
    def __init__(
        self,
        policy: Any,
        *,
        faults: dict[str, list[str]] | None = None,
        fault_all: list[str] | None = None,
        retry_after: float = 0.01,
        slow_s: float = 2.0,
        delay_s: float = 0.0,
    ) -> None:
        self.policy = policy
        self.faults = defaultdict(deque, {k: deque(v) for k, v in (faults or {}).items()})
        self.fault_all = deque(fault_all or [])
        self.retry_after = retry_after
        self.slow_s = slow_s
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.served: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_fault(self, task_id: str | None) -> str | None:
        with self._lock:
            if self.fault_all:
                return self.fault_all.popleft()
            queue = self.faults.get(task_id or "")
            return queue.popleft() if queue else None

    def respond(self, body: dict[str, Any], auth: str = "") -> tuple[int, dict[str, str], dict[str, Any]]:
        task_id = self.policy.task_of(body) if hasattr(self.policy, "task_of") else None
        fault = self._next_fault(task_id)
        if self.delay_s:
            time.sleep(self.delay_s)
        if fault == "401":
            return 401, {}, _error(f"Incorrect API key provided: {auth.removeprefix('Bearer ')}", "invalid_api_key")
        if fault == "404":
            return 404, {}, _error(f"The model `{body.get('model')}` does not exist", "model_not_found")
        if fault == "400":
            return 400, {}, _error("Unsupported parameter: 'reasoning_effort'", "unsupported_parameter")
        if fault == "quota":
            return 429, {}, _error("You exceeded your current quota", "insufficient_quota")
        if fault == "429":
            return 429, {"Retry-After": str(self.retry_after)}, _error("Rate limit reached", "rate_limit_exceeded")
        if fault == "500":
            return 500, {}, _error("The server had an error", "server_error")
        if fault == "slow":
            time.sleep(self.slow_s)
        message = self.policy(body)
        if fault == "malformed" and message.get("tool_calls"):
            message["tool_calls"][0]["function"]["arguments"] = '{"patient": "S1'
        if fault == "empty":
            message = {"role": "assistant", "content": ""}
        with self._lock:
            self.served[task_id or ""] += 1
        prompt = len(orjson.dumps(body.get("messages", []))) // 4
        completion = len(orjson.dumps(message)) // 4
        return 200, {}, {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                "logprobs": None,
            }],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once (no delayed-ACK stalls)

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = orjson.loads(self.rfile.read(length))
                with fake._lock:
                    fake.requests.append(body)
                    fake.auth.append(self.headers.get("Authorization", ""))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    status, headers, doc = 404, {}, _error(f"no route {self.path}", "not_found")
                else:
                    status, headers, doc = fake.respond(body, self.headers.get("Authorization", ""))
                streamed = status == 200 and bool(body.get("stream"))
                payload = _sse(doc) if streamed else orjson.dumps(doc)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/event-stream" if streamed else "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (slow answers)
                    pass

        return Handler


def _sse(doc: dict[str, Any]) -> bytes:
    """A completion as a ``stream: true`` reply: the message in one delta chunk, the finish
    reason, the usage chunk (``stream_options.include_usage``), then ``[DONE]``."""
    choice = doc["choices"][0]
    delta = dict(choice["message"])
    if delta.get("tool_calls"):
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(delta["tool_calls"])]
    head = {k: doc[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    chunks = [
        {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"], "logprobs": None}]},
        {**head, "choices": [], "usage": doc["usage"]},
    ]
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "param": None, "code": code}}
