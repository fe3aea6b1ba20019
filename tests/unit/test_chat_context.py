"""The chat's context builder (services/chat.py build_context), pure: the budget keeps a margin and
a bounded reply, the analysis and the terminal are cut to fit, trimming counts each message once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from remediation_app.models import Alert, Analysis
from remediation_app.services.llm import chat
from remediation_app.services.llm.chat import ANALYSIS_MAX, ChatError, build_context
from remediation_app.services.llm.client import count_tokens
from remediation_app.services.llm.limiter import input_budget

MODEL = "openai/not-a-known-model-xyz"


def _alert() -> Alert:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    return Alert(
        id=1,
        fingerprint="abc",
        starts_at=now,
        status="firing",
        alertname="DiskFull",
        severity="critical",
        instance="web-1:9100",
        job="node",
        labels={"alertname": "DiskFull"},
        annotations={"summary": "/var is full"},
        first_received_at=now,
        last_received_at=now,
        action="auto_analyze",
    )


def _history(turns: int, words: int = 60) -> list[tuple[str, str]]:
    history: list[tuple[str, str]] = []
    for i in range(turns):
        history += [("user", f"turn {i} " + "word " * words), ("assistant", f"answer {i} " + "word " * words)]
    return history


def test_the_budget_keeps_a_margin_and_a_bounded_reply() -> None:
    assert input_budget(8192, 1000) == 8192 - 1000 - (819 + 256)
    # A reply as large as the window is clamped to a quarter of it: questions stay possible.
    assert input_budget(8192, 8192) == 8192 - 2048 - (819 + 256)
    assert input_budget(200_000, 200_000) == 200_000 - 50_000 - 20_256


def test_a_max_tokens_as_large_as_the_window_still_leaves_room_to_ask() -> None:
    context = build_context(
        alert=_alert(), analysis=None, history=[], question="why?", model=MODEL, reply_tokens=8192, window=8192
    )
    assert context.messages[-1] == {"role": "user", "content": "why?"}
    assert context.prompt_tokens <= context.budget == input_budget(8192, 8192)


def test_a_huge_analysis_is_cut() -> None:
    analysis = Analysis(
        alert_id=1, structured=True, urgency="HIGH", result={"root_cause": "x" * 500_000, "steps": ["y"] * 10_000}
    )
    context = build_context(
        alert=_alert(), analysis=analysis, history=[], question="q", model=MODEL, reply_tokens=500, window=128_000
    )
    facts = context.messages[1]["content"]
    assert len(facts) < 16_000 + ANALYSIS_MAX + 2000
    assert "[cut: " in facts and "more characters]" in facts
    small = Analysis(alert_id=1, structured=True, urgency="LOW", result={"root_cause": "logs"})
    context = build_context(
        alert=_alert(), analysis=small, history=[], question="q", model=MODEL, reply_tokens=500, window=128_000
    )
    assert '"root_cause": "logs"' in context.messages[1]["content"]


def test_a_long_terminal_is_cut_from_its_start_to_fit() -> None:
    lines = [f"line {i:04d} " + "\u2603" * 40 for i in range(300)]  # dense: ~80 tokens a line
    terminal = "\n".join(lines) + "\n"
    context = build_context(
        alert=_alert(),
        analysis=None,
        history=_history(5),
        question="what does it say?",
        model=MODEL,
        reply_tokens=1000,
        terminal_text=terminal,
        window=8192,
        nonce="00ff00ff00ff00ff",
    )
    ask = context.messages[-1]["content"]
    assert ask.startswith("what does it say?") and "<terminal-00ff00ff00ff00ff>" in ask
    assert "line 0299 " in ask and "line 0000 " not in ask  # the last lines are kept
    kept = ask.split("<terminal-00ff00ff00ff00ff>\n", 1)[1]
    assert kept.startswith("line ")  # whole lines
    assert context.prompt_tokens <= context.budget
    assert count_tokens(MODEL, context.messages) <= context.budget
    assert context.prompt_tokens > context.budget * 0.5  # the terminal used the room, not dropped
    assert context.notes and "last lines" in context.notes[0]
    assert context.dropped_turns > 0  # the oldest turns went too


def test_a_question_too_big_even_without_the_terminal_is_refused() -> None:
    with pytest.raises(ChatError, match="tokens"):
        build_context(
            alert=_alert(),
            analysis=None,
            history=_history(3),
            question="\u2603" * 7999,
            model=MODEL,
            reply_tokens=1000,
            terminal_text="some output\n" * 100,
            window=8192,
        )


def test_trimming_counts_each_message_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = chat.count_tokens

    def counting(model: str, messages: list[dict[str, str]]) -> int:
        calls.append(len(messages))
        return real(model, messages)

    monkeypatch.setattr(chat, "count_tokens", counting)
    history = _history(150, words=300)
    started = time.perf_counter()
    context = build_context(
        alert=_alert(), analysis=None, history=history, question="latest", model=MODEL, reply_tokens=1000, window=8192
    )
    elapsed = time.perf_counter() - started
    assert context.dropped_turns > 250 and context.messages[-2]["content"].startswith("answer 149 ")
    assert context.prompt_tokens <= context.budget
    assert len(calls) <= len(history) + 8, len(calls)  # linear: each message once, a few whole counts
    assert sum(calls) < 5 * len(history)  # no recount of the whole prompt per dropped turn
    assert elapsed < 2.0, elapsed


def test_an_underestimate_drops_one_more_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the whole prompt counts more than its parts, the final check drops another turn."""
    real = chat.count_tokens

    def skewed(model: str, messages: list[dict[str, str]]) -> int:
        n = real(model, messages)
        return n + 600 if len(messages) > 3 else n  # the whole prompt: 600 tokens more than its parts

    monkeypatch.setattr(chat, "count_tokens", skewed)
    history = _history(40, words=100)
    kwargs: dict[str, Any] = {"alert": _alert(), "analysis": None, "history": history, "question": "latest"}
    kwargs.update(model=MODEL, reply_tokens=1000, window=8192)
    context = build_context(**kwargs)
    assert context.prompt_tokens == skewed(MODEL, context.messages) <= context.budget
    assert context.messages[-2]["content"].startswith("answer 39 ")
    monkeypatch.setattr(chat, "count_tokens", real)
    assert build_context(**kwargs).dropped_turns < context.dropped_turns


def test_history_starting_with_an_answer_drops_it() -> None:
    history = [("assistant", "orphan answer"), *_history(2)]
    context = build_context(
        alert=_alert(), analysis=None, history=history, question="q", model=MODEL, reply_tokens=500, window=128_000
    )
    assert [m["content"] for m in context.messages[2:3]] == [history[1][1]]
    assert context.dropped_turns == 1
