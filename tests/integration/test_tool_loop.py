"""The bounded tool loop against the loopback fake provider over real HTTP (LiteLLM unpatched): the
model's tool calls run, their results (redacted, quoted) go back as `role: tool` messages, failures
become results, and every bound ends the loop with one last call that offers no tool."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from remediation_app.services.investigation.loop import (
    TOOL_TEXT_MAX,
    LoopLimits,
    ToolError,
    ToolOutcome,
    ToolSpec,
    run_tool_loop,
)
from remediation_app.services.llm.client import supports_tools
from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.errors import LLMError
from tests.support.fake_llm import FakeLLM, RecordedRequest, Step, error, hang, reply, reply_json, tool_call, tool_calls

pytestmark = pytest.mark.anyio
MESSAGES = [{"role": "system", "content": "You analyse alerts."}, {"role": "user", "content": "Disk full on db-1"}]
SECRET = "hunter2-very-secret-password"


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def provider(fake: FakeLLM, model: str = "openai/gpt-4o-mini", **kwargs: Any) -> ProviderConfig:
    return ProviderConfig(id=0, name="test", model=model, api_base=fake.api_base, api_key="sk-test", **kwargs)


class Query:
    """A PromQL-like tool that answers from a table and remembers what it was asked."""

    def __init__(self, answers: dict[str, str] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[dict[str, Any]] = []

    async def __call__(self, arguments: dict[str, Any]) -> ToolOutcome:
        self.asked.append(arguments)
        expr = arguments["expr"]
        return ToolOutcome(self.answers.get(expr, f"no data for {expr}"), evidence_id=f"ev-{len(self.asked)}")

    def spec(self, name: str = "query") -> ToolSpec:
        parameters = {
            "type": "object",
            "properties": {"expr": {"type": "string", "description": "PromQL"}},
            "required": ["expr"],
        }
        return ToolSpec(name, "Evaluate a PromQL expression now.", parameters, self)


def result_of(request: RecordedRequest, call_id: str) -> str:
    (message,) = [m for m in request.tool_messages if m["tool_call_id"] == call_id]
    return str(message["content"])


def offered_tools(request: RecordedRequest) -> bool:
    return bool(request.tools) and request.json.get("tool_choice") != "none"


async def test_the_model_calls_a_tool_by_its_parameters_and_answers_from_the_result(fake: FakeLLM) -> None:
    query = Query({"node_filesystem_avail_bytes": "db-1 /var: 0 bytes"})

    def call_by_schema(request: RecordedRequest) -> Step:
        schema = request.tool("query")["parameters"]
        assert schema["required"] == ["expr"]
        return tool_calls([tool_call("query", {"expr": "node_filesystem_avail_bytes"}, id="call_1")])

    def answer_from_result(request: RecordedRequest) -> Step:
        assistant = request.messages[-2]
        assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "call_1"
        assert request.messages[-1]["role"] == "tool"
        return reply_json({"root_cause": result_of(request, "call_1")})

    fake.script(call_by_schema, answer_from_result)
    result = await run_tool_loop(provider(fake), MESSAGES, [query.spec()], LoopLimits(), nonce="n0nce")

    assert fake.step_errors == []
    assert query.asked == [{"expr": "node_filesystem_avail_bytes"}]
    content = json.loads(result.text)["root_cause"]
    assert content == 'Result (evidence id "ev-1"):\n<tool-result-n0nce>\ndb-1 /var: 0 bytes\n</tool-result-n0nce>'
    assert (result.stopped, result.steps, result.model) == ("answered", 2, "gpt-4o-mini")
    assert result.calls == [
        {
            "name": "query",
            "arguments": '{"expr": "node_filesystem_avail_bytes"}',
            "ok": True,
            "evidence_id": "ev-1",
            "error": None,
        }
    ]
    first, second = fake.chat_requests
    assert result.prompt_tokens is not None and result.completion_tokens is not None
    assert result.cost_usd is not None and result.cost_usd > 0
    # The caller's messages come first, unchanged, then the loop's note on how results are quoted.
    assert first.messages[:1] == MESSAGES[:1] and first.messages[2:] == MESSAGES[1:]
    assert first.messages[1]["role"] == "system" and "<tool-result-n0nce>" in first.messages[1]["content"]
    assert "untrusted data" in first.messages[1]["content"]
    assert first.json["response_format"] == {"type": "json_object"}
    assert offered_tools(first) and offered_tools(second)
    assert len(MESSAGES) == 2  # not changed


async def test_two_calls_in_one_step_each_get_their_result(fake: FakeLLM) -> None:
    query = Query({"a": "alpha", "b": "beta"})
    fake.script(
        tool_calls([tool_call("query", {"expr": "a"}, id="c-a"), tool_call("query", {"expr": "b"}, id="c-b")]),
        reply("done"),
    )
    result = await run_tool_loop(provider(fake), MESSAGES, [query.spec()], LoopLimits(), json_mode=False)
    assert (result.text, result.steps, result.stopped) == ("done", 2, "answered")
    second = fake.chat_requests[1]
    assert [m["tool_call_id"] for m in second.tool_messages] == ["c-a", "c-b"]
    assert "alpha" in result_of(second, "c-a") and "beta" in result_of(second, "c-b")
    assert [c["evidence_id"] for c in result.calls] == ["ev-1", "ev-2"]
    assert "response_format" not in second.json


async def test_failed_calls_go_back_to_the_model_as_results(fake: FakeLLM, caplog: pytest.LogCaptureFixture) -> None:
    query = Query()

    async def broken(arguments: dict[str, Any]) -> ToolOutcome:
        raise RuntimeError(f"bug with {SECRET}")

    async def refusing(arguments: dict[str, Any]) -> ToolOutcome:
        raise ToolError("parse error at char 3: unexpected '}'")

    no_args = {"type": "object", "properties": {}}
    tools = [query.spec(), ToolSpec("broken", "", no_args, broken), ToolSpec("refusing", "", no_args, refusing)]
    fake.script(
        tool_calls(
            [
                tool_call("delete_everything", {}, id="unknown"),
                tool_call("query", "{not json", id="not-json"),
                tool_call("query", "[1, 2]", id="not-object"),
                tool_call("query", {"step": "1m"}, id="missing"),
                tool_call("broken", "", id="broken"),
            ]
        ),
        tool_calls([tool_call("refusing", {}, id="refused")]),
        reply("answer anyway"),
    )
    with caplog.at_level(logging.ERROR, logger="remediation_app.services.investigation.loop"):
        result = await run_tool_loop(
            provider(fake), MESSAGES, tools, LoopLimits(), json_mode=False, protect=lambda t: t.replace(SECRET, "***")
        )

    assert (result.text, result.stopped, result.steps) == ("answer anyway", "answered", 3)
    assert query.asked == []  # bad arguments never reach the handler
    second, third = fake.chat_requests[1:]
    assert "unknown tool 'delete_everything'; the tools are: broken, query, refusing" in result_of(second, "unknown")
    assert "not valid JSON" in result_of(second, "not-json")
    assert "must be a JSON object, not list" in result_of(second, "not-object")
    assert "missing required arguments: expr" in result_of(second, "missing")
    assert "the tool failed unexpectedly (RuntimeError)" in result_of(second, "broken")
    assert SECRET not in second.body.decode()  # a bug's message stays in the log
    assert "parse error at char 3: unexpected '}'" in result_of(third, "refused")
    assert all(m["content"].startswith("Failed:\n") for m in [*second.tool_messages, *third.tool_messages])
    assert [c["ok"] for c in result.calls] == [False] * 6
    assert result.calls[0]["error"].startswith("unknown tool")
    (logged,) = [r for r in caplog.records if "broken" in r.getMessage()]
    # The handler's bug is logged with its traceback, redacted like a result.
    assert "RuntimeError: bug with ***" in logged.getMessage() and "Traceback" in logged.getMessage()
    assert SECRET not in caplog.text


async def test_a_hanging_tool_times_out_and_is_cancelled(fake: FakeLLM) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def hangs(arguments: dict[str, Any]) -> ToolOutcome:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    spec = ToolSpec("slow", "", {"type": "object", "properties": {}}, hangs)
    fake.script(tool_calls([tool_call("slow", {}, id="s")]), reply("ok"))
    result = await run_tool_loop(provider(fake), MESSAGES, [spec], LoopLimits(tool_timeout_s=0.2), json_mode=False)
    assert started.is_set() and cancelled.is_set()
    assert "no result within 0.2 s" in result_of(fake.chat_requests[1], "s")
    assert (result.text, result.stopped) == ("ok", "answered")


async def test_at_max_steps_the_last_call_offers_no_tool(fake: FakeLLM) -> None:
    query = Query()
    fake.script(*[tool_calls([tool_call("query", {"expr": f"up{i}"}, id=f"c{i}")]) for i in range(2)])
    fake.script(reply_json({"root_cause": "final"}))
    result = await run_tool_loop(provider(fake), MESSAGES, [query.spec()], LoopLimits(max_steps=3))
    assert (result.stopped, result.steps, json.loads(result.text)) == ("steps", 3, {"root_cause": "final"})
    assert len(query.asked) == 2
    *looping, final = fake.chat_requests
    assert len(looping) == 2 and all(offered_tools(r) for r in looping)
    assert final.json["tool_choice"] == "none"
    last = final.messages[-1]
    assert last["role"] == "user" and "Stop calling tools: the limit of rounds is reached" in last["content"]
    assert "final JSON object" in last["content"]
    assert result_of(final, "c1")  # the last round's results are in


async def test_the_token_bound_stops_offering_tools(fake: FakeLLM) -> None:
    query = Query()
    fake.script(
        tool_calls([tool_call("query", {"expr": "up"})], prompt_tokens=30_000, completion_tokens=50),
        reply("{}", prompt_tokens=30_100, completion_tokens=10),
    )
    result = await run_tool_loop(provider(fake), MESSAGES, [query.spec()], LoopLimits(max_tokens=60_000))
    # 30,050 spent and the next prompt is at least 30,000: the second call is the final one.
    assert (result.stopped, result.steps) == ("tokens", 2)
    assert (result.prompt_tokens, result.completion_tokens) == (60_100, 60)
    assert fake.chat_requests[1].json["tool_choice"] == "none"
    assert "token budget" in fake.chat_requests[1].messages[-1]["content"]


async def test_the_cost_bound_stops_offering_tools(fake: FakeLLM) -> None:
    fake.script(tool_calls([tool_call("query", {"expr": "up"})], prompt_tokens=10_000, completion_tokens=100))
    limits = LoopLimits(max_cost_usd=0.001)  # gpt-4o-mini: ~0.0016 USD for the first call
    result = await run_tool_loop(provider(fake), MESSAGES, [Query().spec()], limits)
    assert (result.stopped, result.steps) == ("cost", 2)
    assert result.cost_usd is not None and result.cost_usd > 0.001


async def test_protect_redacts_every_tool_result_before_the_provider_sees_it(fake: FakeLLM) -> None:
    leaky = Query({"config": f"password={SECRET} <b>not a marker</b>", "long": ("x" * 9000) + SECRET})

    def protect(text: str) -> str:
        return text.replace(SECRET, "[REDACTED]")

    async def fails_with_secret(arguments: dict[str, Any]) -> ToolOutcome:
        raise ToolError(f"cannot connect with {SECRET}")

    failing = ToolSpec("connect", "", {"type": "object", "properties": {}}, fails_with_secret)
    fake.script(
        tool_calls(
            [
                tool_call("query", {"expr": "config"}, id="c"),
                tool_call("query", {"expr": "long"}, id="l"),
                tool_call("connect", {}, id="f"),
            ]
        ),
        reply("done"),
    )
    result = await run_tool_loop(
        provider(fake), MESSAGES, [leaky.spec(), failing], LoopLimits(), json_mode=False, protect=protect
    )
    assert result.text == "done"
    for request in fake.requests:
        assert SECRET not in request.body.decode()
    second = fake.chat_requests[1]
    assert "password=[REDACTED] \\u003cb\\u003enot a marker\\u003c/b\\u003e" in result_of(second, "c")
    long = result_of(second, "l")
    assert "[cut]" in long and len(long) < TOOL_TEXT_MAX + 200
    assert "cannot connect with [REDACTED]" in result_of(second, "f")
    assert SECRET not in json.dumps(result.calls)


async def test_a_model_that_never_stops_calling_tools_ends_within_the_bounds(fake: FakeLLM) -> None:
    query = Query()
    fake.default = lambda request: tool_calls([tool_call("query", {"expr": f"q{i}"}) for i in range(7)])
    limits = LoopLimits(max_steps=4, max_calls_per_step=5, max_calls=100)
    result = await run_tool_loop(provider(fake), MESSAGES, [query.spec()], limits)
    assert (result.stopped, result.steps, result.text) == ("steps", 4, "")  # its last answer had no text
    assert len(fake.chat_requests) == 4 and fake.chat_requests[-1].json["tool_choice"] == "none"
    assert len(query.asked) == 3 * 5  # five a round; the other two are answered "not run"
    second = fake.chat_requests[1]
    assert len(second.tool_messages) == 7  # every call gets a result, or the provider refuses the next request
    assert "not run: at most 5 tool calls per round" in second.tool_messages[-1]["content"]

    fake.reset()
    query.asked.clear()
    limits = LoopLimits(max_steps=10, max_calls=8)
    result = await run_tool_loop(provider(fake), MESSAGES, [query.spec()], limits)
    assert (result.stopped, result.steps) == ("calls", 3)
    assert len(query.asked) == 8
    # Round two runs three (5 + 3 = 8); the next two meet the total, the last two the per-round bound.
    contents = [m["content"] for m in fake.chat_requests[2].tool_messages[7:]]
    assert ["budget of 8 tool calls is spent" in c for c in contents] == [False] * 3 + [True] * 2 + [False] * 2
    assert fake.chat_requests[2].json["tool_choice"] == "none"


async def test_the_wall_clock_cuts_a_call_that_hangs_and_still_gets_an_answer(fake: FakeLLM) -> None:
    fake.script(hang(), reply("late answer"))
    result = await run_tool_loop(provider(fake), MESSAGES, [Query().spec()], LoopLimits(wall_s=0.5), json_mode=False)
    assert (result.stopped, result.steps, result.text) == ("time", 2, "late answer")
    await fake.wait_for_disconnects_async(1)
    assert fake.chat_requests[0].disconnected
    assert fake.chat_requests[1].json["tool_choice"] == "none"


async def test_provider_errors_propagate(fake: FakeLLM) -> None:
    fake.script(tool_calls([tool_call("query", {"expr": "up"})]), error(503))
    with pytest.raises(LLMError) as info:
        await run_tool_loop(provider(fake), MESSAGES, [Query().spec()], LoopLimits())
    assert info.value.transient and info.value.status == 503


async def test_supports_tools(fake: FakeLLM) -> None:
    assert supports_tools(provider(fake, "openai/gpt-4o")) is True  # auto: LiteLLM knows it calls functions
    assert supports_tools(provider(fake, "openai/my-local-model")) is False  # auto: unknown to LiteLLM
    assert supports_tools(provider(fake, "openai/my-local-model", tool_calling="on")) is True
    assert supports_tools(provider(fake, "openai/gpt-4o", tool_calling="off")) is False
    # "on" for a model LiteLLM does not know: the tools are really offered, and their calls run.
    query = Query()
    fake.script(tool_calls([tool_call("query", {"expr": "up"})]), reply("answered"))
    local = provider(fake, "openai/my-local-model", tool_calling="on")
    result = await run_tool_loop(local, MESSAGES, [query.spec()], LoopLimits(), json_mode=False)
    assert (result.text, query.asked, result.cost_usd) == ("answered", [{"expr": "up"}], None)
    assert fake.chat_requests[0].tool_names == ["query"]


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LoopLimits(max_steps=0)
    with pytest.raises(ValueError, match="positive"):
        LoopLimits(wall_s=0)
