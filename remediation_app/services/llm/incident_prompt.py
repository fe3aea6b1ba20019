"""What a group analysis (storm control) tells the model about its incident: the group and its alerts,
bounded. Alert text is untrusted: it goes into the prompt only through `quote_json` (prompts.py), as
the single alert does, and the whole prompt is redacted before it leaves (investigation/run.py).

At most PROMPT_ALERTS alerts are listed (firing first, then most severe, then earliest), each with
its short fields and up to LABELS_MAX other labels, within DATA_BUDGET characters of JSON (about
7,000 tokens); the rest are counted (`alerts_not_listed`), so the model knows the list is partial.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert
from remediation_app.services.alerts.incidents import get_incident, incident_alerts
from remediation_app.services.llm.prompts import GROUP_DATA_MAX
from remediation_app.services.records import isoformat

PROMPT_ALERTS = 50
LABELS_MAX = 15
VALUE_MAX = 120
SUMMARY_MAX = 200
# The incident's block may hold up to GROUP_DATA_MAX characters (prompts/analysis_user.j2 quotes it
# with that limit); its alerts stay within DATA_BUDGET so that the JSON is never cut mid-way: fewer
# alerts are listed instead.
DATA_BUDGET = GROUP_DATA_MAX - 4_000
_SHOWN_APART = ("alertname", "severity", "instance", "job")


def _cut(value: object, limit: int = VALUE_MAX) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def alert_brief(alert: Alert) -> dict[str, Any]:
    """One alert of the group, each value bounded."""
    labels = sorted((k, v) for k, v in alert.labels.items() if k not in _SHOWN_APART)
    return {
        "alertname": _cut(alert.alertname),
        "status": alert.status,
        "severity": _cut(alert.severity),
        "instance": _cut(alert.instance),
        "job": _cut(alert.job),
        "starts_at": alert.starts_at.isoformat(),
        "ends_at": isoformat(alert.ends_at),
        "summary": _cut(alert.summary, SUMMARY_MAX),
        "labels": {_cut(k, 100): _cut(v) for k, v in labels[:LABELS_MAX]},
    }


def _within_budget(briefs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept, size = [], 0
    for brief in briefs:
        size += len(json.dumps(brief, ensure_ascii=False)) + 2
        if size > DATA_BUDGET:
            break
        kept.append(brief)
    return kept


async def incident_data(session: AsyncSession, incident_id: int) -> dict[str, Any] | None:
    """The incident as the prompt quotes it, or None when it is gone."""
    incident = await get_incident(session, incident_id)
    if incident is None:
        return None
    alerts = await incident_alerts(session, incident_id, limit=PROMPT_ALERTS)
    briefs = _within_budget([alert_brief(a) for a in alerts])
    return {
        "title": _cut(incident.title),
        "group_labels": {_cut(k, 100): _cut(v) for k, v in sorted(incident.group_labels.items())[:LABELS_MAX]},
        "status": incident.status,
        "alert_count": incident.alert_count,
        "firing_count": incident.firing_count,
        "opened_at": incident.opened_at.isoformat(),
        "alerts": briefs,
        "alerts_not_listed": max(0, incident.alert_count - len(briefs)),
    }
