"""The one client over real HTTP to the loopback fake provider: a streamed answer is counted from the
provider's usage when the stream carries it (else from what was received) and priced by LiteLLM
exactly as a non-streamed one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from remediation_app.services.llm.client import StreamResult, complete, count_tokens, stream
from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.sdk import litellm_module
from tests.support.fake_llm import FakeLLM, error, reply
from tests.support.fake_llm import stream as stream_step

pytestmark = pytest.mark.anyio
MODEL = "openai/gpt-4o-mini"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why is /var full?"}]


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def provider(fake: FakeLLM) -> ProviderConfig:
    return ProviderConfig(id=0, name="test", model=MODEL, api_base=fake.api_base, api_key="sk-test", timeout_s=10)


def price(prompt_tokens: int, completion_tokens: int) -> float:
    prompt_usd, completion_usd = litellm_module().cost_per_token(
        model=MODEL, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )
    return float(prompt_usd + completion_usd)


async def streamed(fake: FakeLLM, *, stop_after: int | None = None, prompt_tokens: int | None = None) -> StreamResult:
    result = StreamResult()
    pieces = stream(provider(fake), MESSAGES, result, prompt_tokens=prompt_tokens)
    async with contextlib.aclosing(pieces):
        received = 0
        async for _piece in pieces:
            received += 1
            if received == stop_after:
                break
    return result


async def test_a_streamed_answer_is_counted_and_priced_from_the_providers_usage(fake):
    fake.script(stream_step(["The disk ", "is full."], prompt_tokens=1234, completion_tokens=56))
    result = await streamed(fake, prompt_tokens=99)
    assert result.text == "The disk is full." and result.error == "" and not result.stopped
    assert (result.prompt_tokens, result.completion_tokens) == (1234, 56)  # the provider's, not our 99
    assert result.cost_usd == pytest.approx(price(1234, 56)) and result.cost_usd > 0
    # The same usage without streaming costs the same: one pricing path.
    fake.script(reply("The disk is full.", prompt_tokens=1234, completion_tokens=56))
    answer = await complete(provider(fake), MESSAGES)
    assert answer.cost_usd == pytest.approx(result.cost_usd)


async def test_a_stopped_stream_is_counted_from_what_was_received(fake):
    fake.script(stream_step([f"part{i} " for i in range(200)], between=0.02, prompt_tokens=5000))
    result = await streamed(fake, stop_after=3, prompt_tokens=321)
    await fake.wait_for_disconnects_async(1)  # closed at once, not drained
    assert result.stopped and result.text == "part0 part1 part2 "
    # No usage arrived: the prompt is our count, the answer LiteLLM's count of the text received.
    assert result.prompt_tokens == 321
    expected = litellm_module().token_counter(model=MODEL, text=result.text, count_response_tokens=True)
    assert result.completion_tokens == expected > 0
    assert result.cost_usd == pytest.approx(price(321, expected))


async def test_a_stream_that_fails_before_any_text_is_not_priced(fake):
    fake.script(error(500))
    result = await streamed(fake)
    assert result.error == f"HTTP 500 from {fake.api_base}: fake LLM error 500" and result.text == ""
    assert result.prompt_tokens == count_tokens(MODEL, MESSAGES)  # sent, so counted
    assert result.completion_tokens is None and result.cost_usd is None


async def test_a_failure_mid_stream_keeps_the_text_and_prices_it(fake):
    fake.script(stream_step(["one ", "two ", "three ", "four"], fail_after=2, between=0.01))
    result = await streamed(fake, prompt_tokens=40)
    assert result.text == "one two " and result.error and not result.stopped
    assert result.prompt_tokens == 40 and result.completion_tokens and result.cost_usd


@pytest.mark.parametrize(
    ("api_base", "model", "shown"),
    [
        ("http://user:secret@127.0.0.1:8000/v1", "openai/x", "http://127.0.0.1:8000/v1"),
        ("http://[::1]:11434", "ollama/llama3", "http://[::1]:11434"),
        ("http://host:notaport/v1", "openai/x", "the configured API base"),
        ("", "anthropic/claude", "the anthropic API"),
    ],
)
def test_the_endpoint_named_in_errors_never_carries_credentials_and_never_fails(api_base, model, shown):
    from remediation_app.services.llm.errors import endpoint

    assert endpoint(ProviderConfig(id=1, name="p", model=model, api_base=api_base)) == shown
