"""Role decisions for the alert page's chat (AlertChatState), registered into
test_reflex_handlers_roles.DECISIONS (that module imports this one).

Any logged-in user may chat, but only with their own conversations: each handler is called as
anonymous (sent to log in, nothing shown or stored), as the user and as the admin, and each of the
two sees and continues only their own conversation (an admin does not read a user's chat).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from sqlmodel import col, select

from remediation_app.crypto import encrypt
from remediation_app.db import async_session
from remediation_app.models import ChatMessage, Conversation, TerminalRecordingChunk, TerminalSession, User, utcnow
from remediation_app.services.llm import chat
from tests.support.fake_llm import FakeLLM, reply
from tests.support.settings_env import settings_env as _env
from tests.unit.test_reflex_handlers_roles import (
    DECISIONS,
    ROLES,
    World,
    _setvar,
    _state_cls,
    call,
    decides,
    redirect_of,
)

STATE = "AlertChatState"


def shows_anything(page: Any) -> bool:
    return bool(page.loaded or page.conversations or page.messages or page.choices or page.partial or page.asked)


DECISIONS[(STATE, "setvar")] = functools.partial(_setvar, cls_name=STATE, protected=shows_anything)


def tab(w: World, role: str) -> Any:
    return w.state(_state_cls(STATE), role, path=f"/alerts/{w.alert_id}", query={"alert_id": str(w.alert_id)})


def owner(w: World, role: str) -> User:
    return w.admin if role == "admin" else w.user


async def seed(w: World) -> dict[str, int]:
    """One conversation each for the user and the admin on the world's alert; role -> its id."""
    ids: dict[str, int] = {}
    async with async_session() as session:
        for role in ("user", "admin"):
            user, now = owner(w, role), utcnow()
            assert user.id is not None
            conversation = Conversation(
                alert_id=w.alert_id,
                user_id=user.id,
                username=user.username,
                title=f"{role} chat",
                created_at=now,
                updated_at=now,
            )
            session.add(conversation)
            await session.flush()
            assert conversation.id is not None
            session.add(
                ChatMessage(
                    conversation_id=conversation.id, role="user", content=f"{role} secret question", created_at=now
                )
            )
            ids[role] = conversation.id
        await session.commit()
    return ids


async def chat_rows() -> list[tuple[Any, ...]]:
    async with async_session() as session:
        rows = await session.exec(select(ChatMessage).order_by(col(ChatMessage.id)))
        return [(m.conversation_id, m.role, m.content, m.status) for m in rows.all()]


@contextlib.contextmanager
def llm() -> Iterator[FakeLLM]:
    """The environment's provider is a loopback fake for the duration."""
    with FakeLLM() as fake, _env(LLM_MODEL="openai/gpt-4o-mini", LLM_API_BASE=fake.api_base, LLM_API_KEY="sk-x"):
        fake.default = reply("an answer")
        yield fake


def expect_login(result: Any, w: World) -> None:
    assert redirect_of(result) == f"/login?next=/alerts/{w.alert_id}", result


@decides((STATE, "load"), (STATE, "open_conversation"), (STATE, "new_conversation"))
async def _open(w: World, name: str) -> None:
    ids = await seed(w)
    before = await chat_rows()
    for role in ROLES:
        for target in ("user", "admin"):
            page = tab(w, role)
            page.conversation_id = str(ids[target])  # what the tab showed before (load keeps it if allowed)
            page._shown_alert = w.alert_id
            args = [str(ids[target])] if name == "open_conversation" else []
            result = await call(page, name, *args)
            if role == "anonymous":
                expect_login(result, w)
                assert not shows_anything(page) and page.conversation_id == ""
                continue
            assert result is None and page.loaded
            assert [c.title for c in page.conversations] == [f"{role} chat"]  # only their own
            own = target == role and name != "new_conversation"
            assert page.conversation_id == (str(ids[role]) if own else "")
            assert [m.content for m in page.messages] == ([f"{role} secret question"] if own else [])
    assert await chat_rows() == before


@decides((STATE, "choose_provider"))
async def _choose(w: World, _name: str) -> None:
    """It only picks among the choices the tab was shown (none for a tab that loaded nothing)."""
    for role in ROLES:
        page = tab(w, role)
        assert await call(page, "choose_provider", "7") is None and page.choice == ""
        page.choices = [{"id": "7", "label": "x"}]
        await call(page, "choose_provider", "7")
        assert page.choice == "7"


@decides((STATE, "set_attach_terminal"))
async def _attach(w: World, _name: str) -> None:
    """Only the tab's box (send reads the terminal, for the logged-in user only: see _send)."""
    for role in ROLES:
        page = tab(w, role)
        assert await call(page, "set_attach_terminal", True) is None and page.attach_terminal
        assert not shows_anything(page)
        await call(page, "set_attach_terminal", False)
        assert not page.attach_terminal


async def add_terminal_output(user: User, output: str) -> None:
    """A finished terminal session of `user` whose recording showed `output`."""
    async with async_session() as session:
        row = TerminalSession(user_id=user.id, username=user.username, server_name="shared", started_at=utcnow())
        session.add(row)
        await session.flush()
        assert row.id is not None
        text = '{"version": 2, "width": 80, "height": 24}\n' + f'[0.1, "o", "$ {output}\\r\\n"]\n'
        session.add(TerminalRecordingChunk(session_id=row.id, seq=0, ciphertext=encrypt(text)))
        await session.commit()


@decides((STATE, "stop"))
async def _stop(w: World, _name: str) -> None:
    """Stop cancels this tab's own stream (whoever it is: stopping never costs anything) and nobody
    else's; a logged-out tab is also sent to log in."""
    for role in ROLES:
        page = tab(w, role)
        mine = asyncio.create_task(asyncio.sleep(30))
        other = asyncio.create_task(asyncio.sleep(30))
        chat._running[page.router.session.client_token] = mine
        chat._running["another-tab"] = other
        try:
            result = await call(page, "stop")
            await asyncio.gather(mine, return_exceptions=True)
            assert mine.cancelled() and not other.done()
            if role == "anonymous":
                expect_login(result, w)
            else:
                assert result is None
            assert not shows_anything(page)
        finally:
            other.cancel()
            chat._running.clear()


@decides((STATE, "send"))
async def _send(w: World, _name: str) -> None:
    ids = await seed(w)
    await add_terminal_output(w.user, "user-terminal-output")  # attached to the user's question only
    with llm() as fake:
        for role in ROLES:
            page = tab(w, role)
            page.conversation_id = str(ids["user"])  # the user's conversation: only the user continues it
            page.attach_terminal = True
            before = await chat_rows()
            result = await call(page, "send", {"question": f"{role} asks"})
            rows = await chat_rows()
            assert not page.streaming
            if role == "anonymous":
                expect_login(result, w)
                assert rows == before and not shows_anything(page)
                continue
            assert redirect_of(result) is None and page.error == "", page.error
            new = rows[len(before) :]
            assert [(r[1], r[2], r[3]) for r in new] == [
                ("user", f"{role} asks", "complete"),
                *[("assistant", "an answer", "complete")],
            ]
            conversation = new[0][0]
            assert (conversation == ids["user"]) is (role == "user")
            assert page.conversation_id == str(conversation)
            assert [m.content for m in page.messages] == (
                ["user secret question", "user asks", "an answer"] if role == "user" else ["admin asks", "an answer"]
            )
            assert "user secret question" not in str(fake.chat_requests[-1].json) or role == "user"
            # Only the sender's own terminal is attached (the admin has none), quoted as untrusted data.
            sent = str(fake.chat_requests[-1].json)
            assert ("<terminal-" in sent and "user-terminal-output" in sent) is (role == "user"), sent
            assert "user-terminal-output" not in sent or role == "user"
            assert [m.terminal_attached for m in page.messages if m.role == "user"][-1] is (role == "user")
            assert not page.attach_terminal  # ticked per question
        assert len(fake.chat_requests) == 2
