"""Fitting a prompt into the model's context window: the budget, the attached terminal cut from its
start, and whole turns of history dropped oldest first. The fixed part (system prompt, the alert,
the question) is never cut: when it does not fit alone, the caller refuses the question.

Token counts are LiteLLM's (tiktoken when it lacks the model's own tokenizer), so they are
approximate: the budget keeps a margin, each message is counted once and the sum is checked by a
few whole-prompt recounts (counting is slow: a recount per dropped turn would make trimming quadratic).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Messages = list[dict[str, str]]
Count = Callable[[Messages], int]

# Kept free of the window besides the reply: 10% of the window + 256 tokens (token counts are approximate).
CONTEXT_MARGIN_RATIO = 0.10
CONTEXT_MARGIN_TOKENS = 256
TRIM_RECOUNTS = 5  # whole-prompt recounts after trimming (the per-message sum is approximate)


def input_budget(window: int, reply_tokens: int) -> int:
    """The prompt's token budget: the window less the reply (at most a quarter of the window, so a
    provider whose max_tokens reaches the window leaves room for a question) and a safety margin."""
    reply = max(0, min(reply_tokens, window // 4))
    return window - reply - (int(window * CONTEXT_MARGIN_RATIO) + CONTEXT_MARGIN_TOKENS)


def fit_attachment(
    count: Count, fixed: Messages, question: str, attachment: str, budget: int, attach: Callable[[str], str]
) -> tuple[str, int]:
    """The question with as much of the attachment's end as fits `budget` (whole lines, from the
    end), and the whole prompt's token count so far. `attach(text)` is what the attachment adds to
    the question. Bounded: a few recounts, then the attachment goes."""
    ask = question + attach(attachment) if attachment else question
    tokens = count([*fixed, {"role": "user", "content": ask}])
    if tokens <= budget or not attachment:
        return ask, tokens
    bare = count([*fixed, {"role": "user", "content": question}])
    text = attachment
    for _ in range(TRIM_RECOUNTS):
        room = budget - bare - 16  # the markers and the heading
        if room <= 0:
            break
        share = room / max(1, tokens - bare)  # the part of the attachment's tokens that fits
        keep = int(len(text) * min(share, 1.0) * 0.9)
        text = text[len(text) - keep :] if keep > 0 else ""
        if "\n" in text[:-1]:
            text = text[text.index("\n") + 1 :]  # whole lines only
        if not text:
            break
        ask = question + attach(text)
        tokens = count([*fixed, {"role": "user", "content": ask}])
        if tokens <= budget:
            return ask, tokens
    return question, bare


@dataclass
class Trimmed:
    messages: Messages
    tokens: int
    dropped_turns: int


def trim_history(
    count: Count, system: Messages, history: Messages, question: Messages, fixed_tokens: int, budget: int
) -> Trimmed:
    """`system` + the newest whole turns of `history` that fit + `question`. `fixed_tokens` is the
    count of system + question; `history` is oldest first and starts over at a question."""
    turns = list(history)
    dropped = 0
    while turns and turns[0]["role"] != "user":  # an answer whose question is not in the history
        turns.pop(0)
        dropped += 1
    # Each turn counted once; the drops subtract (trimming stays linear in the history's length).
    sizes = [count([turn]) for turn in turns]
    total = fixed_tokens + sum(sizes)
    first = 0

    def drop_turn() -> None:
        # The oldest turn; an answer left without its question goes with it.
        nonlocal first, total, dropped
        total -= sizes[first]
        first += 1
        dropped += 1
        while first < len(turns) and turns[first]["role"] != "user":
            total -= sizes[first]
            first += 1
            dropped += 1

    while total > budget and first < len(turns):
        drop_turn()
    messages = [*system, *turns[first:], *question]
    tokens = count(messages)
    for _ in range(TRIM_RECOUNTS):  # the sum of the parts approximates the whole: check it
        if tokens <= budget or first >= len(turns):
            break
        drop_turn()
        messages = [*system, *turns[first:], *question]
        tokens = count(messages)
    if tokens > budget:  # still over after a few recounts: the question and the alert alone fit
        dropped += len(turns) - first
        messages, tokens = [*system, *question], fixed_tokens
    return Trimmed(messages, tokens, dropped)
