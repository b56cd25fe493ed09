"""ChatClient against the fake OpenAI server, through the real openai client."""

from __future__ import annotations

import asyncio

import pytest

from medagent.errors import ProviderError
from medagent.llm import ChatClient, Usage
from medagent.settings import HarnessSettings
from tests.fake_openai import FakeOpenAI, tool_call_message

FAST = HarnessSettings(max_retries=4, backoff_base=0.01, backoff_max=0.05, request_timeout=0.5)


class Always:
    """A policy that answers every request with one fixed tool call."""

    def __call__(self, body: dict) -> dict:
        return tool_call_message("search_patients", {"family": "Lopez"})


def _complete(fake: FakeOpenAI, settings: HarnessSettings = FAST) -> tuple[object, Usage]:
    async def go():
        client = ChatClient("fake-model", fake.url, "sk-test", settings)
        usage = Usage()
        try:
            turn = await client.complete([{"role": "user", "content": "hi"}], usage, tools=[])
        finally:
            await client.close()
        return turn, usage

    return asyncio.run(go())


def test_tool_call_wire_format_is_parsed():
    with FakeOpenAI(Always()) as fake:
        turn, usage = _complete(fake)
    assert turn.tool_calls == [{"id": "call_0", "name": "search_patients", "arguments": {"family": "Lopez"}}]
    assert usage.requests == 1 and usage.retries == 0
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert fake.auth == ["Bearer sk-test"]


@pytest.mark.parametrize("faults", [["429", "429", "429"], ["500", "500"], ["malformed"], ["slow"], ["empty"]])
def test_transient_failures_are_retried(faults):
    with FakeOpenAI(Always(), fault_all=list(faults), slow_s=1.0) as fake:
        turn, usage = _complete(fake)
    assert turn.tool_calls[0]["name"] == "search_patients"
    assert usage.retries == len(faults)
    assert usage.requests == len(faults) + 1


def test_retry_after_is_honoured():
    with FakeOpenAI(Always(), fault_all=["429"], retry_after=0.3) as fake:
        turn, usage = _complete(fake)
        # the second attempt came no sooner than Retry-After allows
    assert usage.retries == 1
    assert usage.seconds >= 0.3


def test_retries_run_out_into_provider_error():
    with FakeOpenAI(Always(), fault_all=["500"] * 10) as fake:
        with pytest.raises(ProviderError, match="after 5 attempts: HTTP 500"):
            _complete(fake)
        assert len(fake.requests) == 5
