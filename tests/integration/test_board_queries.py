"""The board's queries (services/alerts: filters, counts, store.list_alerts) on SQLite and PostgreSQL:
the default order and every sort key with stable pages, label matchers, the Alertmanager-state
filter and the grouped counts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from remediation_app.db import async_session, dispose_engines
from remediation_app.models import Alert
from remediation_app.services.alertmanager.payload import NotificationIn
from remediation_app.services.alerts import filters
from remediation_app.services.alerts.counts import alert_counts
from remediation_app.services.alerts.filters import AlertFilter, MatcherError, parse_matchers
from remediation_app.services.alerts.ingest import receive_notification
from remediation_app.services.alerts.store import list_alerts
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# name, status, severity, labels; each starts a minute after the one before.
CORPUS: list[tuple[str, str, str, dict[str, str]]] = [
    ("BoardDisk", "firing", "critical", {"team": "storage", "env": "prod"}),
    ("BoardCpu", "firing", "warning", {"team": "compute"}),
    ("BoardMem", "resolved", "critical", {"team": "storage"}),
    ("BoardNet", "firing", "info", {}),
    ("BoardOdd", "firing", "page", {"team": "Storage-eu"}),
    ("BoardErr", "firing", "error", {"team": "db"}),
    ("BoardWarn", "resolved", "warning", {"team": "storage"}),
]
BOARD_ORDER = ["BoardDisk", "BoardErr", "BoardCpu", "BoardNet", "BoardOdd", "BoardMem", "BoardWarn"]


def _alert(i: int, name: str, status: str, severity: str, labels: dict[str, str]) -> dict[str, Any]:
    start = T0 + timedelta(minutes=i)
    ends = (start + timedelta(seconds=30)).isoformat() if status == "resolved" else "0001-01-01T00:00:00Z"
    return am_alert(
        name, status=status, severity=severity, labels=labels, fingerprint=f"fp{i}", starts_at=start.isoformat()
    ) | {"endsAt": ends}


@pytest.fixture
async def corpus(app_settings: str) -> Any:
    for i, row in enumerate(CORPUS):
        await receive_notification(NotificationIn.model_validate(notification(_alert(i, *row))))
    # BoardCpu notified twice; Alertmanager's view of three of them.
    await receive_notification(NotificationIn.model_validate(notification(_alert(1, *CORPUS[1]))))
    async with async_session() as session:
        alerts = {a.alertname: a for a in (await session.exec(select(Alert))).all()}
        alerts["BoardDisk"].am_silenced_by = ["silence-1"]
        alerts["BoardCpu"].acked_by = "bob"
        alerts["BoardErr"].am_inhibited_by = ["fp-other"]
        session.add_all(alerts.values())
        await session.commit()
    yield
    await dispose_engines()


async def names(flt: AlertFilter = AlertFilter(), sort: str = "", limit: int = 50, offset: int = 0) -> list[str]:
    async with async_session() as session:
        alerts, _total = await list_alerts(session, flt, sort=sort, limit=limit, offset=offset)
    return [a.alertname for a in alerts]


def labels(*texts: str) -> AlertFilter:
    return AlertFilter(labels=parse_matchers(texts))


async def test_order_sort_keys_and_stable_pages(corpus: None) -> None:
    assert await names() == BOARD_ORDER
    assert await names(sort="-age") == [row[0] for row in CORPUS]  # oldest first
    assert await names(sort="age") == [row[0] for row in reversed(CORPUS)]
    assert await names(sort="alertname") == sorted(BOARD_ORDER)
    assert await names(sort="-alertname") == sorted(BOARD_ORDER, reverse=True)
    # Ties keep the board's order: the firing warning before the resolved one.
    assert await names(sort="severity") == [
        "BoardOdd",
        "BoardNet",
        "BoardCpu",
        "BoardWarn",
        "BoardErr",
        "BoardDisk",
        "BoardMem",
    ]
    assert await names(sort="-status") == BOARD_ORDER
    assert (await names(sort="status"))[:2] == ["BoardMem", "BoardWarn"]
    assert (await names(sort="-notified"))[0] == "BoardCpu"
    assert (await names(sort="-activity"))[0] == "BoardCpu"  # the API's order: redelivered last
    assert await names(sort="nonsense") == BOARD_ORDER
    for sort in ("", "alertname", "-severity", "job"):  # equal jobs: the id decides, pages never overlap
        whole = await names(sort=sort)
        pages = [await names(sort=sort, limit=2, offset=o) for o in range(0, 8, 2)]
        assert [n for p in pages for n in p] == whole


async def test_severity_other_and_alertmanager_states(corpus: None) -> None:
    assert await names(AlertFilter(severity="other")) == ["BoardOdd"]
    assert await names(AlertFilter(severity="CRITICAL")) == ["BoardDisk", "BoardMem"]
    assert await names(AlertFilter(am="silenced")) == ["BoardDisk"]
    assert await names(AlertFilter(am="acked")) == ["BoardCpu"]
    assert await names(AlertFilter(am="inhibited")) == ["BoardErr"]
    assert await names(AlertFilter(am="active", status="firing")) == ["BoardNet", "BoardOdd"]


# (matchers, what they leave in the board's order); one database for all of them (suite time).
LABEL_CASES: list[tuple[list[str], list[str]]] = [
    (["team=storage"], ["BoardDisk", "BoardMem", "BoardWarn"]),  # exact: not Storage-eu
    (['team="storage"'], ["BoardDisk", "BoardMem", "BoardWarn"]),
    (["team!=storage"], ["BoardErr", "BoardCpu", "BoardNet", "BoardOdd"]),  # a missing label is ""
    (["team="], ["BoardNet"]),
    (["team=~stor.*"], ["BoardDisk", "BoardOdd", "BoardMem", "BoardWarn"]),  # anchored, any case
    (["team!~stor.*"], ["BoardErr", "BoardCpu", "BoardNet"]),
    (["team=~stor"], []),  # anchored: the whole value
    (["team=~(storage|db){1,2}"], ["BoardDisk", "BoardErr", "BoardMem", "BoardWarn"]),  # a comma inside
    (["team=~stor.*, env=prod"], ["BoardDisk"]),
    (["team=~stor.*", "env!=prod"], ["BoardOdd", "BoardMem", "BoardWarn"]),  # repeated
    (["nosuchlabel=~.*"], BOARD_ORDER),
    (["team=~nothing.*"], []),
    (["team!~nothing.*"], BOARD_ORDER),
]


async def test_label_matchers(corpus: None) -> None:
    for texts, expected in LABEL_CASES:
        assert await names(labels(*texts)) == expected, texts


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("team", "write name=value"),
        ("=storage", "write name=value"),
        ("1team=x", "write name=value"),
        ("team=~(", "invalid regular expression"),
        ("team=~(?=x)", "RE2 does not support"),
        ("team=" + "x" * 400, "longer than"),
        (",".join(f"l{i}=x" for i in range(9)), "at most 8"),
    ],
)
def test_bad_matchers_are_refused(text: str, why: str) -> None:
    with pytest.raises(MatcherError, match=why.replace("(", r"\(")):
        parse_matchers([text])


async def test_a_regex_over_too_many_values_is_refused(corpus: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filters, "MAX_REGEX_CANDIDATES", 2)
    with pytest.raises(MatcherError, match="more than 2 values"):
        await names(labels("team=~.*"))
    # The other filters narrow the candidates first: among the resolved alerts team has one value.
    assert await names(dataclasses.replace(labels("team=~s.*"), status="resolved")) == ["BoardMem", "BoardWarn"]


async def test_counts_in_one_query(corpus: None) -> None:
    async with async_session() as session:
        counts = (await alert_counts(session, AlertFilter())).flat()
        # The status, severity and state picked do not change them; the other filters do.
        picked = (await alert_counts(session, AlertFilter(status="resolved", severity="info", am="acked"))).flat()
        storage = (await alert_counts(session, labels("team=storage"))).flat()
        ids = (await session.exec(select(Alert.id).where(col(Alert.alertname).like("Board%")))).all()
    assert len(ids) == len(CORPUS)
    expected = {f"{s}:{b}": 0 for s in ("firing", "resolved") for b in filters.SEVERITY_BUCKETS}
    expected |= {"firing:critical": 1, "firing:error": 1, "firing:warning": 1, "firing:info": 1, "firing:other": 1}
    expected |= {"resolved:critical": 1, "resolved:warning": 1, "firing": 5, "resolved": 2}
    expected |= {"silenced": 1, "inhibited": 1, "acked": 1, "active": 2}
    assert counts == expected
    assert picked == expected
    assert storage["firing:critical"] == 1 and storage["resolved"] == 2 and storage["firing"] == 1
    assert storage["silenced"] == 1 and storage["active"] == 0


async def test_the_api_sorts_and_filters_by_label(corpus: None, client: Any) -> None:
    async def listed(**params: Any) -> Any:
        return await client.get("/api/alerts", params=params)

    r = await listed(label=["team=~stor.*", "env!=prod"], sort="alertname")
    assert r.status_code == 200, r.text
    assert [a["alertname"] for a in r.json()["items"]] == ["BoardMem", "BoardOdd", "BoardWarn"]
    assert r.json()["total"] == 3
    r = await listed(sort="")
    assert [a["alertname"] for a in r.json()["items"]] == BOARD_ORDER
    assert (await listed()).json()["items"][0]["alertname"] == "BoardCpu"  # by default newest activity first
    for params, field in (
        ({"sort": "password"}, "sort"),
        ({"label": "team"}, "label"),
        ({"label": "team=~("}, "label"),
        ({"label": "x=" + "y" * 3000}, "label"),
        ({"label": [f"l{i}=x" for i in range(9)]}, None),  # more than 8: refused by the query's bound
    ):
        r = await listed(**params)
        assert r.status_code == 422, (params, r.text)
        if field:
            assert r.json()["field"] == field
