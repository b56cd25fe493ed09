"""ChatClient against the fake OpenAI server, through the real openai client.

Only the transport is retried; what the model says (malformed arguments, an empty reply) is
returned as is; a model that cannot be used at all raises ProviderUnavailable at once."""

from __future__ import annotations

import asyncio

import pytest

from medagent.errors import ProviderError, ProviderUnavailable
from medagent.llm import ChatClient, Usage
from medagent.settings import HarnessSettings
from tests.fake_openai import FakeOpenAI, tool_call_message

FAST = HarnessSettings(max_retries=4, backoff_base=0.01, backoff_max=0.05, request_timeout=0.5)


class Always:
    """A policy that answers every request with one fixed tool call."""

    def __call__(self, body: dict) -> dict:
        return tool_call_message("search_patients", {"family": "Lopez"})


def _complete(fake: FakeOpenAI | str, settings: HarnessSettings = FAST, turns: int = 1,
              **client_args) -> tuple[object, Usage]:
    async def go():
        url = fake if isinstance(fake, str) else fake.url
        client = ChatClient("fake-model", url, "sk-test-SECRET-4242", settings, **client_args)
        usage = Usage()
        try:
            for _ in range(turns):
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
    assert fake.auth == ["Bearer sk-test-SECRET-4242"]


@pytest.mark.parametrize("faults", [["429", "429", "429"], ["500", "500"], ["slow"], ["500", "slow", "429"]])
def test_transient_failures_are_retried(faults):
    with FakeOpenAI(Always(), fault_all=list(faults), slow_s=1.0) as fake:
        turn, usage = _complete(fake)
    assert turn.tool_calls[0]["name"] == "search_patients"
    assert usage.retries == len(faults)
    assert usage.requests == len(faults) + 1


def test_retry_after_is_honoured():
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # records the delay instead of waiting it
        slept.append(seconds)

    with FakeOpenAI(Always(), fault_all=["429", "429"], retry_after=7.5) as fake:
        turn, usage = _complete(fake, sleep=sleep)
    assert usage.retries == 2 and turn.tool_calls
    # backoff alone would wait at most backoff_max (0.05 s); the provider asked for 7.5 s
    assert slept == [7.5, 7.5]


def test_malformed_arguments_are_the_models_answer_not_retried():
    with FakeOpenAI(Always(), fault_all=["malformed"]) as fake:
        turn, usage = _complete(fake)
        assert len(fake.requests) == 1
    assert usage.retries == 0
    (call,) = turn.tool_calls
    assert call["name"] == "search_patients" and call["arguments"] == '{"patient": "S1'
    assert "not valid JSON" in call["error"]
    # the transcript keeps what the model sent, byte for byte
    assert turn.message["tool_calls"][0]["function"]["arguments"] == '{"patient": "S1'


def test_an_empty_reply_is_returned_not_retried():
    with FakeOpenAI(Always(), fault_all=["empty"]) as fake:
        turn, usage = _complete(fake)
        assert len(fake.requests) == 1
    assert turn.empty and usage.retries == 0 and turn.tool_calls == []


def test_generation_settings_are_sent_and_none_is_left_out():
    generation = {"temperature": 0, "max_completion_tokens": 64, "seed": 7, "reasoning_effort": None, "top_p": 0.5}
    with FakeOpenAI(Always()) as fake:
        _complete(fake, generation=generation)
    (body,) = fake.requests
    assert body["temperature"] == 0 and body["max_completion_tokens"] == 64
    assert body["seed"] == 7 and body["top_p"] == 0.5
    assert "reasoning_effort" not in body


def test_an_unreachable_endpoint_is_unavailable_after_two_quick_tries():
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    settings = HarnessSettings(max_retries=6, backoff_base=1.0, backoff_max=60.0)
    with pytest.raises(ProviderUnavailable) as info:
        _complete("http://127.0.0.1:1/v1", settings, sleep=sleep)
    assert str(info.value) == "cannot reach http://127.0.0.1:1/v1: connection refused"
    assert len(slept) == 2 and all(s <= 1.0 for s in slept)  # not the 6 retries of a transient failure


@pytest.mark.parametrize("fault, fragment", [
    ("401", "refused the API key (HTTP 401: Incorrect API key provided: ***)"),
    ("404", "has no model 'fake-model'"),
    ("quota", "quota exhausted"),
    ("400", "refused the first request for model 'fake-model' (HTTP 400: Unsupported parameter"),
])
def test_a_model_that_cannot_be_used_is_unavailable_at_once(fault, fragment):
    with FakeOpenAI(Always(), fault_all=[fault]) as fake:
        with pytest.raises(ProviderUnavailable) as info:
            _complete(fake, turns=2)
        assert len(fake.requests) == 1  # not retried, and the second call fails without a request
    assert fragment in str(info.value) and "SECRET" not in str(info.value)


def test_a_bad_request_after_the_model_answered_is_a_trial_error():
    with FakeOpenAI(Always(), fault_all=[None, "400"]) as fake:
        with pytest.raises(ProviderError) as info:
            _complete(fake, turns=2)
    assert not isinstance(info.value, ProviderUnavailable) and "HTTP 400" in str(info.value)


def test_retries_run_out_into_provider_error():
    with FakeOpenAI(Always(), fault_all=["500"] * 10) as fake:
        with pytest.raises(ProviderError, match="after 5 attempts: HTTP 500"):
            _complete(fake)
        assert len(fake.requests) == 5
