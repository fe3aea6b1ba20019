"""The alert page's chat: the logged-in user's conversations about the alert and the streamed answer.

`send` is a background event: it checks the login, stores the question (services.conversations.
prepare_turn), streams the answer through services.chat.run_stream (which calls `push` at most
about 20 times a second; each push is one small state update, `partial`), then stores the answer
and reloads the conversation. Stop cancels the tab's stream at once (the partial answer is kept).
The tab's Reflex client token is the stream's key, so one tab streams one answer at a time.

"Attach terminal output": when ticked, `send` reads the last lines of the user's own latest terminal
on the server (services.terminal.recording.terminal_tail: this alert's terminal, else their latest one) and
prepare_turn quotes them to the model as untrusted data. The box is ticked per question: it is
cleared after each send. It is offered once the user has a terminal session (or one is connected on
the page).

Everything shown is the user's own: their questions and the model's answers to them. The view is
chat.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import reflex as rx
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import ChatMessage, Conversation, TerminalSession, User
from remediation_app.pages.alerts.analysis_state import cost_text, tokens_text
from remediation_app.services.auth import Forbidden
from remediation_app.services.llm import chat, providers
from remediation_app.services.llm.chat import ChatError
from remediation_app.services.llm.client import StreamResult
from remediation_app.services.llm.conversations import (
    HISTORY_MAX,
    conversations,
    messages_of,
    own_conversation,
    prepare_turn,
    save_answer,
)
from remediation_app.services.terminal import recording
from remediation_app.state import (
    UNAVAILABLE,
    ProviderChoiceState,
    login_redirect,
    parse_id,
    route_alert_id,
    session_user,
    user_from_cookies,
)

log = logging.getLogger(__name__)
# How often a streaming answer checks the login of the tab that asked (a logout, deactivation, role
# or password change stops it within this time).
LOGIN_CHECK_S = 2.0


async def stop_when_logged_out(token: str, cookies: str) -> None:
    """Stop the tab's stream once the login it was asked with is gone; runs until cancelled."""
    while True:
        await asyncio.sleep(LOGIN_CHECK_S)
        try:
            await user_from_cookies(cookies)
        except Forbidden:
            chat.stop(token)
            return
        except TRANSIENT_DB_ERRORS:
            continue  # the next check decides


@dataclasses.dataclass
class MessageView:
    id: str = ""
    role: str = ""  # user or assistant
    content: str = ""
    # complete, stopped, error, or interrupted (left "streaming" by a process that is gone)
    status: str = ""
    error: str = ""  # the sentence shown under a failed answer (error_text)
    terminal_attached: bool = False
    model: str = ""
    tokens: str = ""
    cost: str = ""
    created_at: str = ""


@dataclasses.dataclass
class ConversationView:
    id: str = ""
    title: str = ""
    updated_at: str = ""


def error_text(m: ChatMessage) -> str:
    """A failed answer's error as a sentence: "mid-answer" only when some text came first."""
    if m.content:
        return f"The provider failed mid-answer; the text above is partial: {m.error}"
    return f"The provider failed: {m.error}"


def message_view(m: ChatMessage) -> MessageView:
    answer = m.role == "assistant"
    return MessageView(
        id=str(m.id),
        role=m.role,
        content=m.content,
        status="interrupted" if m.status == "streaming" else m.status,
        error=error_text(m) if m.status == "error" else "",
        terminal_attached=bool(m.terminal_context),
        model=m.model,
        tokens=tokens_text(m.prompt_tokens, m.completion_tokens, unknown="") if answer else "",
        cost=cost_text(m.cost_usd) if answer else "",
        created_at=m.created_at.isoformat(),
    )


def conversation_view(c: Conversation) -> ConversationView:
    return ConversationView(id=str(c.id), title=c.title, updated_at=c.updated_at.isoformat())


@dataclasses.dataclass
class ChatPanel:
    """What the panel shows for one alert and user, loaded outside the state lock."""

    conversations: list[ConversationView]
    conversation_id: str
    messages: list[ChatMessage]
    choices: list[dict[str, str]]
    default_choice: str
    has_terminal: bool = False


async def has_terminal_session(session: AsyncSession, user: User) -> bool:
    """Whether the user ever had a terminal session (its output may be attached to a question)."""
    query = select(TerminalSession.id).where(col(TerminalSession.user_id) == user.id).limit(1)
    return (await session.exec(query)).first() is not None


async def attached_terminal_text(user: User, alert_id: int) -> str:
    """The last lines of the user's terminal for this alert, else of their latest terminal ("" none)."""
    assert user.id is not None
    try:
        return await recording.terminal_tail(user.id, alert_id=alert_id) or await recording.terminal_tail(user.id)
    except DecryptionError as exc:  # names the record, never a key
        raise ChatError(f"the terminal output could not be read: {exc}") from exc


async def load_chat_panel(session: AsyncSession, alert_id: int, user: User, wanted: str | None) -> ChatPanel:
    """`wanted`: the conversation to show ("" a new one, None the latest one)."""
    rows = await conversations(session, alert_id, user)
    shown: Conversation | None = None
    if wanted is None:
        shown = rows[0] if rows else None
    elif (wanted_id := parse_id(wanted)) is not None:
        found = await own_conversation(session, wanted_id, user)
        shown = found if found is not None and found.alert_id == alert_id else None
    # The page shows (and the browser holds) at most the latest HISTORY_MAX messages of a conversation.
    messages = (
        await messages_of(session, shown.id, last=HISTORY_MAX) if shown is not None and shown.id is not None else []
    )
    choices, default_choice = await providers.provider_choices(session)
    return ChatPanel(
        conversations=[conversation_view(c) for c in rows],
        conversation_id=str(shown.id) if shown is not None else "",
        messages=messages,
        choices=choices,
        default_choice=default_choice,
        has_terminal=await has_terminal_session(session, user),
    )


class AlertChatState(ProviderChoiceState, rx.State):
    loaded: bool = False
    conversations: list[ConversationView] = []
    conversation_id: str = ""  # "" = a new conversation (created by the first question)
    messages: list[MessageView] = []
    streaming: bool = False
    asked: str = ""  # the question being answered (shown until the conversation is reloaded)
    partial: str = ""  # the answer so far, while streaming
    error: str = ""
    _shown_alert: int = 0
    _streaming_answer: int = 0  # the answer this tab streams (shown from `partial`, not from the list)
    _stop_asked: bool = False  # Stop pressed before the provider was called
    attach_terminal: bool = False  # the box: attach the terminal's last lines to the next question
    has_terminal: bool = False  # the user has a terminal session (the box is offered)

    def _forget(self) -> None:
        """Another alert, or the login is gone: stop this tab's answer (it is kept, marked stopped)."""
        if self.streaming:
            self._stop_asked = True
            chat.stop(self.router.session.client_token)
        self.loaded, self.conversations, self.conversation_id, self.messages = False, [], "", []
        self.choices, self.choice, self.asked, self.error, self._shown_alert = [], "", "", "", 0
        self.partial, self.attach_terminal, self.has_terminal = "", False, False

    def _show(self, alert_id: int, panel: ChatPanel) -> None:
        if self._shown_alert != alert_id:
            self._forget()
        self._shown_alert, self.loaded = alert_id, True
        self.conversations, self.conversation_id = panel.conversations, panel.conversation_id
        streamed = self._streaming_answer if self.streaming else 0
        self.messages = [message_view(m) for m in panel.messages if m.id != streamed]
        self.has_terminal = panel.has_terminal
        self._show_choices(panel.choices, panel.default_choice)

    async def _open(self, wanted: str | None) -> Any:
        """Check the login and show `wanted` (see load_chat_panel); the refusal when logged out."""
        try:
            user = await session_user(self)
        except Forbidden:
            self._forget()
            return login_redirect(self.router.url.path)
        alert_id = route_alert_id(self)
        if not alert_id:
            self._forget()
            return None
        if self._shown_alert != alert_id:
            wanted = None
        try:
            async with async_session() as session:
                panel = await load_chat_panel(session, alert_id, user, wanted)
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        # A stream this process no longer runs (a restart) is over; one being prepared is not.
        running = chat.streaming(self.router.session.client_token) or not self._streaming_answer
        self.streaming = self.streaming and running
        self._show(alert_id, panel)
        return None

    @rx.event
    async def load(self):
        """On opening the page: the conversation shown before in this tab, else the latest one."""
        return await self._open(self.conversation_id)

    @rx.event
    async def open_conversation(self, conversation_id: str):
        if self.streaming:  # the answer being streamed belongs to the conversation shown
            return None
        return await self._open(str(conversation_id))

    @rx.event
    async def new_conversation(self):
        if self.streaming:
            return None
        self.error = ""
        return await self._open("")

    @rx.event
    def set_attach_terminal(self, checked: bool):
        """Only the box; `send` checks the login and reads the user's own terminal on the server."""
        self.attach_terminal = bool(checked)

    @rx.event
    async def stop(self):
        """Stop this tab's own stream now (nothing else: the key is the tab's token)."""
        if not chat.stop(self.router.session.client_token) and self.streaming:
            self._stop_asked = True  # the question is still being stored: the provider is not called
        try:
            await session_user(self)
        except Forbidden:
            self._forget()
            return login_redirect(self.router.url.path)
        return None

    @rx.event(background=True)
    async def send(self, form: dict[str, Any]):
        async with self:
            if self.streaming:
                return
            token, cookies, path = self.router.session.client_token, self.router.headers.cookie, self.router.url.path
            alert_id, conversation_id = route_alert_id(self), parse_id(self.conversation_id)
            provider_id = self._provider_id()
            attach, self.attach_terminal = self.attach_terminal, False
            question = str((form or {}).get("question", ""))
            self.streaming, self.partial, self.error, self.asked = True, "", "", question.strip()
            self._stop_asked = False
        try:
            user = await user_from_cookies(cookies)
            terminal_text = await attached_terminal_text(user, alert_id) if attach and alert_id else ""
            turn = await prepare_turn(
                alert_id=alert_id,
                user=user,
                question=question,
                conversation_id=conversation_id,
                terminal_text=terminal_text,
                provider_id=provider_id,
            )
            async with async_session() as session:
                panel = await load_chat_panel(session, alert_id, user, str(turn.conversation_id))
        except Forbidden:
            async with self:
                self.streaming = False
                self._forget()
            yield login_redirect(path)
            return
        except ChatError as exc:  # its message is for the user
            async with self:
                self.streaming, self.asked, self.error = False, "", str(exc)
                self.attach_terminal = attach  # the question is not sent: the box stays as it was
            return
        except TRANSIENT_DB_ERRORS:
            async with self:
                self.streaming, self.asked, self.error = False, "", UNAVAILABLE
                self.attach_terminal = attach
            return
        async with self:
            self._streaming_answer, self.asked, stop_asked = turn.answer_id, "", self._stop_asked
            self._show(alert_id, panel)
        yield rx.set_value("chat-question", "")

        async def push(text: str) -> None:
            async with self:
                self.partial = text

        result = StreamResult(stopped=stop_asked)
        guard = asyncio.create_task(stop_when_logged_out(token, cookies), name="chat-login-guard")
        try:
            if not stop_asked:
                await chat.run_stream(token, turn.provider, turn.context, result, push)
        finally:
            guard.cancel()
            await self._finish(turn, result, alert_id, user)

    async def _finish(self, turn: Any, result: StreamResult, alert_id: int, user: User) -> None:
        """Store the answer and show the conversation as stored (the streamed text becomes a message)."""
        panel: ChatPanel | None = None
        why = "the database is unavailable"
        try:
            await save_answer(turn, result)
            async with async_session() as session:
                panel = await load_chat_panel(session, alert_id, user, str(turn.conversation_id))
        except TRANSIENT_DB_ERRORS:
            log.warning("chat answer %s could not be stored: database unavailable", turn.answer_id)
        except Exception:  # whatever it was, the tab must leave the streaming state
            log.exception("chat answer %s could not be stored", turn.answer_id)
            why = "an internal error"
        async with self:
            self.streaming, self._streaming_answer, self._stop_asked = False, 0, False
            if panel is not None and self._shown_alert == alert_id:
                self._show(alert_id, panel)
                self.partial = ""
            elif panel is None:
                self.error = f"The answer could not be stored ({why}): " + (
                    result.error or "it is shown above until you reload."
                )
