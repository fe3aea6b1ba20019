"""The chat page's `send` survives a failure to store the answer: the tab leaves the streaming state
with an error, and the failure is logged (an answer the database refused must not leave the tab stuck)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from remediation_app.pages.alerts import chat_state as alert_chat
from remediation_app.services.llm.client import StreamResult
from tests.support.fake_llm import stream
from tests.unit.chat_page_roles import llm, tab
from tests.unit.test_reflex_handlers_roles import World, call, database_url, world  # noqa: F401

pytestmark = pytest.mark.anyio


async def test_send_survives_any_error_storing_the_answer(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken_save(turn: Any, result: StreamResult) -> None:
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")

    monkeypatch.setattr(alert_chat, "save_answer", broken_save)
    with llm() as fake, caplog.at_level(logging.ERROR, logger=alert_chat.__name__):
        fake.script(stream(["partial ", "answer"]))
        page = tab(world, "user")
        await call(page, "send", {"question": "what now?"})
    assert not page.streaming and page._streaming_answer == 0
    assert "could not be stored" in page.error
    assert page.partial == "partial answer"  # still shown until a reload
    assert any("could not be stored" in r.getMessage() and r.exc_info for r in caplog.records)
