"""What the alert page and the dashboard make of jobs, analyses and spend (no browser)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from reflex.state import State

from remediation_app.db import async_session, dispose_engines
from remediation_app.models import Analysis, AnalysisJob, utcnow
from remediation_app.pages.alerts.analysis_state import analysis_view, queue_state
from remediation_app.pages.alerts.dashboard_state import AlertsState
from remediation_app.services.alertmanager.payload import NotificationIn
from remediation_app.services.alerts.ingest import receive_notification
from tests.support.databases import copy_sqlite
from tests.support.payloads import am_alert, notification


def job(status: str, **fields: object) -> AnalysisJob:
    values: dict[str, object] = {
        "alert_id": 1,
        "fingerprint": "f",
        "status": status,
        "attempts": 1,
        "max_attempts": 3,
        "automatic": True,
        "requested_by": "rule:Critical",
        **fields,
    }
    return AnalysisJob(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("job_", "budget_reached", "expected"),
    [
        (None, False, ("", "")),
        (job("succeeded"), False, ("", "")),
        (job("pending", attempts=0), False, ("queued", "Queued (automatic).")),
        (
            job("pending", attempts=0),
            True,
            ("waiting", "Queued, waiting: automatic analysis paused, daily budget reached."),
        ),
        (
            job("pending", attempts=0, automatic=False, requested_by="user:ann"),
            True,
            ("queued", "Queued (asked by ann)."),
        ),
        (job("running", attempts=2), False, ("running", "Running (attempt 2 of 3).")),
        (
            job("pending", last_error="Timeout: no answer"),
            False,
            ("retrying", "Retrying: attempt 1 of 3 failed: Timeout: no answer"),
        ),
        (
            job("failed", attempts=3, last_error="AuthenticationError: bad key"),
            False,
            ("failed", "The analysis failed after 3 attempt(s): AuthenticationError: bad key"),
        ),
        (job("cancelled", last_error="the alert resolved"), False, ("cancelled", "Cancelled: the alert resolved")),
    ],
)
def test_queue_state(job_: AnalysisJob | None, budget_reached: bool, expected: tuple[str, str]) -> None:
    assert queue_state(job_, budget_reached) == expected


def test_analysis_view_formats_and_tolerates_odd_results() -> None:
    analysis = Analysis(
        id=4,
        alert_id=1,
        provider_name="prod",
        model="openai/gpt-4o-mini",
        structured=True,
        urgency="high",
        result={
            "root_cause": "disk",
            "immediate_actions": [{"description": "look", "command": "df -h", "risk": "LOW"}, "not an action"],
            "remediation_steps": ["a", None, 3],
            "prevention": "not a list",
            "confidence": 0.756,
            "needs_human": "yes",  # only a real true counts
        },
        prompt_tokens=10,
        completion_tokens=None,
        cost_usd=None,
        latency_ms=12,
        requested_by="user:ann",
        created_at=utcnow(),
    )
    view = analysis_view(analysis)
    assert (view.urgency, view.confidence, view.needs_human) == ("HIGH", "76%", False)
    assert [(a.description, a.command, a.risk) for a in view.actions] == [("look", "df -h", "low")]
    assert view.remediation_steps == ["a", "3"] and view.prevention == []
    assert (view.provider, view.tokens, view.cost, view.latency) == (
        "prod (openai/gpt-4o-mini)",
        "10 in, 0 out",
        "unknown",
        "12 ms",
    )


@pytest.fixture
def database_url(sqlite_template: str, tmp_path: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path)


@pytest.mark.anyio
async def test_dashboard_spend_and_budget(app_settings: str, app_env: Callable[..., None]) -> None:
    result = await receive_notification(NotificationIn.model_validate(notification(am_alert("SpendCheck"))))
    async with async_session() as session:
        for cost, age in ((0.004, timedelta()), (0.002, timedelta(minutes=1)), (None, timedelta(minutes=2))):
            session.add(
                Analysis(
                    alert_id=result.alert_ids[0],
                    model="m",
                    prompt_tokens=100,
                    completion_tokens=20,
                    cost_usd=cost,
                    created_at=utcnow() - age,
                )
            )
        await session.commit()
    root = State(_reflex_internal_init=True)
    page = root.get_substate(AlertsState.get_full_name().split("."))
    await page._load_spend()
    assert page.spend["today_usd"] == "$0.0060" and page.spend["analyses_today"] == "3"
    assert page.spend["today_tokens"] == "360" and page.spend["budget"] == "" and not page.budget_reached
    app_env(LLM_DAILY_BUDGET_USD="0.005")
    await page._load_spend()
    assert page.budget_reached and page.spend["budget"] == "$0.0050"
    await dispose_engines()
