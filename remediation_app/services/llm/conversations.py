"""Conversations about an alert, stored per alert and per user, and one turn as the page runs it:
check the question, build the context, store the question and the answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError
from remediation_app.db import async_session
from remediation_app.models import Alert, ChatMessage, Conversation, User, utcnow
from remediation_app.services.diagnostics.proposals import Origin
from remediation_app.services.diagnostics.tools import ProposeTool, chat_notes, propose_tool
from remediation_app.services.investigation.redaction import Redactor
from remediation_app.services.investigation.store import evidence_prompt
from remediation_app.services.llm import providers
from remediation_app.services.llm.chat import TERMINAL_MAX, ChatError, Context, build_context
from remediation_app.services.llm.client import StreamResult, supports_tools
from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.jobs import analyses_for
from remediation_app.services.records import columns
from remediation_app.services.text import storable_text

QUESTION_MAX = 8000
HISTORY_MAX = 200  # messages loaded to build the context (older ones would be trimmed anyway)
TITLE_MAX = 80


# -- conversations ---------------------------------------------------------------------------------


async def conversations(session: AsyncSession, alert_id: int, user: User) -> list[Conversation]:
    rows = await session.exec(
        select(Conversation)
        .where(col(Conversation.alert_id) == alert_id, col(Conversation.user_id) == user.id)
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
        .limit(50)
    )
    return list(rows.all())


async def own_conversation(session: AsyncSession, conversation_id: int, user: User) -> Conversation | None:
    """The conversation if it is this user's (nobody reads another user's chat)."""
    row = await session.get(Conversation, conversation_id)
    return row if row is not None and row.user_id == user.id else None


async def messages_of(session: AsyncSession, conversation_id: int, *, last: int | None = None) -> list[ChatMessage]:
    """The conversation's messages, oldest first; `last`: only the latest that many."""
    query = select(ChatMessage).where(col(ChatMessage.conversation_id) == conversation_id)
    if last is None:
        return list((await session.exec(query.order_by(col(ChatMessage.id)))).all())
    rows = await session.exec(query.order_by(col(ChatMessage.id).desc()).limit(last))
    return list(reversed(rows.all()))


def check_question(question: str) -> str:
    question = question.replace("\x00", "").strip()
    if not question:
        raise ChatError("type a question first")
    if len(question) > QUESTION_MAX:
        raise ChatError(f"a question is at most {QUESTION_MAX} characters")
    return question


async def start_turn(
    session: AsyncSession,
    *,
    alert_id: int,
    user: User,
    conversation_id: int | None,
    question: str,
    terminal_text: str = "",
    provider: ProviderConfig,
) -> tuple[Conversation, ChatMessage, ChatMessage]:
    """Store the question and an empty answer (status "streaming"); the caller commits."""
    assert user.id is not None
    now = utcnow()
    conversation = await own_conversation(session, conversation_id, user) if conversation_id else None
    if conversation is None or conversation.alert_id != alert_id:
        conversation = Conversation(
            alert_id=alert_id,
            user_id=user.id,
            username=user.username,
            title=question.splitlines()[0][:TITLE_MAX],
            created_at=now,
            updated_at=now,
        )
        session.add(conversation)
        await session.flush()
    conversation.updated_at = now
    assert conversation.id is not None
    asked = ChatMessage(
        conversation_id=conversation.id,
        role="user",
        content=question,
        terminal_context=terminal_text[-TERMINAL_MAX:],
        status="complete",
        created_at=now,
    )
    answer = ChatMessage(
        conversation_id=conversation.id,
        role="assistant",
        content="",
        status="streaming",
        provider_name=provider.name,
        model=provider.model,
        created_at=now,
    )
    session.add_all([conversation, asked, answer])
    await session.flush()
    return conversation, asked, answer


async def finish_turn(session: AsyncSession, answer_id: int, result: StreamResult) -> ChatMessage | None:
    """Store the answer as it ended: complete, stopped (partial) or error (partial, with the error)."""
    answer = await session.get(ChatMessage, answer_id)
    if answer is None:
        return None
    answer.content = storable_text(result.text)
    answer.status = "error" if result.error else "stopped" if result.stopped else "complete"
    answer.error = storable_text(result.error)
    answer.prompt_tokens, answer.completion_tokens = result.prompt_tokens, result.completion_tokens
    answer.cost_usd, answer.latency_ms = result.cost_usd, result.latency_ms
    answer.finished_at = utcnow()
    session.add(answer)
    return answer


def history_of(messages: list[ChatMessage]) -> list[tuple[str, str]]:
    """The turns to send again: questions and the answers that have text (errors' partial text included)."""
    return [(m.role, m.content) for m in messages if m.content and m.role in ("user", "assistant", "diagnostic")]


def message_public(message: ChatMessage) -> dict[str, Any]:
    return {
        **columns(message, "id", "role", "content", "status", "error", "model"),
        **columns(message, "prompt_tokens", "completion_tokens", "cost_usd"),
        "terminal_attached": bool(message.terminal_context),
        "created_at": message.created_at.isoformat(),
    }


# -- one turn, as the page runs it -------------------------------------------------------------------


@dataclass
class Turn:
    conversation_id: int
    question_id: int
    answer_id: int
    provider: ProviderConfig
    context: Context
    proposer: ProposeTool | None = None  # offered when the provider takes tools and a server can run one


async def prepare_turn(
    *,
    alert_id: int,
    user: User,
    question: str,
    conversation_id: int | None = None,
    terminal_text: str = "",
    provider_id: int | None = None,
) -> Turn:
    """Check the question, pick the provider, build the context and store the question and an empty
    answer (committed). Raises ChatError with a message for the user.

    No database connection is held while the context is built (in a thread: token counting is
    slow): one session reads, another stores."""
    question = check_question(question)
    terminal_text = terminal_text.replace("\x00", "")[-TERMINAL_MAX:]
    async with async_session() as session:
        alert = await session.get(Alert, alert_id)
        if alert is None:
            raise ChatError("no such alert")
        try:
            provider = await providers.resolve(session, provider_id)
        except (providers.ProviderUnavailable, DecryptionError) as exc:
            raise ChatError(str(exc)) from exc
        if provider is None:
            raise ChatError("no LLM provider is configured: an admin adds one on /admin/providers or sets LLM_MODEL")
        conversation = await own_conversation(session, conversation_id, user) if conversation_id else None
        if conversation is not None and conversation.alert_id != alert_id:
            conversation = None  # another alert's conversation: start a new one here
        continued = conversation.id if conversation is not None else None
        history = history_of(await messages_of(session, continued, last=HISTORY_MAX)) if continued else []
        latest = await analyses_for(session, alert_id, limit=1)
        evidence = await evidence_prompt(session, latest[0].id) if latest and latest[0].id is not None else ""
    context = await asyncio.to_thread(
        build_context,
        alert=alert,
        analysis=latest[0] if latest else None,
        history=history,
        question=question,
        model=provider.model,
        reply_tokens=provider.max_tokens,
        terminal_text=terminal_text,
        evidence=evidence,
    )
    if not provider.local:
        # The same redaction as the analysis: the whole prompt, every turn (the conversation only
        # grows, so a secret keeps its placeholder from one question to the next).
        context.messages = await asyncio.to_thread(Redactor().redact_messages, context.messages)
    async with async_session() as session:
        if await session.get(Alert, alert_id) is None:  # deleted meanwhile
            raise ChatError("no such alert")
        stored, asked, answer = await start_turn(
            session,
            alert_id=alert_id,
            user=user,
            conversation_id=continued,
            question=question,
            terminal_text=terminal_text,
            provider=provider,
        )
        await session.commit()
        assert stored.id is not None and asked.id is not None and answer.id is not None
    proposer = None
    if supports_tools(provider):  # the model may propose a command for a person to approve
        proposer = await propose_tool(alert_id, Origin("chat", conversation_id=stored.id))
    if proposer is not None:
        context.tools = [proposer.spec().definition()]
    return Turn(stored.id, asked.id, answer.id, provider, context, proposer)


async def save_answer(turn: Turn, result: StreamResult) -> None:
    if turn.proposer is not None and result.tool_calls:
        notes = await chat_notes(turn.proposer, result.tool_calls)
        result.text = f"{result.text}\n\n{notes}".strip()
    async with async_session() as session:
        await finish_turn(session, turn.answer_id, result)
        await session.commit()
