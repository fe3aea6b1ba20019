"""A delivery's message, read from what it is about as it is now (the alert, its analysis, the
proposal), with links back to the alert page (PUBLIC_URL). What the event's rows hold is untrusted
text: messages.py escapes it for each target."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert, Analysis, DiagnosticProposal, ProposalStatus
from remediation_app.services.notify import events
from remediation_app.services.notify.messages import Message, first_sentence
from remediation_app.services.notify.queue import ClaimedDelivery, summarized
from remediation_app.settings import get_settings

NO_PUBLIC_URL = "Set PUBLIC_URL for a link to the alert page"


def alert_url(alert_id: int, anchor: str = "") -> str | None:
    """PUBLIC_URL/alerts/<id>[#anchor], or None when PUBLIC_URL is unset."""
    base = (get_settings().public_url or "").strip().rstrip("/")
    return f"{base}/alerts/{alert_id}{'#' + anchor if anchor else ''}" if base else None


def _links(alert_id: int, text: str = "Open the alert", anchor: str = "") -> dict[str, Any]:
    url = alert_url(alert_id, anchor)
    if url is None:
        return {"notes": (f"{NO_PUBLIC_URL} (alert #{alert_id}).",)}
    return {"links": ((text, url),)}


def _alert_fields(alert: Alert) -> tuple[tuple[str, str], ...]:
    return (("Alert", alert.alertname), ("Severity", alert.severity), ("Instance", alert.instance))


def _where(alert: Alert) -> str:
    return f"{alert.alertname or 'alert'}" + (f" on {alert.instance}" if alert.instance else "")


def alert_message(alert: Alert) -> Message:
    severity = f"[{alert.severity}] " if alert.severity else ""
    return Message(
        headline=f"{severity}{_where(alert)} is firing",
        fields=(*_alert_fields(alert), ("Summary", alert.summary), ("Rule", alert.matched_rule_name)),
        kind="failure" if alert.severity in ("critical", "error", "page") else "warning",
        **_links(alert.id or 0),
    )


def _confidence(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return f"{round(value * 100)}%"
    return ""


def _cost(value: float | None) -> str:
    return "not known" if value is None else f"${value:.4f}"


def analysis_message(alert: Alert, analysis: Analysis) -> Message:
    result = analysis.result or {}
    root_cause = first_sentence(result.get("root_cause") or "") or "(no structured answer: see the alert page)"
    return Message(
        headline=f"Analysis ready: {_where(alert)}",
        fields=(
            *_alert_fields(alert),
            ("Root cause", root_cause),
            ("Urgency", analysis.urgency or ""),
            ("Confidence", _confidence(result.get("confidence"))),
            ("Cost", _cost(analysis.cost_usd)),
        ),
        kind="info",
        **_links(alert.id or 0),
    )


def proposal_message(alert: Alert, proposal: DiagnosticProposal) -> Message:
    expires = proposal.expires_at.strftime("%Y-%m-%d %H:%M UTC") if proposal.expires_at else ""
    return Message(
        headline=f"Approval needed: a command for {proposal.server_name} ({_where(alert)})",
        fields=(
            *_alert_fields(alert),
            ("Server", proposal.server_name),
            ("Command", proposal.command),
            ("Reason", proposal.reason),
            ("Expires", expires),
        ),
        kind="warning",
        **_links(alert.id or 0, "Review and approve (after login)", "proposals"),
    )


def fix_message(alert: Alert, *, verified: bool, detail: str) -> Message:
    return Message(
        headline=f"Fix {'verified' if verified else 'failed'}: {_where(alert)}",
        fields=(*_alert_fields(alert), ("Finding", detail)),
        kind="success" if verified else "failure",
        **_links(alert.id or 0),
    )


async def summary_message(session: AsyncSession, delivery: ClaimedDelivery, throttle: tuple[int, int]) -> Message:
    counts, first = await summarized(session, delivery)
    total = sum(counts.values())
    names: dict[int, str] = {}
    for _, alert_id in first:
        alert = await session.get(Alert, alert_id) if alert_id else None
        if alert is not None:
            names[alert_id] = _where(alert)
    fields = [(events.EVENT_LABELS.get(event, event), str(count)) for event, count in sorted(counts.items())]
    fields += [
        (events.EVENT_LABELS.get(event, event), names[alert_id]) for event, alert_id in first if alert_id in names
    ]
    base = (get_settings().public_url or "").strip().rstrip("/")
    return Message(
        headline=f"{total} notification{'s' if total != 1 else ''} held back by the throttle",
        fields=tuple(fields),
        notes=(
            f"Route {delivery.route_name}: at most {throttle[0]} messages per {throttle[1]} minutes; the first "
            f"{len(names)} alerts are listed.",
        ),
        kind="warning",
        links=(("Open the dashboard", f"{base}/"),) if base else (),
    )


async def compose(session: AsyncSession, delivery: ClaimedDelivery, throttle: tuple[int, int]) -> Message | str:
    """The delivery's message, or why there is nothing to send any more (it is then cancelled)."""
    if delivery.event == events.SUMMARY:
        return await summary_message(session, delivery, throttle)
    alert = await session.get(Alert, delivery.alert_id) if delivery.alert_id is not None else None
    if alert is None:
        return "the alert was deleted"
    if delivery.event == events.ALERT:
        return alert_message(alert)
    if delivery.event == events.ANALYSIS:
        analysis = await session.get(Analysis, delivery.subject_id) if delivery.subject_id else None
        return "the analysis was deleted" if analysis is None else analysis_message(alert, analysis)
    if delivery.event == events.PROPOSAL:
        proposal = await session.get(DiagnosticProposal, delivery.subject_id) if delivery.subject_id else None
        if proposal is None:
            return "the proposal was deleted"
        if proposal.status != ProposalStatus.PENDING.value:
            return f"the proposal no longer waits for approval ({proposal.status})"
        return proposal_message(alert, proposal)
    if delivery.event in (events.FIX_VERIFIED, events.FIX_FAILED):
        detail = str(delivery.data.get("detail", ""))
        return fix_message(alert, verified=delivery.event == events.FIX_VERIFIED, detail=detail)
    return f"unknown event {delivery.event!r}"


def test_message(route_name: str) -> Message:
    """What "Send test" sends."""
    url = alert_url(0)
    return Message(
        headline="Test notification from Remediation Engine",
        fields=(("Route", route_name),),
        notes=("If you can read this, the route works.",),
        links=(("Open Remediation Engine", url.rsplit("/alerts/", 1)[0] + "/"),) if url else (),
    )
