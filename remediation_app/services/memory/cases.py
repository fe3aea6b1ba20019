"""Labelled cases for the evaluation harness (issue #18): each recorded outcome with its alert as the
model was given it and the analysis it judged, with that analysis' evidence as recorded.

    [
      {
        "outcome": {...},            # outcome_public(): verdict (the label), root_cause, fix, commands,
                                     # tags, fix_check {status, detail, fix_at, evidence}, who and when
        "alert": {"id": 12, ...},    # llm.analysis.alert_data(): alertname, status, severity, instance,
                                     # job, starts_at, ends_at, labels, annotations (each bounded)
        "analysis": {                # the analysis judged (None: there was none, or it was deleted)
          "id": 7, "provider_name": "...", "model": "...", "created_at": "...",
          "result": {...},           # the structured answer (root_cause, hypotheses, actions, ...)
          "investigation": {...},    # how the evidence was gathered (datasource, tool calls, redactions)
          "evidence": [{"id": "E1", "kind": "metric", "title": ..., "summary": ..., ...}, ...],
        },
      },
      ...
    ]

Oldest first, `after_id` and `limit` page through them (the last case's outcome id is the next
`after_id`). Read-only; the text is what people and models wrote (untrusted).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert, Analysis, IncidentOutcome
from remediation_app.services.investigation.store import evidence_for
from remediation_app.services.llm.analysis import alert_data
from remediation_app.services.memory.outcomes import outcome_public

LIMIT_MAX = 500


async def labelled_cases(session: AsyncSession, *, after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Outcomes with id > after_id (at most `limit`, capped at LIMIT_MAX), as cases (see the module)."""
    rows = await session.exec(
        select(IncidentOutcome, Alert)
        .join(Alert, col(Alert.id) == col(IncidentOutcome.alert_id))
        .where(col(IncidentOutcome.id) > after_id)
        .order_by(col(IncidentOutcome.id))
        .limit(max(1, min(limit, LIMIT_MAX)))
    )
    found = list(rows.all())
    analysis_ids = [row.analysis_id for row, _alert in found if row.analysis_id is not None]
    analyses: dict[int, Analysis] = {}
    if analysis_ids:
        loaded = await session.exec(select(Analysis).where(col(Analysis.id).in_(analysis_ids)))
        analyses = {a.id: a for a in loaded.all() if a.id is not None}
    evidence = await evidence_for(session, list(analyses))
    cases = []
    for row, alert in found:
        analysis = analyses.get(row.analysis_id) if row.analysis_id is not None else None
        cases.append(
            {
                "outcome": outcome_public(row),
                "alert": {"id": alert.id, **alert_data(alert)},
                "analysis": None
                if analysis is None
                else {
                    "id": analysis.id,
                    "provider_name": analysis.provider_name,
                    "model": analysis.model,
                    "created_at": analysis.created_at.isoformat(),
                    "result": analysis.result,
                    "investigation": analysis.investigation,
                    "evidence": evidence.get(analysis.id or 0, []),
                },
            }
        )
    return cases
