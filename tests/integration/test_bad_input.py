"""Bad and odd input to the webhook, on SQLite and PostgreSQL.

For every case: no 5xx, the expected 2xx or 4xx, and afterwards the database is intact: the alerts
stored before are unchanged, nothing was stored by a refused request, and a normal notification
still ingests.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import require
from tests.support.databases import DatabaseProbe, copy_sqlite, postgres_available, postgres_url
from tests.support.payloads import am_alert, encode, many_alerts, notification

pytestmark = pytest.mark.anyio

T0 = "2026-01-01T00:00:00Z"
MB = 1024 * 1024
UNICODE = "🔥 דיסק מלא on 磁盘 — e\u0301\u0301 Z\u0335\u0321a\u0336l\u0334g\u0337o \u202ereversed\u202c \u200b"
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)> &amp; &lt;b&gt; </textarea>'


@dataclass
class Context:
    client: httpx.AsyncClient
    db: DatabaseProbe
    response: httpx.Response
    before: list[dict[str, Any]]

    def new_alerts(self) -> list[dict[str, Any]]:
        known = {row["id"] for row in self.before}
        return [row for row in self.db.alerts() if row["id"] not in known]


Check = Callable[[Context], Awaitable[None]]


@dataclass
class Case:
    id: str
    body: bytes
    status: int
    check: Check | None = None


_DELETE = object()


def with_alert(**changes: Any) -> bytes:
    """A normal one-alert notification with fields of the alert replaced (_DELETE deletes one)."""
    payload = notification(am_alert("BadInput", starts_at=T0))
    alert = payload["alerts"][0]
    for name, value in changes.items():
        if value is _DELETE:
            del alert[name]
        else:
            alert[name] = value
    return encode(payload)


def with_notification(**changes: Any) -> bytes:
    payload = notification(am_alert("BadInput", starts_at=T0))
    for name, value in changes.items():
        if value is _DELETE:
            del payload[name]
        else:
            payload[name] = value
    return encode(payload)


def alert_json(alertname: str, **extra: Any) -> dict[str, Any]:
    return am_alert(alertname, starts_at=T0, **extra)


# --- checks for the cases that are stored ---------------------------------------------------------


async def stored_one(ctx: Context) -> dict[str, Any]:
    [row] = ctx.new_alerts()
    assert ctx.response.json()["created"] == 1
    return row


async def check_nulls(ctx: Context) -> None:
    row = await stored_one(ctx)
    assert row["annotations"] == {} and row["generator_url"] == "" and row["ends_at"] is None
    assert len(row["fingerprint"]) == 16  # the label hash stands in for the missing fingerprint
    note = ctx.db.rows("SELECT * FROM notifications ORDER BY id DESC")[0]
    assert (note["receiver"], note["group_key"], note["truncated_alerts"]) == ("", "", 0)


async def check_huge_label(ctx: Context) -> None:
    row = await stored_one(ctx)
    assert row["alertname"] == "A" * 255  # the indexed column is cut
    assert len(row["labels"]["alertname"]) == MB  # the full value is kept
    assert row["instance"] == "é" * 255
    assert len(row["summary"]) == 1024
    detail = (await ctx.client.get(f"/api/alerts/{row['id']}")).json()
    assert len(detail["labels"]["alertname"]) == MB


async def check_many_labels(ctx: Context) -> None:
    row = await stored_one(ctx)
    assert len(row["labels"]) == 5004 and row["labels"]["label_4999"] == "value-4999"


async def check_unicode(ctx: Context) -> None:
    row = await stored_one(ctx)
    assert row["alertname"] == UNICODE and row["labels"]["team"] == UNICODE
    assert row["annotations"]["summary"] == UNICODE
    found = (await ctx.client.get("/api/alerts", params={"q": "磁盘"})).json()
    assert [a["id"] for a in found["items"]] == [row["id"]]
    detail = (await ctx.client.get(f"/api/alerts/{row['id']}")).json()
    assert detail["alertname"] == UNICODE and detail["annotations"]["summary"] == UNICODE


async def check_nul(ctx: Context) -> None:
    row = await stored_one(ctx)
    assert row["alertname"] == "Nul\ufffdAlert"
    assert row["labels"]["key\ufffdwith\ufffdnul"] == "v\ufffd"
    assert row["annotations"]["summary"] == "before\ufffdafter"
    detail = (await ctx.client.get(f"/api/alerts/{row['id']}")).json()
    assert detail["annotations"]["summary"] == "before\ufffdafter"


async def check_surrogates(ctx: Context) -> None:
    row = await stored_one(ctx)
    assert row["alertname"] == "Lone\ufffdSurrogate"
    assert row["labels"]["k\ufffd"] == "\ufffd\ufffd"
    assert row["annotations"]["summary"] == "pair 😀 kept, lone \ufffd replaced"


async def check_html(ctx: Context) -> None:
    row = await stored_one(ctx)
    assert row["annotations"]["summary"] == HTML and row["annotations"]["description"] == HTML
    assert row["labels"]["instance"] == HTML
    r = await ctx.client.get(f"/api/alerts/{row['id']}")
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["annotations"]["summary"] == HTML and r.json()["instance"] == HTML
    assert "<script>alert(" in r.text  # JSON text, not HTML-escaped
    listed = await ctx.client.get("/api/alerts", params={"q": "<script>"})
    assert listed.json()["items"][0]["summary"] == HTML


async def check_duplicate_keys(ctx: Context) -> None:
    row = await stored_one(ctx)
    assert row["alertname"] == "LastKeyWins" and row["labels"]["severity"] == "critical"


async def check_deep_unknown(ctx: Context) -> None:
    assert (await stored_one(ctx))["alertname"] == "DeepExtra"


async def check_unix_seconds(ctx: Context) -> None:
    row = await stored_one(ctx)
    r = await ctx.client.get(f"/api/alerts/{row['id']}")
    assert r.json()["starts_at"].startswith("2023-11-14T22:13:20")


async def check_extreme_start(ctx: Context) -> None:
    row = await stored_one(ctx)
    sent = json.loads(ctx.response.request.content)["alerts"][0]["startsAt"]
    detail = (await ctx.client.get(f"/api/alerts/{row['id']}")).json()
    assert detail["starts_at"][:19] == sent[:19]


async def check_number_label(ctx: Context) -> None:
    row = await stored_one(ctx)
    assert row["labels"]["port"] == "9100"


async def check_long_fingerprint(ctx: Context) -> None:
    row = await stored_one(ctx)
    assert row["fingerprint"].startswith("sha256:") and len(row["fingerprint"]) <= 128


async def check_empty(ctx: Context) -> None:
    assert ctx.new_alerts() == []


def huge_label_payload() -> bytes:
    """1 MB in one label (an indexed column), a long multibyte instance and summary; under 10 MB."""
    alert = alert_json("Huge", instance="é" * 1000, annotations={"summary": "s" * 5000})
    alert["labels"]["alertname"] = "A" * MB
    return json.dumps(notification(alert), ensure_ascii=False).encode()


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


CASES = [
    # wrong types
    Case("labels-as-list", with_alert(labels=["alertname", "X"]), 422),
    Case("labels-value-number", with_alert(labels={"alertname": "X", "port": 9100}), 200, check_number_label),
    Case("alerts-as-object", with_notification(alerts=alert_json("X")), 422),
    Case("alert-as-string", with_notification(alerts=["firing"]), 422),
    Case("status-42", with_alert(status=42), 422),
    Case("status-unknown", with_alert(status="pending"), 422),
    Case("startsAt-true", with_alert(startsAt=True), 422),
    Case("annotations-as-list", with_alert(annotations=["summary"]), 422),
    Case("truncatedAlerts-string", with_notification(truncatedAlerts="many"), 422),
    Case("truncatedAlerts-NaN", with_notification(truncatedAlerts=float("nan")), 422),
    Case("truncatedAlerts-over-int32", with_notification(truncatedAlerts=2**31), 422),
    # missing fields
    Case("missing-alerts", with_notification(alerts=_DELETE), 422),
    Case("missing-labels", with_alert(labels=_DELETE), 422),
    Case("missing-startsAt", with_alert(startsAt=_DELETE), 422),
    Case("missing-status", with_alert(status=_DELETE), 422),
    # null everywhere
    Case(
        "null-in-every-optional-field",
        encode(
            {
                "version": None,
                "groupKey": None,
                "truncatedAlerts": None,
                "status": None,
                "receiver": None,
                "groupLabels": None,
                "commonLabels": None,
                "commonAnnotations": None,
                "externalURL": None,
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "AllNull"},
                        "annotations": None,
                        "startsAt": T0,
                        "endsAt": None,
                        "generatorURL": None,
                        "fingerprint": None,
                    }
                ],
            }
        ),
        200,
        check_nulls,
    ),
    Case("null-alerts", with_notification(alerts=None), 422),
    Case("null-labels", with_alert(labels=None), 422),
    Case("null-startsAt", with_alert(startsAt=None), 422),
    Case("null-status", with_alert(status=None), 422),
    Case("null-label-value", with_alert(labels={"alertname": None}), 422),
    # huge
    Case("1MB-label", huge_label_payload(), 200, check_huge_label),
    Case(
        "5000-labels",
        encode(notification(alert_json("ManyLabels", labels={f"label_{i}": f"value-{i}" for i in range(5000)}))),
        200,
        check_many_labels,
    ),
    # timestamps
    Case("startsAt-month-13", with_alert(startsAt="2026-13-01T00:00:00Z"), 422),
    Case("startsAt-yesterday", with_alert(startsAt="yesterday"), 422),
    Case("startsAt-empty", with_alert(startsAt=""), 422),
    Case("endsAt-garbage", with_alert(endsAt="not a time"), 422),
    Case("startsAt-year-0-in-utc", with_alert(startsAt="0001-01-01T00:00:00+01:00"), 422),
    Case("endsAt-year-10000-in-utc", with_alert(endsAt="9999-12-31T23:30:00-01:00"), 422),
    Case("startsAt-huge-number", with_alert(startsAt=1e300), 422),
    Case("startsAt-unix-seconds", with_alert(startsAt=1700000000), 200, check_unix_seconds),
    Case("startsAt-go-zero-time", with_alert(startsAt="0001-01-01T00:00:00Z"), 200, check_extreme_start),
    Case("startsAt-year-9999", with_alert(startsAt="9999-12-31T23:59:59.999999Z"), 200, check_extreme_start),
    # text
    Case(
        "unicode",
        encode(notification(alert_json(UNICODE, labels={"team": UNICODE}, annotations={"summary": UNICODE}))),
        200,
        check_unicode,
    ),
    Case(
        "nul-bytes",
        encode(
            notification(
                alert_json(
                    "Nul\x00Alert", labels={"key\x00with\x00nul": "v\x00"}, annotations={"summary": "before\x00after"}
                )
            )
        ),
        200,
        check_nul,
    ),
    Case(
        "lone-surrogates",
        encode(
            notification(
                alert_json(
                    "Lone\ud800Surrogate",
                    labels={"k\udfff": "\ud800\udbff"},
                    annotations={"summary": "pair \ud83d\ude00 kept, lone \udc00 replaced"},
                )
            )
        ),
        200,
        check_surrogates,
    ),
    Case(
        "html-and-script",
        encode(notification(alert_json("Html", instance=HTML, annotations={"summary": HTML, "description": HTML}))),
        200,
        check_html,
    ),
    # JSON oddities
    Case("deeply-nested", b'{"alerts": ' + deep(100_000).encode() + b"}", 400),
    Case("deeply-nested-in-a-label", with_alert(labels={"alertname": json.loads(deep(500))}), 422),
    Case(
        "nested-in-an-unknown-field",
        encode({**notification(alert_json("DeepExtra")), "extra": json.loads(deep(500))}),
        200,
        check_deep_unknown,
    ),
    Case("body-array", encode([notification(alert_json("X"))]), 422),
    Case("body-string", b'"alerts"', 422),
    Case("body-number", b"42", 422),
    Case("body-null", b"null", 422),
    Case("body-true", b"true", 422),
    Case(
        "duplicate-keys",
        (
            b'{"version": "4", "alerts": [], "alerts": [{"status": "firing", "startsAt": "2026-01-01T00:00:00Z",'
            b' "labels": {"alertname": "FirstKey", "severity": "info", "alertname": "LastKeyWins",'
            b' "severity": "critical"}}]}'
        ),
        200,
        check_duplicate_keys,
    ),
    Case("fingerprint-129-chars", with_alert(fingerprint="f" * 129), 200, check_long_fingerprint),
    Case("non-utf8-body", with_alert(labels={"alertname": "Caf\xe9"}).replace(b"Caf\\u00e9", b"Caf\xe9"), 400),
    Case("latin1-header-bytes", b"\xff\xfe\xfd", 400),
    Case("empty-body", b"", 400),
    Case("whitespace-body", b"  \n ", 400),
    Case("truncated-json", with_alert()[:-5], 400),
    Case("empty-alerts", with_notification(alerts=[]), 200, check_empty),
]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.pg)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database of each kind for the whole corpus (overrides conftest's fresh one per test).

    Every case must leave it intact for the next, which the cases check.
    """
    if request.param == "sqlite":
        yield copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path_factory.mktemp("bad-input"))
        return
    require(postgres_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    pool = request.getfixturevalue("postgres_pool")
    name = pool.take()
    try:
        yield postgres_url(name)
    finally:
        pool.give_back(name)


@pytest.fixture
async def seeded(post_webhook, db) -> list[dict[str, Any]]:
    """Every alert stored so far, the seed alert included."""
    r = await post_webhook(notification(am_alert("Seed", fingerprint="seed-fp", starts_at=T0)))
    assert r.status_code == 200, r.text
    return db.alerts()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_bad_input(case: Case, client, post_webhook, db, seeded):
    notifications = db.count("notifications")
    r = await post_webhook(case.body)
    assert r.status_code < 500, r.text[:500]
    assert r.status_code == case.status, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    if r.status_code >= 400:
        assert "error" in r.json()
    assert_intact(db, seeded, r.status_code, notifications)
    if case.check is not None:
        await case.check(Context(client, db, r, seeded))
    await assert_still_ingests(post_webhook)


def assert_intact(db: DatabaseProbe, before: list[dict[str, Any]], status: int, notifications: int) -> None:
    after = db.alerts()
    assert after[: len(before)] == before  # what was stored before is unchanged
    if status >= 400:
        assert len(after) == len(before)
        assert db.count("notifications") == notifications


async def assert_still_ingests(post_webhook) -> None:
    """A normal notification with a new alert and the (existing) seed alert."""
    fresh = am_alert("AfterBadInput", starts_at=T0)
    r = await post_webhook(notification(fresh, am_alert("Seed", fingerprint="seed-fp", starts_at=T0)))
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["updated"]) == (1, 1), r.text


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.slow
async def test_ten_thousand_alerts_in_one_payload(client, post_webhook, db, seeded):
    alerts, notifications, links = db.count("alerts"), db.count("notifications"), db.count("alert_notifications")
    r = await post_webhook(encode(many_alerts(10_000)))
    assert r.status_code == 200, r.text[:500]
    assert (r.json()["received"], r.json()["created"]) == (10_000, 10_000)
    assert db.count("alerts") == alerts + 10_000
    assert db.count("notifications") == notifications + 1
    assert db.count("alert_notifications") == links + 10_000
    assert db.scalar("SELECT count(*) FROM alerts WHERE fingerprint LIKE 'bulk%'") == 10_000
    listed = (await client.get("/api/alerts", params={"limit": 1, "q": "host-9999:"})).json()
    assert listed["total"] == 1
    assert_intact(db, seeded, 200, notifications + 1)
    await assert_still_ingests(post_webhook)
