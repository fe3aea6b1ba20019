"""The alert page's chat panel (state in chat_state.py): earlier conversations, the messages, the
answer streaming in, and the question box (Enter sends, Shift+Enter is a new line).

Answers are the model's untrusted text: Markdown without raw HTML (`safe_markdown`), code blocks
with a copy button and "Send to terminal" (pastes into the page's terminal without running it).
Questions are shown as plain text, marked when terminal output was attached to them.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.analysis import fact, facts, provider_select, safe_markdown
from remediation_app.components.callouts import message
from remediation_app.components.panels import section
from remediation_app.components.send_to_terminal import send_to_terminal_button
from remediation_app.pages.alerts.chat_state import AlertChatState as S
from remediation_app.pages.terminal.panel_state import TerminalPanelState

# Enter submits the form (the server refuses a second question while one streams); Shift+Enter,
# and Enter while an input method composes, insert a new line as usual.
_ENTER_SENDS: rx.Var[Any] = rx.Var(
    "((e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) "
    "{ e.preventDefault(); e.currentTarget.form?.requestSubmit(); } })"
)
_STATUS_COLORS = (("stopped", "orange"), ("error", "red"), ("interrupted", "gray"))


def _code_block(value: Any, **props: Any) -> rx.Component:
    """A fenced code block in an answer (`value`: its text), with a copy button and "Send to terminal"."""
    return rx.box(
        rx.code_block(value, can_copy=True, wrap_long_lines=True, **props),
        send_to_terminal_button(value, connected=None),  # no state var inside the Markdown map
        class_name="chat-code",
        margin_y="0.75em",
    )


def answer_markdown(text: rx.Var | str) -> rx.Component:
    return safe_markdown(text, components={"pre": _code_block}, class_name="chat-markdown")


def _who(role: rx.Var | str) -> rx.Component:
    # "diagnostic": the engine's report on commands the model proposed (services/diagnostics), shown as text.
    who = rx.match(role, ("user", "You"), ("diagnostic", "Diagnostics"), "Assistant")
    return rx.text(who, weight="bold", size="2", class_name="chat-role")


def _status(m: Any) -> rx.Component:
    return rx.cond(
        (m.status == "stopped") | (m.status == "error") | (m.status == "interrupted"),
        rx.badge(m.status, color_scheme=rx.match(m.status, *_STATUS_COLORS, "gray"), class_name="chat-status"),
    )


def _facts(m: Any) -> rx.Component:
    return facts(
        fact("Model", m.model, "chat-model"), fact("Tokens", m.tokens, "chat-tokens"), fact("Cost", m.cost, "chat-cost")
    )


def _message(m: Any) -> rx.Component:
    answer = m.role == "assistant"
    return rx.box(
        rx.hstack(
            _who(m.role),
            _status(m),
            rx.cond(
                m.terminal_attached,
                rx.badge("terminal output attached", color_scheme="gray", class_name="chat-terminal-attached"),
            ),
            rx.text(rx.moment(m.created_at, format="YYYY-MM-DD HH:mm:ss"), size="1", color_scheme="gray"),
            align="center",
            spacing="3",
        ),
        rx.cond(
            answer,
            rx.box(answer_markdown(m.content), class_name="chat-content"),
            rx.text(m.content, white_space="pre-wrap", word_break="break-word", class_name="chat-content"),
        ),
        rx.cond(
            m.status == "error",
            rx.callout(
                rx.text(m.error),
                color_scheme="red",
                size="1",
                class_name="chat-message-error",
            ),
        ),
        rx.cond(m.status == "interrupted", rx.text("The answer was cut off.", size="1", color_scheme="gray")),
        rx.cond(answer, _facts(m)),
        class_name="chat-message chat-" + m.role,
        custom_attrs={"data-status": m.status, "data-id": m.id},
        padding="0.5em 0.75em",
        border_left=rx.cond(answer, "3px solid var(--accent-8)", "3px solid var(--gray-6)"),
        width="100%",
    )


def _live() -> rx.Component:
    """The question being answered and the answer so far (this tab's stream)."""
    return rx.fragment(
        rx.cond(
            S.asked != "",
            rx.box(
                _who("user"),
                rx.text(S.asked, white_space="pre-wrap", word_break="break-word"),
                class_name="chat-message chat-user chat-pending",
                padding="0.5em 0.75em",
                width="100%",
            ),
        ),
        rx.cond(
            S.streaming | (S.partial != ""),
            rx.box(
                rx.hstack(_who("assistant"), rx.cond(S.streaming, rx.spinner(size="1")), align="center", spacing="3"),
                rx.box(answer_markdown(S.partial), id="chat-streaming-answer"),
                id="chat-live-answer",
                padding="0.5em 0.75em",
                border_left="3px solid var(--accent-8)",
                width="100%",
            ),
        ),
    )


def _conversations() -> rx.Component:
    return rx.hstack(
        rx.button("New conversation", on_click=S.new_conversation, disabled=S.streaming, variant="soft", id="chat-new"),
        rx.foreach(
            S.conversations,
            lambda c: rx.button(
                rx.text.span(c.title, class_name="chat-conversation-title"),
                rx.text.span(rx.moment(c.updated_at, format="YYYY-MM-DD HH:mm"), font_size="0.8em"),
                on_click=S.open_conversation(c.id),
                disabled=S.streaming,
                variant=rx.cond(c.id == S.conversation_id, "solid", "outline"),
                size="1",
                class_name="chat-conversation",
                custom_attrs={"data-id": c.id},
            ),
        ),
        id="chat-conversations",
        spacing="2",
        wrap="wrap",
        align="center",
    )


def _ask() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text_area(
                name="question",
                id="chat-question",
                placeholder="Ask about this alert (Enter sends, Shift+Enter starts a new line)",
                rows="3",
                width="100%",
                custom_attrs={"onKeyDown": _ENTER_SENDS},
            ),
            rx.hstack(
                provider_select(S, id="chat-provider-select"),
                rx.checkbox(
                    "Attach terminal output",
                    checked=S.attach_terminal,
                    on_change=S.set_attach_terminal,
                    disabled=~(S.has_terminal | TerminalPanelState.connected),
                    id="chat-attach-terminal",
                    name="attach_terminal",  # the form submits it too; `send` reads the state's value
                    size="1",
                    custom_attrs={
                        "title": rx.cond(
                            S.has_terminal | TerminalPanelState.connected,
                            "Send the last lines of your terminal (this alert's, else your latest) with the question",
                            "Open a terminal first",
                        )
                    },
                ),
                rx.spacer(),
                rx.cond(
                    S.streaming,
                    rx.button("Stop", on_click=S.stop, type="button", color_scheme="red", id="chat-stop"),
                ),
                rx.button("Send", type="submit", disabled=S.streaming, id="chat-send"),
                align="center",
                spacing="3",
                width="100%",
            ),
            width="100%",
            spacing="2",
        ),
        on_submit=S.send,
        reset_on_submit=False,
        id="chat-form",
        width="100%",
    )


def chat_section() -> rx.Component:
    return section(
        "Chat about this alert",
        rx.cond(
            S.loaded,
            rx.vstack(
                _conversations(),
                rx.vstack(rx.foreach(S.messages, _message), _live(), id="chat-messages", width="100%", spacing="3"),
                message(S.error, "red", id="chat-error"),
                rx.cond(
                    S.choices.length() > 0,  # type: ignore[attr-defined]
                    _ask(),
                    rx.text("Chat needs an LLM provider (see above).", size="2", color_scheme="gray", id="chat-off"),
                ),
                width="100%",
                spacing="3",
            ),
        ),
        id="chat-section",
    )
