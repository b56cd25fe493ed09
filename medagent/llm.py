"""An OpenAI-compatible chat client that survives real providers.

``ChatClient.complete()`` sends one chat-completion request and retries what a provider
gets wrong transiently: HTTP 429, 5xx, 408/409, timeouts, connection errors, an empty
answer and tool-call arguments that are not a JSON object. Delays grow exponentially
(``backoff_base * 2**attempt``, capped at ``backoff_max``) with jitter (×0.5–1.5) and
never undercut a ``Retry-After``/``retry-after-ms`` header (honoured up to 300 s).

The ``openai`` client's own retries are switched off (``max_retries=0``) so that these
are the only retries and every attempt is counted. Other 4xx answers (bad request, bad
key, unknown model) are not retried. When retries run out, ``ProviderError`` is raised;
the runner records the trial as ``error`` and the run goes on.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from medagent.errors import ProviderError
from medagent.settings import HarnessSettings

MAX_RETRY_AFTER = 300.0
_RETRY_STATUS = {408, 409, 429}


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0  # wall time inside complete(), retries and backoff included

    def add(self, usage: Any) -> None:
        if usage is not None:
            self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "requests": self.requests,
            "retries": self.retries,
            "model_s": round(self.seconds, 4),
        }


@dataclass
class Completion:
    """One assistant turn: its transcript message and the parsed tool calls."""

    message: dict[str, Any]
    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {id, name, arguments: dict}


class _Retry(Exception):
    """A transient failure; ``delay`` is the provider's Retry-After (0 when none)."""

    def __init__(self, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _retry_after(headers: httpx.Headers | None) -> float:
    if not headers:
        return 0.0
    value = headers.get("retry-after-ms")
    if value:
        try:
            return min(float(value) / 1000, MAX_RETRY_AFTER)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return 0.0
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        if when is None:
            return 0.0
        return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER)


def backoff_delay(attempt: int, settings: HarnessSettings, retry_after: float = 0.0) -> float:
    """Delay before retry number ``attempt`` (0-based): exponential, jittered, ≥ Retry-After."""
    base = min(settings.backoff_base * (2**attempt), settings.backoff_max)
    return max(base * random.uniform(0.5, 1.5), retry_after)


def _parse_tool_calls(message: Any) -> list[dict[str, Any]]:
    calls = []
    for call in message.tool_calls or []:
        fn = getattr(call, "function", None)
        if fn is None:
            raise _Retry(f"unsupported tool call type {getattr(call, 'type', '?')!r}")
        try:
            args = json.loads(fn.arguments or "{}")
        except json.JSONDecodeError as exc:
            raise _Retry(f"malformed tool arguments for {fn.name}: {exc}") from None
        if not isinstance(args, dict):
            raise _Retry(f"tool arguments for {fn.name} are not a JSON object")
        calls.append({"id": call.id, "name": fn.name, "arguments": args})
    return calls


class ChatClient:
    """Chat completions with retries; one instance is shared by all trials of a run."""

    def __init__(
        self,
        model: str,
        base_url: str | None,
        api_key: str,
        settings: HarnessSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.model = model
        self.settings = settings
        self._sleep = sleep
        import openai  # imported here: runs of model-free agents never pay for it

        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=settings.request_timeout,
        )

    async def close(self) -> None:
        await self._client.close()

    async def complete(
        self,
        messages: list[dict[str, Any]],
        usage: Usage,
        *,
        tools: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> Completion:
        """One assistant turn; ``usage`` accumulates tokens of every attempt."""
        started = time.perf_counter()
        try:
            return await self._complete(messages, usage, tools, extra)
        finally:
            usage.seconds += time.perf_counter() - started

    async def _complete(self, messages, usage, tools, extra) -> Completion:  # noqa: ANN001
        last = "no attempt made"
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                usage.retries += 1
            try:
                return await self._attempt(messages, usage, tools, extra)
            except _Retry as exc:
                last = str(exc)
                if attempt == self.settings.max_retries:
                    break
                await self._sleep(backoff_delay(attempt, self.settings, exc.retry_after))
        raise ProviderError(
            f"provider failed after {self.settings.max_retries + 1} attempts: {last}"
        )

    async def _attempt(self, messages, usage, tools, extra) -> Completion:  # noqa: ANN001
        import openai

        # The transcript and tool schemas are plain JSON already: they go in ``extra_body``
        # (merged into the request JSON as is) so that the client does not walk them
        # recursively on every turn (~8 ms per turn for a long transcript).
        body: dict[str, Any] = {"messages": messages}
        if tools:
            body["tools"] = tools
        kwargs: dict[str, Any] = {"model": self.model, "messages": [], **extra,
                                  "extra_body": {**extra.get("extra_body", {}), **body}}
        usage.requests += 1
        try:
            response = await self._client.chat.completions.create(**kwargs)
        except openai.APIStatusError as exc:
            reason = f"HTTP {exc.status_code}: {_short(exc.message)}"
            if exc.status_code in _RETRY_STATUS or exc.status_code >= 500:
                raise _Retry(reason, _retry_after(exc.response.headers)) from None
            raise ProviderError(reason) from None
        except openai.APITimeoutError:
            raise _Retry("request timed out") from None
        except openai.APIConnectionError as exc:
            raise _Retry(f"connection error: {_short(str(exc))}") from None
        except openai.APIResponseValidationError as exc:
            raise _Retry(f"malformed response: {_short(str(exc))}") from None
        usage.add(getattr(response, "usage", None))
        if not response.choices:
            raise _Retry("response without choices")
        message = response.choices[0].message
        tool_calls = _parse_tool_calls(message)
        if not tool_calls and not (message.content or "").strip():
            raise _Retry("empty answer (no content, no tool calls)")
        record: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.tool_calls:
            record["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                }
                for c in tool_calls
            ]
        return Completion(message=record, content=message.content, tool_calls=tool_calls)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
