"""Where the analysis of incidents stands, for lists: per incident, its latest job's status and its
latest analysis' urgency, in four small queries whatever the page's size ("latest": the highest id, as
store.analysis_states reads an alert's).

`group_only=True`: only the incident's group analyses (storm control), which every alert of the
incident shows when it has no analysis of its own; otherwise any analysis of any of its alerts.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert, Analysis, AnalysisJob

# (the latest job's status, the latest analysis' urgency or None)
GroupState = tuple[str, str | None]


def _latest(table: Any, ids: list[int], group_only: bool) -> Any:
    """(incident id, the highest row id) of `table` (jobs or analyses) for each incident."""
    if group_only:
        incident = col(table.incident_id)
        return select(incident, func.max(table.id)).where(incident.in_(ids)).group_by(incident)
    incident = col(Alert.incident_id)
    return (
        select(incident, func.max(table.id))
        .join(Alert, col(Alert.id) == col(table.alert_id))
        .where(incident.in_(ids))
        .group_by(incident)
    )


async def incident_analysis_states(
    session: AsyncSession, incident_ids: Collection[int], *, group_only: bool = False
) -> dict[int, GroupState]:
    ids = sorted(set(incident_ids))
    if not ids:
        return {}
    latest_jobs: dict[int, int] = dict((await session.exec(_latest(AnalysisJob, ids, group_only))).all())
    latest_analyses: dict[int, int] = dict((await session.exec(_latest(Analysis, ids, group_only))).all())
    statuses: dict[int, str] = {}
    if latest_jobs:
        rows = await session.exec(
            select(AnalysisJob.id, AnalysisJob.status).where(col(AnalysisJob.id).in_(latest_jobs.values()))
        )
        statuses = {job_id: status for job_id, status in rows.all() if job_id is not None}
    urgencies: dict[int, str] = {}
    if latest_analyses:
        rows_a = await session.exec(
            select(Analysis.id, Analysis.urgency).where(col(Analysis.id).in_(latest_analyses.values()))
        )
        urgencies = {analysis_id: urgency for analysis_id, urgency in rows_a.all() if analysis_id is not None}
    return {
        incident_id: (statuses[job_id], urgencies.get(latest_analyses.get(incident_id, 0)) or None)
        for incident_id, job_id in latest_jobs.items()
        if job_id in statuses
    }
