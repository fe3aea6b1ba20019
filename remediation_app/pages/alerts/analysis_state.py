"""The state of the alert page's LLM analysis section (the view is analysis.py): queue state, the
latest analysis, earlier ones, the provider choice, Analyze.

AlertPageState's live refresh loads it (`load_analysis_panel` in its database session, `_show`
under its lock), so job changes the worker announces appear without a reload, the latest analysis'
evidence with them (evidence_state.py). The Analyze button
asks services.jobs as the logged-in user (checked on the server at every click).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Analysis, AnalysisJob, JobStatus
from remediation_app.pages.alerts.evidence_state import InvestigationView, cited, investigated, load_investigation
from remediation_app.services.auth import Forbidden
from remediation_app.services.events import bus
from remediation_app.services.llm import costs, jobs, providers
from remediation_app.state import UNAVAILABLE, ProviderChoiceState, refusal, route_alert_id, session_user

SHOWN_ANALYSES = 21  # the latest and up to 20 earlier ones


@dataclasses.dataclass
class ActionView:
    description: str = ""
    command: str = ""
    risk: str = ""


@dataclasses.dataclass
class AnalysisView:
    id: str = ""
    structured: bool = False
    urgency: str = ""
    confidence: str = ""
    needs_human: bool = False
    root_cause: str = ""
    # Made by an investigation: the root cause's citations are shown (none cited: "unsupported").
    investigated: bool = False
    cites: list[str] = dataclasses.field(default_factory=list)
    linked: bool = False  # the cited evidence is on the page (the latest analysis)
    inconclusive: bool = False
    impact: str = ""
    actions: list[ActionView] = dataclasses.field(default_factory=list)
    remediation_steps: list[str] = dataclasses.field(default_factory=list)
    prevention: list[str] = dataclasses.field(default_factory=list)
    raw_text: str = ""
    provider: str = ""
    tokens: str = ""
    cost: str = ""
    latency: str = ""
    requested_by: str = ""
    created_at: str = ""
    # Set for a group analysis (storm control): it covers every alert of this incident.
    incident_id: str = ""


@dataclasses.dataclass
class AnalysisPanel:
    """Everything the section shows, loaded outside the state lock."""

    configured: bool = False
    analyses: list[AnalysisView] = dataclasses.field(default_factory=list)
    queue_kind: str = ""
    queue_message: str = ""
    next_attempt_at: str = ""
    running: bool = False
    choices: list[dict[str, str]] = dataclasses.field(default_factory=list)
    default_choice: str = ""
    investigation: InvestigationView = dataclasses.field(default_factory=InvestigationView)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def tokens_text(prompt_tokens: int | None, completion_tokens: int | None, *, unknown: str = "unknown") -> str:
    """ "120 in, 30 out", or `unknown` when the provider reported neither."""
    if prompt_tokens is None and completion_tokens is None:
        return unknown
    return f"{prompt_tokens or 0} in, {completion_tokens or 0} out"


def cost_text(cost_usd: float | None) -> str:
    return f"${cost_usd:.6f}" if cost_usd is not None else "unknown"


def _texts(value: Any) -> list[str]:
    return [str(v) for v in value if v is not None] if isinstance(value, list) else []


def _actions(value: Any) -> list[ActionView]:
    if not isinstance(value, list):
        return []
    return [
        ActionView(_text(a.get("description")), _text(a.get("command")), _text(a.get("risk")).lower())
        for a in value
        if isinstance(a, dict)
    ]


def analysis_view(a: Analysis) -> AnalysisView:
    result = a.result if isinstance(a.result, dict) else {}
    confidence = result.get("confidence")
    return AnalysisView(
        id=str(a.id),
        structured=a.structured,
        urgency=a.urgency.upper(),
        confidence=f"{round(float(confidence) * 100)}%" if isinstance(confidence, int | float) else "",
        needs_human=result.get("needs_human") is True,
        root_cause=_text(result.get("root_cause")),
        investigated=investigated(a),
        cites=cited(result.get("root_cause_evidence")),
        inconclusive=result.get("inconclusive") is True,
        impact=_text(result.get("impact")),
        actions=_actions(result.get("immediate_actions")),
        remediation_steps=_texts(result.get("remediation_steps")),
        prevention=_texts(result.get("prevention")),
        raw_text=a.raw_text,
        provider=f"{a.provider_name} ({a.model})" if a.provider_name else a.model,
        tokens=tokens_text(a.prompt_tokens, a.completion_tokens),
        cost=cost_text(a.cost_usd),
        latency=f"{a.latency_ms} ms",
        requested_by=a.requested_by,
        created_at=a.created_at.isoformat(),
        incident_id=str(a.incident_id or ""),
    )


def queue_state(job: AnalysisJob | None, budget_reached: bool) -> tuple[str, str]:
    """(kind, message) for the latest job; ("", "") when there is nothing to say (done, or none)."""
    if job is None or job.status == JobStatus.SUCCEEDED.value:
        return "", ""
    attempts = f"attempt {job.attempts} of {job.max_attempts}"
    if job.status == JobStatus.RUNNING.value:
        return "running", f"Running ({attempts})."
    if job.status == JobStatus.FAILED.value:
        return "failed", f"The analysis failed after {job.attempts} attempt(s): {job.last_error}"
    if job.status == JobStatus.CANCELLED.value:
        return "cancelled", f"Cancelled: {job.last_error or 'no reason recorded'}"
    if job.last_error:
        return "retrying", f"Retrying: {attempts} failed: {job.last_error}"
    if job.automatic and budget_reached:
        return "waiting", "Queued, waiting: automatic analysis paused, daily budget reached."
    who = job.requested_by.removeprefix("user:").removeprefix("rule:")
    return "queued", f"Queued (asked by {who})." if job.requested_by.startswith("user:") else "Queued (automatic)."


async def load_analysis_panel(session: AsyncSession, alert_id: int) -> AnalysisPanel:
    job = await jobs.latest_job(session, alert_id)
    budget_reached = (await costs.spend(session)).budget_reached if job is not None and job.automatic else False
    kind, message = queue_state(job, budget_reached)
    choices, default_choice = await providers.provider_choices(session)
    rows = await jobs.analyses_for(session, alert_id, limit=SHOWN_ANALYSES)
    views = [analysis_view(a) for a in rows]
    investigation = await load_investigation(session, rows[0] if rows else None)
    if views and investigation.evidence:
        views[0].linked = True
    return AnalysisPanel(
        configured=await providers.any_provider(session),
        analyses=views,
        queue_kind=kind,
        queue_message=message,
        next_attempt_at=job.next_attempt_at.isoformat() if job is not None and kind == "retrying" else "",
        running=job is not None and job.status == JobStatus.RUNNING.value,
        choices=choices,
        default_choice=default_choice,
        investigation=investigation,
    )


class AlertAnalysisState(ProviderChoiceState, rx.State):
    loaded: bool = False
    configured: bool = False
    analyses: list[AnalysisView] = []
    queue_kind: str = ""
    queue_message: str = ""
    next_attempt_at: str = ""
    running: bool = False
    refused: str = ""
    investigation: InvestigationView = InvestigationView()
    # Which alert the section shows (so that another alert in this tab never shows its analyses).
    _shown_alert: int = 0

    @rx.var
    def latest(self) -> list[AnalysisView]:
        return self.analyses[:1]

    @rx.var
    def earlier(self) -> list[AnalysisView]:
        return self.analyses[1:]

    def _forget(self) -> None:
        self.loaded, self.configured, self.analyses, self.running = False, False, [], False
        self.queue_kind = self.queue_message = self.next_attempt_at = self.choice = self.refused = ""
        self.choices, self._shown_alert = [], 0
        self.investigation = InvestigationView()

    def _forget_unless(self, alert_id: int) -> None:
        if self._shown_alert != alert_id:
            self._forget()

    def _show(self, alert_id: int, panel: AnalysisPanel) -> None:
        self._forget_unless(alert_id)
        self._shown_alert, self.loaded, self.configured = alert_id, True, panel.configured
        self.analyses, self.running = panel.analyses, panel.running
        self.queue_kind, self.queue_message = panel.queue_kind, panel.queue_message
        self.next_attempt_at = panel.next_attempt_at
        self.investigation = panel.investigation
        self._show_choices(panel.choices, panel.default_choice)

    @rx.event
    async def analyze(self):
        try:
            user = await session_user(self)
        except Forbidden:
            self._forget()
            return await refusal(self)
        alert_id = route_alert_id(self)
        if not alert_id:
            self.refused = "No such alert."
            return None
        try:
            async with async_session() as session:
                await jobs.request_analysis(session, alert_id, user=user, provider_id=self._provider_id())
                await session.commit()
                panel = await load_analysis_panel(session, alert_id)
        except (jobs.AnalysisRefused, DecryptionError) as exc:  # neither message holds a key
            self.refused = str(exc)
            return None
        except TRANSIENT_DB_ERRORS:
            self.refused = UNAVAILABLE
            return None
        self.refused = ""
        self._show(alert_id, panel)
        await bus.publish(jobs.JOBS_TOPIC, queued=1)  # wakes the workers
        await bus.publish(jobs.ANALYSIS_TOPIC, ids=[alert_id], count=1)  # other tabs on this alert
        return None
