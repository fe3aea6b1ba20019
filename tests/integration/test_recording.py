"""Recordings: asciicast v2 in encrypted chunks, UTF-8 split across reads, the size cap."""

from __future__ import annotations

import pytest

from remediation_app.db import async_session
from remediation_app.models import TerminalSession, utcnow
from remediation_app.services.terminal.recording import TRUNCATED_NOTE, Recorder, parse_events, read_recording

pytestmark = pytest.mark.anyio


async def new_session() -> int:
    async with async_session() as session:
        row = TerminalSession(username="u", server_name="s", started_at=utcnow())
        session.add(row)
        await session.commit()
        assert row.id is not None
        return row.id


async def read_all(session_id: int) -> str:
    return "".join([chunk async for chunk in read_recording(session_id)])


async def test_events_round_trip_in_chunks(app_settings, db):
    session_id = await new_session()
    recorder = Recorder(session_id, cols=80, rows=24, max_bytes=10_000_000)
    snowman = "☃".encode()
    recorder.output(b"hello " + snowman[:1])  # a character split across two reads
    recorder.output(snowman[1:] + b"\r\n")
    recorder.input("ls -la\r")
    recorder.resize(100, 30)
    for i in range(2000):  # enough for several chunks
        recorder.output(f"line {i:05d}\r\n".encode())
        if recorder.full:
            await recorder.flush()
    await recorder.close()
    header, events = parse_events(await read_all(session_id))
    assert header["version"] == 2 and header["width"] == 80 and header["env"]["TERM"] == "xterm-256color"
    shown = "".join(e[2] for e in events if e[1] == "o")
    assert shown.startswith("hello ☃\r\n") and "line 01999" in shown
    assert [e[2] for e in events if e[1] == "i"] == ["ls -la\r"] and [e[2] for e in events if e[1] == "r"] == ["100x30"]
    chunks = db.rows("SELECT seq, ciphertext FROM terminal_recording_chunks ORDER BY seq")
    assert len(chunks) > 1 and [c["seq"] for c in chunks] == list(range(len(chunks)))
    assert all("line 0" not in c["ciphertext"] for c in chunks)


async def test_the_size_cap_stops_recording_with_a_note(app_settings):
    session_id = await new_session()
    recorder = Recorder(session_id, cols=80, rows=24, max_bytes=2000)
    for _ in range(100):
        recorder.output(b"x" * 100)
    await recorder.close()
    assert recorder.truncated and recorder.total <= 2000 + 200
    _, events = parse_events(await read_all(session_id))
    assert events[-1][2] == TRUNCATED_NOTE


async def test_terminal_tail_is_plain_text_of_the_latest_session(app_settings):
    from remediation_app.services.terminal.recording import terminal_tail
    from tests.conftest import add_user

    user = await add_user("tail-user", "user")
    async with async_session() as session:
        old = TerminalSession(user_id=user.id, username="tail-user", server_name="s", started_at=utcnow())
        new = TerminalSession(user_id=user.id, username="tail-user", server_name="s", started_at=utcnow(), alert_id=7)
        session.add_all([old, new])
        await session.commit()
        old_id, new_id = old.id, new.id
    assert old_id is not None and new_id is not None
    stale = Recorder(old_id, cols=80, rows=24, max_bytes=10**6)
    stale.output(b"from the old session\r\n")
    await stale.close()
    recorder = Recorder(new_id, cols=80, rows=24, max_bytes=10**6)
    recorder.output(b"\x1b]0;root@host\x07\x1b[1;32m$\x1b[0m df -h\r\n")
    recorder.output(b"progress 10%\rprogress 100%\r\n")
    for i in range(100):
        recorder.output(f"/dev/sda{i} 97%\r\n".encode())
    await recorder.close()
    tail = await terminal_tail(user.id, max_lines=3)
    assert tail == "/dev/sda97 97%\n/dev/sda98 97%\n/dev/sda99 97%"
    whole = await terminal_tail(user.id, alert_id=7, max_lines=200)
    assert whole.startswith("$ df -h\nprogress 100%\n/dev/sda0 97%") and "old session" not in whole
    assert await terminal_tail(user.id, alert_id=99) == ""


async def test_the_size_cap_counts_utf8_bytes(app_settings):
    session_id = await new_session()
    recorder = Recorder(session_id, cols=80, rows=24, max_bytes=2000)
    for _ in range(100):
        recorder.output("☃".encode() * 50)  # 50 characters, 150 bytes
    await recorder.close()
    stored = await read_all(session_id)
    assert recorder.truncated and recorder.total == len(stored.encode())
    assert len(stored.encode()) <= 2000 + 200  # the cap, plus the note that ends the recording
    _, events = parse_events(stored)
    assert events[-1][2] == TRUNCATED_NOTE


async def test_a_flush_cancelled_mid_write_still_stores_its_chunk(app_settings, monkeypatch):
    import asyncio
    import contextlib

    from remediation_app.services.terminal import recording

    writing, go_on = asyncio.Event(), asyncio.Event()

    @contextlib.asynccontextmanager
    async def slow_session():  # the database answers only when the test says so
        writing.set()
        await go_on.wait()
        async with async_session() as session:
            yield session

    session_id = await new_session()
    recorder = Recorder(session_id, cols=80, rows=24, max_bytes=10**6)
    recorder.output(b"first chunk\r\n")
    monkeypatch.setattr(recording, "async_session", slow_session)
    flush = asyncio.create_task(recorder.flush())
    await writing.wait()
    flush.cancel()  # the browser closed during heavy output: the output pump is cancelled
    with pytest.raises(asyncio.CancelledError):
        await flush
    recorder.output(b"second chunk\r\n")
    go_on.set()
    await recorder.close()
    monkeypatch.undo()
    shown = "".join(e[2] for e in parse_events(await read_all(session_id))[1] if e[1] == "o")
    assert shown == "first chunk\r\nsecond chunk\r\n"
