"""An OpenAI-compatible chat client that survives real providers.

``ChatClient.complete()`` sends one chat-completion request. Only the *transport* is
retried: connection errors, timeouts, HTTP 429 (honouring ``Retry-After`` /
``retry-after-ms`` up to 300 s), 408/409 and 5xx, and a reply the ``openai`` client cannot
parse. Delays grow exponentially (``backoff_base * 2**attempt``, capped at
``backoff_max``) with jitter (×0.5–1.5) and never undercut ``Retry-After``. When retries
run out, ``ProviderError`` is raised; the runner records the trial as ``error``.

What the *model* says is never retried — it is the model's answer:

- a tool call whose arguments are not a JSON object comes back in ``Completion.tool_calls``
  with the raw ``arguments`` string and an ``error`` (the agent returns that error to the
  model as the call's result);
- an empty reply (no content, no tool call — e.g. a reasoning model that spent its token
  budget) comes back as a ``Completion`` with ``empty`` set.

Some failures mean no trial can succeed; they raise ``ProviderUnavailable`` and the run
stops with one line: the endpoint cannot be reached before it ever answered (after two
quick retries), HTTP 401/403 (key refused), 404 (unknown model or wrong base URL), 429
``insufficient_quota``, or any other 4xx before the first successful reply (an option the
model refuses, e.g. ``reasoning_effort``). After that, every later call fails at once.

Generation settings (``temperature``, ``max_completion_tokens``, ``seed``,
``reasoning_effort`` and any provider-specific ``--model-arg``) are given once as
``generation`` and sent with every request; a ``None`` value is not sent.

The ``openai`` client's own retries are switched off (``max_retries=0``) so that these
are the only retries and every attempt is counted.
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

from medagent.errors import ProviderError, ProviderUnavailable
from medagent.settings import HarnessSettings
from medagent.tasks.text import short

MAX_RETRY_AFTER = 300.0
_RETRY_STATUS = {408, 409, 429}
_FIRST_CONTACT_RETRIES = 2  # quick retries of a connection error before the endpoint ever answered


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
    # {id, name, arguments: dict} — or, when the model's arguments are not a JSON object,
    # {id, name, arguments: <the raw string>, error: <why>}
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """No content and no tool call: the model said nothing."""
        return not self.tool_calls and not (self.content or "").strip()


class _Retry(Exception):
    """A transient failure; ``delay`` is the provider's Retry-After (0 when none)."""

    def __init__(self, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _Unreached(_Retry):
    """No connection at all (refused, unknown host…); fatal if the endpoint never answered."""


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


def _parse_arguments(raw: Any) -> tuple[Any, str | None]:
    """(arguments, error): a dict and None, or the raw text and what is wrong with it."""
    if isinstance(raw, dict):
        return raw, None
    text = raw or "{}"
    try:
        args = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        return text, f"arguments are not valid JSON ({exc})"
    if not isinstance(args, dict):
        return text, f"arguments must be a JSON object, not {type(args).__name__}"
    return args, None


def _parse_tool_calls(message: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(parsed calls, transcript calls). Malformed arguments are the model's: kept, not retried."""
    calls, transcript = [], []
    for call in message.tool_calls or []:
        fn = getattr(call, "function", None)
        if fn is None:
            raise _Retry(f"unsupported tool call type {getattr(call, 'type', '?')!r}")
        args, error = _parse_arguments(fn.arguments)
        parsed = {"id": call.id, "name": fn.name, "arguments": args}
        if error:
            parsed["error"] = error
        calls.append(parsed)
        transcript.append({"id": call.id, "type": "function",
                           "function": {"name": fn.name, "arguments": fn.arguments or "{}"}})
    return calls, transcript


def _connection_reason(exc: BaseException) -> str:
    """``connection refused``, ``host name not found``… from an exception's cause chain."""
    import socket
    import ssl

    seen: BaseException | None = exc
    last = str(exc)
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return "host name not found"
        if isinstance(seen, httpx.ConnectTimeout):
            return "connection timed out"
        if isinstance(seen, ssl.SSLError):
            return f"TLS error ({short(str(seen), 120, squash=True)})"
        if str(seen):
            last = str(seen)
        seen = seen.__cause__ or seen.__context__
    return short(str(last), 200, squash=True)


def safe_url(url: str | None) -> str:
    """The base URL for messages: no user info, query or fragment (OpenAI's when None)."""
    from urllib.parse import urlsplit, urlunsplit

    if not url:
        return "https://api.openai.com/v1"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


class ChatClient:
    """Chat completions with retries; one instance is shared by all trials of a run."""

    def __init__(
        self,
        model: str,
        base_url: str | None,
        api_key: str,
        settings: HarnessSettings,
        *,
        generation: dict[str, Any] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.model = model
        self.settings = settings
        self.url = safe_url(base_url)
        self.generation = {k: v for k, v in (generation or {}).items() if v is not None}
        self._sleep = sleep
        self._secret = api_key if api_key and api_key != "EMPTY" else None
        self._connected = False  # the endpoint has answered at least once (any HTTP status)
        self._succeeded = False  # … with a completion
        self._unavailable: ProviderUnavailable | None = None
        import openai  # imported here: runs of model-free agents never pay for it

        timeout = httpx.Timeout(settings.request_timeout, connect=min(10.0, settings.request_timeout))
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=timeout,
        )

    @property
    def unavailable(self) -> ProviderUnavailable | None:
        """Why the model cannot be used at all (set once; every later call raises it)."""
        return self._unavailable

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
        if self._unavailable is not None:
            raise self._unavailable
        started = time.perf_counter()
        try:
            return await self._complete(messages, usage, tools, extra)
        except ProviderUnavailable as exc:
            self._unavailable = self._unavailable or exc
            raise self._unavailable from None
        finally:
            usage.seconds += time.perf_counter() - started

    async def _complete(self, messages, usage, tools, extra) -> Completion:  # noqa: ANN001
        last = "no attempt made"
        unreached = 0
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                usage.retries += 1
            try:
                return await self._attempt(messages, usage, tools, extra)
            except _Retry as exc:
                last = str(exc)
                delay = backoff_delay(attempt, self.settings, exc.retry_after)
                if isinstance(exc, _Unreached):
                    last = f"connection error: {exc}"
                    if not self._connected:  # it never answered: a few quick tries, then stop
                        if unreached == _FIRST_CONTACT_RETRIES:
                            raise ProviderUnavailable(f"cannot reach {self.url}: {exc}") from None
                        unreached += 1
                        delay = min(delay, 1.0)
                if attempt == self.settings.max_retries:
                    if isinstance(exc, _Unreached) and not self._connected:
                        raise ProviderUnavailable(f"cannot reach {self.url}: {exc}") from None
                    break
                await self._sleep(delay)
        raise ProviderError(
            f"provider failed after {self.settings.max_retries + 1} attempts: {last}"
        )

    def _hide(self, text: str) -> str:
        text = short(str(text), 300, squash=True)
        return text.replace(self._secret, "***") if self._secret else text

    def _status_error(self, exc: Any) -> Exception:
        """What an HTTP error status means: retry, a trial error, or the run must stop."""
        status = exc.status_code
        body = getattr(exc, "body", None)
        text = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else exc.message
        reason = f"HTTP {status}: {self._hide(text)}"
        code = getattr(exc, "code", None) or ""
        if status in (401, 403):
            return ProviderUnavailable(f"{self.url} refused the API key ({reason})")
        if status == 404:
            return ProviderUnavailable(
                f"{self.url} has no model {self.model!r} (or the base URL is wrong): {reason}")
        if status == 429 and code == "insufficient_quota":
            return ProviderUnavailable(f"{self.url}: quota exhausted ({reason})")
        if status in _RETRY_STATUS or status >= 500:
            return _Retry(reason, _retry_after(exc.response.headers))
        if not self._succeeded:
            return ProviderUnavailable(
                f"{self.url} refused the first request for model {self.model!r} ({reason})")
        return ProviderError(reason)

    async def _attempt(self, messages, usage, tools, extra) -> Completion:  # noqa: ANN001
        import openai

        # The transcript and tool schemas are plain JSON already: they go in ``extra_body``
        # (merged into the request JSON as is) so that the client does not walk them
        # recursively on every turn (~8 ms per turn for a long transcript).
        body: dict[str, Any] = {**self.generation, "messages": messages}
        if tools:
            body["tools"] = tools
        kwargs: dict[str, Any] = {"model": self.model, "messages": [], **extra,
                                  "extra_body": {**extra.get("extra_body", {}), **body}}
        usage.requests += 1
        try:
            response = await self._client.chat.completions.create(**kwargs)
        except openai.APIStatusError as exc:
            self._connected = True
            raise self._status_error(exc) from None
        except openai.APITimeoutError as exc:
            if not self._connected and isinstance(exc.__cause__, httpx.ConnectTimeout):
                raise ProviderUnavailable(f"cannot reach {self.url}: connection timed out") from None
            raise _Retry("request timed out") from None
        except openai.APIConnectionError as exc:
            raise _Unreached(_connection_reason(exc)) from None
        except openai.APIResponseValidationError as exc:
            self._connected = True
            raise _Retry(f"malformed response: {short(str(exc), 300, squash=True)}") from None
        self._connected = True
        usage.add(getattr(response, "usage", None))
        if not response.choices:
            raise _Retry("response without choices")
        self._succeeded = True
        message = response.choices[0].message
        tool_calls, transcript_calls = _parse_tool_calls(message)
        record: dict[str, Any] = {"role": "assistant", "content": message.content}
        if transcript_calls:
            record["tool_calls"] = transcript_calls
        return Completion(message=record, content=message.content, tool_calls=tool_calls)


