"""The fake LLM server, driven by real LiteLLM calls over HTTP (nothing patched, no mock_response).

These tests also pin the LiteLLM behaviour the app relies on: which exception each failure
raises, and that `num_retries=0` means exactly one HTTP request per call.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.support.fake_llm import (
    GOOD_ANALYSIS,
    FakeLLM,
    RecordedRequest,
    Step,
    closed_port,
    error,
    hang,
    reply,
    stream,
    tool_call,
    tool_calls,
)

ROOT = Path(__file__).resolve().parents[2]
MODEL = "openai/gpt-4o-mini"
MESSAGES = [{"role": "system", "content": "You are an SRE."}, {"role": "user", "content": "Disk full on /var"}]


@pytest.fixture(scope="module")
def litellm() -> ModuleType:
    """Imported lazily (it takes seconds) and offline: the bundled cost map, no debug banners."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    litellm.suppress_debug_info = True
    return litellm


@pytest.fixture
def server() -> Iterator[FakeLLM]:
    with FakeLLM() as s:
        yield s


async def call(litellm: ModuleType, server: FakeLLM, **kwargs: Any) -> Any:
    kwargs.setdefault("api_base", server.api_base)
    kwargs.setdefault("timeout", 5)
    kwargs.setdefault("num_retries", 0)
    return await litellm.acompletion(model=MODEL, api_key="sk-test", messages=MESSAGES, **kwargs)


@pytest.mark.anyio
async def test_reply_has_usage_and_cost(litellm: ModuleType, server: FakeLLM) -> None:
    server.script(reply("hello", prompt_tokens=1000, completion_tokens=200))
    resp = await call(litellm, server)
    assert resp.choices[0].message.content == "hello"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (1000, 200, 1200)
    prices = litellm.model_cost["gpt-4o-mini"]
    expected = 1000 * prices["input_cost_per_token"] + 200 * prices["output_cost_per_token"]
    assert litellm.completion_cost(completion_response=resp) == pytest.approx(expected)
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.json["model"] == "gpt-4o-mini"
    assert request.json["messages"] == MESSAGES


@pytest.mark.anyio
async def test_default_reply_is_a_valid_analysis(litellm: ModuleType, server: FakeLLM) -> None:
    resp = await call(litellm, server)
    assert json.loads(resp.choices[0].message.content) == GOOD_ANALYSIS
    assert resp.usage.completion_tokens > 0


@pytest.mark.anyio
async def test_stream_arrives_in_pieces_with_usage(litellm: ModuleType, server: FakeLLM) -> None:
    server.script(stream(["Hel", "lo ", "world"], between=0.02, prompt_tokens=7, completion_tokens=3))
    resp = await call(litellm, server, stream=True, stream_options={"include_usage": True})
    pieces: list[str] = []
    usage: Any = None
    async for chunk in resp:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        usage = getattr(chunk, "usage", None) or usage
    assert pieces == ["Hel", "lo ", "world"]
    assert (usage.prompt_tokens, usage.completion_tokens) == (7, 3)
    assert server.requests[0].json["stream"] is True
    assert server.disconnects == 0


@pytest.mark.anyio
async def test_a_reply_step_streams_too(litellm: ModuleType, server: FakeLLM) -> None:
    resp = await call(litellm, server, stream=True)
    pieces = [c.choices[0].delta.content async for c in resp if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1
    assert json.loads("".join(pieces)) == GOOD_ANALYSIS


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "exc_name"),
    [
        (400, "BadRequestError"),
        (401, "AuthenticationError"),
        (404, "NotFoundError"),
        (429, "RateLimitError"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailableError"),
    ],
)
async def test_http_errors_raise_litellm_exceptions_after_one_request(
    litellm: ModuleType, server: FakeLLM, status: int, exc_name: str
) -> None:
    server.script(*[error(status, headers={"Retry-After": "1"})] * 3)
    with pytest.raises(getattr(litellm, exc_name)) as info:
        await call(litellm, server)
    assert info.value.status_code == status
    assert f"fake LLM error {status}" in str(info.value)
    assert len(server.requests) == 1  # num_retries=0 alone stops the OpenAI client retrying too


@pytest.mark.anyio
async def test_without_num_retries_the_openai_client_retries_twice(litellm: ModuleType, server: FakeLLM) -> None:
    server.script(*[error(500)] * 3)
    with pytest.raises(litellm.InternalServerError):
        await litellm.acompletion(
            model=MODEL, api_key="sk-test", messages=MESSAGES, api_base=server.api_base, timeout=5
        )
    assert len(server.requests) == 3


@pytest.mark.anyio
async def test_hang_times_out_without_blocking_the_server(litellm: ModuleType, server: FakeLLM) -> None:
    server.script(hang(), reply("meanwhile"))
    hung = asyncio.create_task(call(litellm, server, timeout=0.5))
    await server.wait_for_requests_async(1)
    started = time.monotonic()
    resp = await call(litellm, server)
    assert resp.choices[0].message.content == "meanwhile"
    assert not hung.done()
    with pytest.raises(litellm.Timeout):
        await hung
    assert time.monotonic() - started < 2
    await server.wait_for_disconnects_async(1)  # the client closed the hung connection
    assert server.requests[0].disconnected and not server.requests[1].disconnected
    assert len(server.requests) == 2


@pytest.mark.anyio
async def test_stop_ends_a_hanging_request(litellm: ModuleType) -> None:
    fake = FakeLLM().start()
    fake.script(hang())
    hung = asyncio.create_task(call(litellm, fake, timeout=30))
    await fake.wait_for_requests_async(1)
    started = time.monotonic()
    await asyncio.to_thread(fake.stop)
    assert time.monotonic() - started < 1
    # The server closed the connection without an answer: the OpenAI client's "Connection
    # error.", which LiteLLM turns into InternalServerError (status 500), as for a refused port.
    with pytest.raises(litellm.InternalServerError, match="Connection error"):
        await hung


@pytest.mark.anyio
async def test_connection_refused(litellm: ModuleType, server: FakeLLM) -> None:
    with pytest.raises(litellm.InternalServerError, match="Connection error") as info:
        await call(litellm, server, api_base=f"http://127.0.0.1:{closed_port()}/v1")
    # Not litellm.APIConnectionError: LiteLLM's OpenAI handler gives the openai
    # APIConnectionError a status code of 500 before mapping it.
    assert not isinstance(info.value, litellm.APIConnectionError)
    assert info.value.status_code == 500


@pytest.mark.anyio
async def test_fail_after_raises_during_iteration(litellm: ModuleType, server: FakeLLM) -> None:
    server.script(stream(["a", "b", "c", "d"], fail_after=2))
    resp = await call(litellm, server, stream=True)
    pieces: list[str] = []
    with pytest.raises(litellm.exceptions.MidStreamFallbackError) as info:
        async for chunk in resp:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
    assert pieces == ["a", "b"]
    assert isinstance(info.value, litellm.ServiceUnavailableError)
    assert "Connection error" in str(info.value)


@pytest.mark.anyio
async def test_stopping_a_stream_closes_the_provider_connection(litellm: ModuleType, server: FakeLLM) -> None:
    server.script(*[stream([f"w{i} " for i in range(100)], between=0.05)] * 2)

    async def consume(pieces: list[str]) -> None:
        async for chunk in await call(litellm, server, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)

    pieces: list[str] = []
    task = asyncio.create_task(consume(pieces))
    await server.wait_for_requests_async(1)
    while len(pieces) < 3:
        await asyncio.sleep(0.01)
    task.cancel()  # what a chat "Stop" does
    with pytest.raises(asyncio.CancelledError):
        await task
    await server.wait_for_disconnects_async(1)
    assert server.requests[0].disconnected
    assert len(pieces) < 100

    # aclose() on the stream wrapper closes the connection too.
    resp = await call(litellm, server, stream=True)
    async for _chunk in resp:
        break
    await resp.aclose()
    await server.wait_for_disconnects_async(2)


@pytest.mark.anyio
async def test_response_format_is_forwarded(litellm: ModuleType, server: FakeLLM) -> None:
    await call(litellm, server, response_format={"type": "json_object"}, temperature=0.2)
    body = server.requests[0].json
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0.2


@pytest.mark.anyio
async def test_in_flight_is_tracked(litellm: ModuleType, server: FakeLLM) -> None:
    server.default = reply("slow", delay=0.3)
    calls = [asyncio.create_task(call(litellm, server)) for _ in range(10)]
    await server.wait_for_in_flight_async(10)
    results = await asyncio.gather(*calls)
    assert [r.choices[0].message.content for r in results] == ["slow"] * 10
    assert server.max_in_flight == 10
    assert server.in_flight == 0
    assert len(server.requests) == 10


QUERY_TOOL = {
    "type": "function",
    "function": {
        "name": "query",
        "description": "Run a PromQL query",
        "parameters": {"type": "object", "properties": {"expr": {"type": "string"}}, "required": ["expr"]},
    },
}


@pytest.mark.anyio
async def test_tool_calls_answer_with_openai_tool_calls(litellm: ModuleType, server: FakeLLM) -> None:
    server.script(
        tool_calls(
            [tool_call("query", {"expr": "up == 0"}, id="call_a"), ("history", {"days": 2})],
            prompt_tokens=50,
            completion_tokens=9,
        )
    )
    resp = await call(litellm, server, tools=[QUERY_TOOL])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    got = [(c.id, c.type, c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls]
    assert got[0] == ("call_a", "function", "query", {"expr": "up == 0"})
    assert got[1][1:] == ("function", "history", {"days": 2})
    assert got[1][0].startswith("call_") and got[1][0] != "call_a"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (50, 9)
    assert server.requests[0].tool_names == ["query"]
    assert server.requests[0].tool("query")["parameters"]["required"] == ["expr"]


@pytest.mark.anyio
async def test_tool_calls_stream_as_delta_pieces(litellm: ModuleType, server: FakeLLM) -> None:
    long_expr = "sum by (instance) (rate(node_cpu_seconds_total{mode!='idle'}[5m]))"
    server.script(
        tool_calls(
            [tool_call("query", {"expr": long_expr}, id="call_1"), tool_call("query", "{}", id="call_2")],
            text="Looking.",
            prompt_tokens=11,
            completion_tokens=4,
        )
    )
    resp = await call(litellm, server, tools=[QUERY_TOOL], stream=True, stream_options={"include_usage": True})
    chunks = [chunk async for chunk in resp]
    deltas = [c.choices[0].delta for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    first_call = [d.tool_calls[0] for d in deltas if d.tool_calls[0].index == 0]
    assert first_call[0].id == "call_1" and first_call[0].function.name == "query"
    assert len(first_call) > 2  # the arguments arrive in several pieces
    assert all(d.id is None for d in first_call[1:])
    assert "".join(d.function.arguments or "" for d in first_call) == json.dumps({"expr": long_expr})
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    built = litellm.stream_chunk_builder(chunks)
    message = built.choices[0].message
    assert message.content == "Looking."
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_1", "query", json.dumps({"expr": long_expr})),
        ("call_2", "query", "{}"),
    ]
    assert (built.usage.prompt_tokens, built.usage.completion_tokens) == (11, 4)


@pytest.mark.anyio
async def test_a_step_can_be_a_function_of_the_request(litellm: ModuleType, server: FakeLLM) -> None:
    seen: list[RecordedRequest] = []

    def by_the_tools_offered(request: RecordedRequest) -> Step:
        seen.append(request)
        properties = request.tool("query")["parameters"]["properties"]
        return tool_calls([tool_call("query", {name: "up" for name in properties}, id="call_q")])

    def after_the_result(request: RecordedRequest) -> Step:
        (result,) = request.tool_messages
        return reply(f"{result['tool_call_id']} said {result['content']}")

    server.script(by_the_tools_offered, after_the_result)
    first = await call(litellm, server, tools=[QUERY_TOOL])
    (asked,) = first.choices[0].message.tool_calls
    assert json.loads(asked.function.arguments) == {"expr": "up"}
    messages = [
        *MESSAGES,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": asked.id, "content": "1"},
    ]
    second = await litellm.acompletion(
        model=MODEL, api_key="sk-test", messages=messages, api_base=server.api_base, num_retries=0, tools=[QUERY_TOOL]
    )
    assert second.choices[0].message.content == "call_q said 1"
    assert seen == [server.requests[0]]
    assert server.requests[1].messages[2]["tool_calls"][0]["id"] == "call_q"
    assert server.step_errors == []


@pytest.mark.anyio
async def test_a_step_function_that_fails_answers_400_and_is_recorded(litellm: ModuleType, server: FakeLLM) -> None:
    def expects_tools(request: RecordedRequest) -> Step:
        assert request.tool_names == ["query"], "no tools offered"
        return reply("unreachable")

    server.script(expects_tools, reply("still serving"))
    with pytest.raises(litellm.BadRequestError, match="scripted step raised AssertionError: no tools offered"):
        await call(litellm, server)
    (failure,) = server.step_errors
    assert isinstance(failure, AssertionError)
    resp = await call(litellm, server)
    assert resp.choices[0].message.content == "still serving"


def test_tool_call_arguments() -> None:
    assert tool_call("q", "{not json", id="x").arguments == "{not json"  # sent as is
    assert tool_call("q").arguments == "{}"
    assert tool_call("q", {"a": [1]}).arguments == '{"a": [1]}'
    with pytest.raises(ValueError, match="at least one call"):
        tool_calls([])


def test_sync_completion_and_keep_alive(litellm: ModuleType, server: FakeLLM) -> None:
    server.script(reply("one"), reply("two"), reply("three"))
    texts = [
        litellm.completion(
            model=MODEL, api_key="sk-test", messages=MESSAGES, api_base=server.api_base, timeout=5, num_retries=0
        )
        .choices[0]
        .message.content
        for _ in range(3)
    ]
    assert texts == ["one", "two", "three"]
    assert server.wait_for_requests(3)[2].json["model"] == "gpt-4o-mini"
    assert server.connections_total == 1  # LiteLLM caches its client: one kept-alive connection


def test_plain_http(server: FakeLLM) -> None:
    with httpx.Client(base_url=server.url) as client:
        models = client.get("/v1/models").json()
        assert models["object"] == "list"
        assert "gpt-4o-mini" in [m["id"] for m in models["data"]]
        assert client.get("/nope").status_code == 404
        server.script(error(429, {"error": {"message": "slow down"}}, {"Retry-After": "7"}), error(502, "bad gateway"))
        rate = client.post("/v1/chat/completions", json={"model": "m", "messages": []})
        assert (rate.status_code, rate.headers["retry-after"], rate.json()) == (
            429,
            "7",
            {"error": {"message": "slow down"}},
        )
        bad = client.post("/v1/chat/completions", content=b"not json")
        assert (bad.status_code, bad.text) == (502, "bad gateway")
    assert server.requests[-1].json is None and server.requests[-1].body == b"not json"
    assert server.connections_total == 1
    with pytest.raises(TimeoutError, match="no 99 requests"):
        server.wait_for_requests(99, timeout=0.05)


def test_cli_answers_every_request_with_the_analysis_after_the_delay() -> None:
    port = closed_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "fake_llm.py"), "--port", str(port), "--delay", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"fake LLM listening on http://127.0.0.1:{port}"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(2):
                started = time.monotonic()
                resp = client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
                assert time.monotonic() - started >= 0.2
                assert json.loads(resp.json()["choices"][0]["message"]["content"]) == GOOD_ANALYSIS
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=5)
    assert proc.returncode == 0
    assert "2 requests" in err
