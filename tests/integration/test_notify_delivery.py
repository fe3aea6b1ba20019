"""Notifications end to end on SQLite and PostgreSQL: webhook (or an analysis, a proposal, a fix) ->
delivery queued in the same transaction -> the real worker -> Apprise over real sockets to a loopback
json:// receiver and an SMTP server. The message carries the link; hostile alert text arrives as text
in every markup; a receiver that is down is retried until it is back; a final failure shows its
masked error and can be retried; a restart mid-send neither loses nor duplicates; the throttle
summarizes what it held back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from markdown_it import MarkdownIt

from remediation_app.db import async_session
from remediation_app.models import Alert, NotifyDelivery, SSHServer, utcnow
from remediation_app.services import metrics
from remediation_app.services.diagnostics import proposals
from remediation_app.services.diagnostics.proposals import Origin
from remediation_app.services.llm.worker import AnalysisWorker
from remediation_app.services.notify import events
from remediation_app.services.notify.messages import WORD_JOINER
from remediation_app.services.notify.worker import NotifyWorker
from tests.support.analysis_jobs import running as running_analyses
from tests.support.fake_llm import GOOD_ANALYSIS, FakeLLM, reply_json
from tests.support.notify_receivers import JsonReceiver, SmtpReceiver, text_of, wait_for
from tests.support.payloads import am_alert, many_alerts, notification

pytestmark = pytest.mark.anyio
PUBLIC = "https://console.example"
SECRET = "s3cret-pass-9z"
HEADER_SECRET = "hdr-token-7q"
HOSTILE = (
    "<!channel> @here @everyone <@U123> <script>alert(1)</script> **bold** [click](http://evil.example) "
    "`code` *x* _y_ # head | a | b | &amp; <b>html</b> " + "long " * 400
)


@pytest.fixture
def notify_env(app_env: Callable[..., None]) -> Callable[..., None]:
    app_env(
        PUBLIC_URL=PUBLIC,
        NOTIFY_RETRY_BASE_SECONDS="0.05",
        NOTIFY_RETRY_MAX_SECONDS="0.2",
        NOTIFY_TIMEOUT_SECONDS="5",
        NOTIFY_MAX_ATTEMPTS="20",
    )
    return app_env


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[JsonReceiver]:
    with JsonReceiver() as started:
        yield started


@contextlib.asynccontextmanager
async def running(*workers: NotifyWorker) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def add_route(client: Any, name: str, url: str, **fields: Any) -> dict[str, Any]:
    r = await client.post("/api/notify/routes", json={"name": name, "url": url, "events": ["alert"], **fields})
    assert r.status_code == 201, r.text
    return r.json()


async def alert_id_of(name: str) -> int:
    async with async_session() as session:
        found = await session.exec(sa.select(Alert.id).where(Alert.alertname == name))  # type: ignore[call-overload]
        return int(found.scalar_one())


async def deliveries() -> list[NotifyDelivery]:
    async with async_session() as session:
        rows = await session.exec(sa.select(NotifyDelivery).order_by(NotifyDelivery.id))  # type: ignore[call-overload]
        return list(rows.scalars())


async def wait_deliveries(predicate: Callable[[list[NotifyDelivery]], bool], what: str) -> list[NotifyDelivery]:
    found: list[NotifyDelivery] = []

    async def check() -> bool:
        found[:] = await deliveries()
        return predicate(found)

    deadline = asyncio.get_running_loop().time() + 20
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: {[(d.id, d.event, d.status, d.last_error) for d in found]}")
        await asyncio.sleep(0.02)
    return found


async def test_new_alerts_reach_each_markup_as_text_with_the_link(post_webhook, client, notify_env, receiver, caplog):
    caplog.set_level(logging.INFO)
    secret_url = receiver.url("/plain", **{"+X-Token": HEADER_SECRET}).replace("json://", f"json://bot:{SECRET}@")
    await add_route(client, "plain", secret_url, label_patterns={"severity": "critical"})
    await add_route(client, "md", receiver.url("/md", format="markdown"), label_patterns={"severity": "critical"})
    await add_route(client, "html", receiver.url("/html", format="html"), label_patterns={"severity": "critical"})
    hostile = am_alert("Hostile<b>", severity="critical", instance="web-1 @channel", annotations={"summary": HOSTILE})
    quiet = am_alert("NotMine", severity="warning")
    r = await post_webhook(notification(hostile, quiet))
    assert r.status_code == 200, r.text
    alert_id = await alert_id_of("Hostile<b>")
    queued = await deliveries()
    assert sorted(d.route_name for d in queued) == ["html", "md", "plain"]  # the warning matched no pattern
    assert {d.alert_id for d in queued} == {alert_id}

    async with running(NotifyWorker(concurrency=2)):
        await wait_for(lambda: len(receiver.posted) == 3, what="three messages")
        rows = await wait_deliveries(lambda ds: all(d.status == "sent" for d in ds), "all sent")
    by_path = {p.path: p for p in receiver.posted}
    link = f"{PUBLIC}/alerts/{alert_id}"
    plain = by_path["/plain"].body
    assert link in plain["message"] and "Hostile<b>" in plain["title"]
    assert f"@{WORD_JOINER}here" in plain["message"] and "@here" not in plain["message"].replace(WORD_JOINER, "X")
    assert "<!channel>" in plain["message"]  # plain text keeps every character (Apprise sends no markup)
    assert len(plain["message"]) < 2500  # the very long summary was cut
    assert by_path["/plain"].headers["Idempotency-Key"] == rows[0].idempotency_key or any(
        p.headers.get("Idempotency-Key") == d.idempotency_key for p in receiver.posted for d in rows
    )
    # Markdown: rendered by a CommonMark renderer (raw HTML on), the hostile text is text (no tag, link,
    # emphasis, heading, code).
    rendered = MarkdownIt("commonmark").render(by_path["/md"].body["message"])
    assert "<script>" not in rendered and "<b>" not in rendered and "<strong>bold" not in rendered
    assert 'href="http://evil.example"' not in rendered and f'href="{link}"' in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert not any(tag in rendered for tag in ("<em>", "<code>", "<h1>", "<table>", "<strong>bold"))
    # HTML: escaped, the only link ours.
    html = by_path["/html"].body["message"]
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;html&lt;/b&gt;" in html
    assert f'<a href="{link}">' in html and html.count("<a ") == 1
    # No part of the route's URL in the logs.
    assert SECRET not in caplog.text and HEADER_SECRET not in caplog.text


async def test_analyses_proposals_and_fixes_reach_their_routes_with_their_links(
    post_webhook, client, notify_env, receiver, fake
):
    """NOTIFY_URLS gets every finished analysis (through the real analysis worker and the fake LLM);
    a stored route gets the proposal waiting (made by the diagnostics service) and the fix outcome."""
    env_url = receiver.url("/env").replace("json://", f"json://bot:{SECRET}@")
    notify_env(
        NOTIFY_URLS=f"{env_url}, {receiver.url('/env2')}",
        LLM_MODEL="openai/gpt-4o-mini",
        LLM_API_BASE=fake.api_base,
        LLM_API_KEY="sk-test-key",
    )
    fake.default = reply_json(
        {**GOOD_ANALYSIS, "root_cause": "Disk <b>full</b> @channel. Logs grow.", "confidence": 0.8}
    )
    await add_route(client, "oncall", receiver.url("/oncall"), events=["proposal", "fix_verified", "fix_failed"])
    listed = (await client.get("/api/notify/routes")).json()["items"]
    assert listed[0]["name"] == "environment" and listed[0]["url_count"] == 2 and SECRET not in str(listed)
    r = await post_webhook(notification(am_alert("DiskFull", severity="critical", instance="db-1")))
    assert r.status_code == 200, r.text
    alert_id = await alert_id_of("DiskFull")
    async with running_analyses(AnalysisWorker()), running(NotifyWorker()):
        await wait_for(lambda: len(receiver.posted) == 2, what="the analysis at both NOTIFY_URLS")
    env = {p.path: p.body for p in receiver.posted}
    assert set(env) == {"/env", "/env2"} and env["/env"]["title"] == "Analysis ready: DiskFull on db-1"
    text = env["/env"]["message"]
    for expected in (f"Root cause: Disk <b>full</b> @{WORD_JOINER}channel.", "Urgency: HIGH", "Confidence: 80%"):
        assert expected in text, text
    assert "Cost: " in text and "Logs grow" not in text and f"{PUBLIC}/alerts/{alert_id}" in text

    async with async_session() as session:
        session.add(
            SSHServer(
                name="db-1",
                host="127.0.0.1",
                username="ops",
                allowed_roles=["admin"],
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        await session.flush()
        row = await proposals.propose(
            session, alert_id=alert_id, server="db-1", command="df -h /var", reason="how full", origin=Origin("chat")
        )
        assert row.status == "pending", row.verdict
        await events.fix_outcome(session, alert_id, verified=False, detail="it fired again", key="o1")
        await events.fix_outcome(session, alert_id, verified=False, detail="it fired again", key="o1")  # once
        await session.commit()
    async with running(NotifyWorker()):
        await wait_for(lambda: len(receiver.posted) == 4, what="the proposal and the fix")
    oncall = {m["title"].split(":")[0]: m["message"] for m in receiver.messages()[2:]}
    assert set(oncall) == {"Approval needed", "Fix failed"}
    assert f"{PUBLIC}/alerts/{alert_id}#proposals" in oncall["Approval needed"]
    assert "Command: df -h /var" in oncall["Approval needed"] and "Finding: it fired again" in oncall["Fix failed"]


async def test_a_receiver_down_is_retried_until_it_is_back_and_a_final_failure_can_be_retried(
    post_webhook, client, notify_env, receiver
):
    secret_url = receiver.url("/hook").replace("json://", f"json://bot:{SECRET}@")
    await add_route(client, "flaky", secret_url)
    receiver.down()
    await post_webhook(notification(am_alert("DiskFull", severity="critical")))
    async with running(NotifyWorker()):
        [waiting] = await wait_deliveries(lambda ds: len(ds) == 1 and ds[0].attempts >= 3, "retried while down")
        assert waiting.status in ("pending", "sending") and waiting.last_error
        assert SECRET not in waiting.last_error and "bot" not in waiting.last_error
        receiver.up()
        [done] = await wait_deliveries(lambda ds: ds[0].status == "sent", "sent once back")
    # Delivered once, with the idempotency key it kept across its attempts.
    assert len(receiver.posted) == 1 and receiver.posted[0].headers["Idempotency-Key"] == done.idempotency_key
    assert done.idempotency_key == waiting.idempotency_key

    # Every attempt fails: the delivery ends failed, shown with its (masked) error, and can be retried.
    notify_env(NOTIFY_MAX_ATTEMPTS="2")
    receiver.down()
    await post_webhook(notification(am_alert("DiskFull2", severity="critical")))
    async with running(NotifyWorker()):
        await wait_deliveries(lambda ds: ds[-1].status == "failed", "failed for good")
    failed = (await client.get("/api/notify/deliveries", params={"status": "failed"})).json()
    assert failed["total"] == 1 and failed["items"][0]["attempts"] == 2, failed
    assert "Connection error" in failed["items"][0]["last_error"] and SECRET not in str(failed)
    delivery_id = failed["items"][0]["id"]
    assert (await client.post(f"/api/notify/deliveries/{done.id}/retry")).status_code == 409  # it was sent
    assert (await client.post("/api/notify/deliveries/999999/retry")).status_code == 404
    receiver.up()
    retried = await client.post(f"/api/notify/deliveries/{delivery_id}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending", retried.text
    async with running(NotifyWorker()):
        await wait_deliveries(lambda ds: ds[-1].status == "sent", "sent after the retry")
    assert len(receiver.posted) == 2
    scraped = metrics.render().decode()
    assert 'remediation_notify_deliveries_total{outcome="retried",target="json"}' in scraped
    assert 'remediation_notify_deliveries_total{outcome="sent",target="json"}' in scraped


async def test_a_restart_mid_send_neither_loses_nor_duplicates(post_webhook, client, notify_env, receiver):
    await add_route(client, "slow", receiver.url())
    receiver.hold.clear()  # the receiver keeps the request waiting
    await post_webhook(notification(am_alert("DiskFull", severity="critical")))
    first = NotifyWorker(name="first")
    task = asyncio.create_task(first.run())
    await wait_for(lambda: len(receiver.posted) == 1, what="the request reached the receiver")
    task.cancel()  # shutdown while the request is in flight
    await asyncio.sleep(0)
    receiver.hold.set()  # the answer comes after the cancel
    await asyncio.gather(task, return_exceptions=True)
    [row] = await deliveries()
    assert row.status == "sent", row  # the worker waited for the attempt and recorded it
    async with running(NotifyWorker(name="second")):
        # The next alert's message arrives; the first one's is not sent again meanwhile.
        await post_webhook(notification(am_alert("Other", severity="warning")))
        await wait_for(lambda: len(receiver.posted) == 2, what="the next message")
        await wait_deliveries(lambda ds: all(d.status == "sent" for d in ds), "both sent")
    keys = [p.headers["Idempotency-Key"] for p in receiver.posted]
    assert keys[0] == row.idempotency_key and len(set(keys)) == 2

    # A worker that died mid-send (its lease expired): the delivery is sent by another, not lost.
    await post_webhook(notification(am_alert("DiskFull3", severity="critical")))
    async with async_session() as session:
        await session.exec(  # type: ignore[call-overload]
            sa.text(
                "UPDATE notify_deliveries SET status = 'sending', attempts = 1, locked_by = 'dead', "
                "lease_expires_at = :past WHERE status = 'pending'"
            ),
            params={"past": utcnow() - timedelta(seconds=1)},
        )
        await session.commit()
    async with running(NotifyWorker(name="third")):
        rows = await wait_deliveries(lambda ds: all(d.status == "sent" for d in ds), "the orphan sent")
    assert len(receiver.posted) == 3 and rows[-1].attempts == 2


async def test_the_throttle_holds_back_the_excess_and_summarizes_it(post_webhook, client, notify_env, receiver):
    await add_route(client, "noisy", receiver.url(), throttle_max=2, throttle_minutes=10)
    await post_webhook(notification(*(am_alert(f"Storm{i}", severity="critical") for i in range(5))))
    async with running(NotifyWorker()):
        rows = await wait_deliveries(
            lambda ds: sum(d.status == "throttled" for d in ds) == 3 and sum(d.status == "sent" for d in ds) == 2,
            "two sent, three held back",
        )
    [summary] = [d for d in rows if d.event == "summary"]
    assert summary.status == "pending" and summary.next_attempt_at > utcnow() + timedelta(minutes=9)
    assert len(receiver.posted) == 2
    # Ten minutes later (moved, not waited for) the summary goes, counting what was held back.
    async with async_session() as session:
        await session.exec(  # type: ignore[call-overload]
            sa.text("UPDATE notify_deliveries SET next_attempt_at = :now WHERE id = :id"),
            params={"now": utcnow(), "id": summary.id},
        )
        await session.commit()
    async with running(NotifyWorker()):
        rows = await wait_deliveries(lambda ds: any(d.event == "summary" and d.status == "sent" for d in ds), "summary")
    text = receiver.messages()[-1]
    assert text["title"] == "3 notifications held back by the throttle", text
    assert "New alert matching a rule: 3" in text["message"] and "at most 2 messages per 10 minutes" in text["message"]
    assert sum(d.summary_id == summary.id for d in rows) == 3
    # A large notification: its alerts are matched off the event loop, every one queued (none lost).
    r = await post_webhook(many_alerts(250, prefix="Storm"))
    assert r.status_code == 200, r.text
    assert sum(d.event == "alert" for d in await deliveries()) == 5 + 250


async def test_a_retried_delivery_throttled_again_does_not_stall_the_queue(
    post_webhook, client, notify_env, receiver, caplog
):
    caplog.set_level(logging.ERROR)
    await add_route(client, "noisy", receiver.url(), throttle_max=1, throttle_minutes=10)
    await post_webhook(notification(*(am_alert(f"Storm{i}", severity="critical") for i in range(2))))
    async with running(NotifyWorker()):
        rows = await wait_deliveries(lambda ds: sum(d.status == "throttled" for d in ds) == 1, "one held back")
    throttled = next(d for d in rows if d.status == "throttled")
    summary = next(d for d in rows if d.event == "summary")
    async with async_session() as session:  # its summary went out meanwhile
        await session.exec(  # type: ignore[call-overload]
            sa.text("UPDATE notify_deliveries SET status = 'sent' WHERE id = :id"), params={"id": summary.id}
        )
        await session.commit()
    # The admin retries the held-back one while the throttle is still full: held back again, and the
    # queue goes on (a delivery queued after it, for a later alert, is dealt with too).
    r = await client.post(f"/api/notify/deliveries/{throttled.id}/retry")
    assert r.status_code == 200, r.text
    await post_webhook(notification(am_alert("Later", severity="critical")))
    async with running(NotifyWorker()):
        rows = await wait_deliveries(
            lambda ds: all(d.status not in ("pending", "sending") for d in ds if d.event == "alert"),
            "every alert's delivery dealt with",
        )
    assert next(d for d in rows if d.id == throttled.id).status == "throttled"
    assert not [r for r in caplog.records if "claiming a delivery failed" in r.getMessage()]


async def test_an_email_arrives_over_smtp_with_the_link_and_escaped_html(post_webhook, client, notify_env):
    with SmtpReceiver() as smtp:
        await add_route(client, "mail", smtp.url())
        await post_webhook(notification(am_alert("Disk<script>x</script>", severity="critical", instance="db-1")))
        alert_id = await alert_id_of("Disk<script>x</script>")
        async with running(NotifyWorker()):
            [row] = await wait_deliveries(lambda ds: ds and ds[0].status == "sent", "the email sent")
        [message] = await wait_for(lambda: smtp.received, what="the email arrived")
    assert message["Subject"] == "[critical] Disk<script>x</script> on db-1 is firing"
    assert message["X-Idempotency-Key"] == row.idempotency_key
    parts = text_of(message)
    html = parts["text/html"]
    assert f'<a href="{PUBLIC}/alerts/{alert_id}">' in html
    assert "<script>" not in html and "Disk&lt;script&gt;x&lt;/script&gt;" in html
