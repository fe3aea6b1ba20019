"""GET /api/alerts: each item's analysis state (latest job, latest urgency), the `analysis=` filter, and
a page's constant query count; on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, get_args

import pytest
import sqlalchemy as sa
from sqlmodel import select

from remediation_app.api.alerts import AnalysisFilter
from remediation_app.db import async_engine, async_session
from remediation_app.models import Alert, Analysis, AnalysisJob, JobStatus, utcnow
from remediation_app.services.alerts.store import ANALYSIS_FILTERS
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio


async def add_alerts(post_webhook: Any, *names: str) -> dict[str, int]:
    """Warning alerts (rule action manual: no automatic job), in order; name -> id."""
    for name in names:
        r = await post_webhook(notification(am_alert(name, severity="warning")))
        assert r.status_code == 200, r.text
    async with async_session() as session:
        rows = await session.exec(select(Alert.alertname, Alert.id))
        return {name: int(alert_id) for name, alert_id in rows.all() if alert_id is not None}


async def add_job(alert_id: int, status: JobStatus, *urgencies: str) -> None:
    """A job in `status`, with one stored analysis per urgency ("" for an unstructured answer)."""
    now = utcnow()
    async with async_session() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None
        job = AnalysisJob(
            alert_id=alert_id,
            fingerprint=alert.fingerprint,
            status=status.value,
            requested_by="user:test",
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
            finished_at=None if status.value in ("pending", "running") else now,
        )
        session.add(job)
        await session.flush()
        for i, urgency in enumerate(urgencies):
            session.add(
                Analysis(
                    alert_id=alert_id,
                    job_id=job.id,
                    urgency=urgency,
                    raw_text="{}",
                    created_at=now + timedelta(seconds=i),
                )
            )
        await session.commit()


async def states(client: Any, **params: Any) -> dict[str, dict[str, Any]]:
    r = await client.get("/api/alerts", params=params)
    assert r.status_code == 200, r.text
    return {item["alertname"]: item["analysis"] for item in r.json()["items"]}


@pytest.fixture
async def corpus(post_webhook: Any) -> dict[str, int]:
    ids = await add_alerts(
        post_webhook, "Never", "Queued", "Running", "Failed", "Cancelled", "Done", "Twice", "Prose", "Again"
    )
    await add_job(ids["Queued"], JobStatus.PENDING)
    await add_job(ids["Running"], JobStatus.RUNNING)
    await add_job(ids["Failed"], JobStatus.FAILED)
    await add_job(ids["Cancelled"], JobStatus.CANCELLED)
    await add_job(ids["Done"], JobStatus.SUCCEEDED, "HIGH")
    await add_job(ids["Twice"], JobStatus.SUCCEEDED, "LOW")
    await add_job(ids["Twice"], JobStatus.SUCCEEDED, "CRITICAL")  # the newer analysis counts
    await add_job(ids["Prose"], JobStatus.SUCCEEDED, "")  # unparsed answer: no urgency
    await add_job(ids["Again"], JobStatus.SUCCEEDED, "MEDIUM")
    await add_job(ids["Again"], JobStatus.FAILED)  # a re-analysis failed: the last urgency stays
    return ids


EXPECTED = {
    "Never": {"status": "none", "urgency": None},
    "Queued": {"status": "queued", "urgency": None},
    "Running": {"status": "running", "urgency": None},
    "Failed": {"status": "failed", "urgency": None},
    "Cancelled": {"status": "cancelled", "urgency": None},
    "Done": {"status": "done", "urgency": "HIGH"},
    "Twice": {"status": "done", "urgency": "CRITICAL"},
    "Prose": {"status": "done", "urgency": None},
    "Again": {"status": "failed", "urgency": "MEDIUM"},
}


async def test_each_item_carries_its_analysis_state(client, corpus):
    assert await states(client) == EXPECTED
    # Paged: the state belongs to the page's alerts, not to the first rows of the jobs table.
    assert await states(client, limit=2, offset=1) == {name: EXPECTED[name] for name in ("Prose", "Twice")}


async def test_the_state_follows_the_queue(client, post_webhook):
    ids = await add_alerts(post_webhook, "Life")
    assert (await states(client))["Life"] == {"status": "none", "urgency": None}
    await add_job(ids["Life"], JobStatus.PENDING)
    assert (await states(client))["Life"] == {"status": "queued", "urgency": None}
    async with async_session() as session:
        await session.exec(sa.update(AnalysisJob).values(status="running"))  # type: ignore[call-overload]
        await session.commit()
    assert (await states(client))["Life"] == {"status": "running", "urgency": None}


def filtered(state: str) -> list[str]:
    return sorted(name for name, value in EXPECTED.items() if value["status"] == state)


async def test_analysis_filter(client, corpus):
    assert set(get_args(AnalysisFilter)) == set(ANALYSIS_FILTERS)
    for state in ANALYSIS_FILTERS:
        r = await client.get("/api/alerts", params={"analysis": state})
        assert r.status_code == 200, r.text
        body = r.json()
        assert sorted(item["alertname"] for item in body["items"]) == filtered(state), state
        assert body["total"] == len(filtered(state)), state
        assert all(item["analysis"]["status"] == state for item in body["items"]), state
    assert sorted(await states(client, analysis="failed", q="again")) == ["Again"]
    for bad in ("pending", "succeeded", "HIGH", ""):
        r = await client.get("/api/alerts", params={"analysis": bad})
        assert r.status_code == 422, (bad, r.text)


@contextlib.contextmanager
def counting_statements() -> Iterator[list[str]]:
    engine = async_engine().sync_engine
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


async def test_a_page_costs_the_same_queries_whatever_its_size(client, post_webhook):
    names = [f"Load{i}" for i in range(12)]
    ids = await add_alerts(post_webhook, *names)
    for i, name in enumerate(names):
        await add_job(ids[name], JobStatus.SUCCEEDED if i % 2 else JobStatus.FAILED, "HIGH")
    counts = {}
    for limit in (1, 5, 12):
        with counting_statements() as statements:
            r = await client.get("/api/alerts", params={"limit": limit})
        assert r.status_code == 200 and len(r.json()["items"]) == limit
        counts[limit] = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(counts[1]) == len(counts[5]) == len(counts[12]), counts
    reading = [s for s in counts[12] if "analysis_jobs" in s or "analyses" in s]
    assert len(reading) == 2, reading  # one for the latest jobs, one for the latest analyses
