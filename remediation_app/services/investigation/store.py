"""Reading the evidence an analysis stored, for the alert page and the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Evidence
from remediation_app.services.investigation.evidence import Item
from remediation_app.services.records import columns, isoformat

PROMPT_MAX = 12_000  # characters of evidence sent with each chat question


def evidence_public(row: Evidence) -> dict[str, Any]:
    """One item as the API and the browser get it (the same text the model was given, unredacted:
    the redaction protects what leaves for an external provider, not our own users)."""
    return {
        "id": row.ref,
        **columns(row, "kind", "title", "datasource", "query"),
        "window_start": isoformat(row.window_start),
        "window_end": isoformat(row.window_end),
        **columns(row, "summary", "data", "link", "duration_ms", "error"),
    }


async def evidence_for(session: AsyncSession, analysis_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Each analysis' evidence in id order (E1, E2, ...), by analysis id."""
    found: dict[int, list[dict[str, Any]]] = {analysis_id: [] for analysis_id in analysis_ids}
    if not analysis_ids:
        return found
    rows = await session.exec(
        select(Evidence).where(col(Evidence.analysis_id).in_(list(analysis_ids))).order_by(col(Evidence.id))
    )
    for row in rows:
        found[row.analysis_id].append(evidence_public(row))
    return found


async def evidence_prompt(session: AsyncSession, analysis_id: int) -> str:
    """An analysis' evidence as the model was given it (for the chat about the alert), bounded."""
    rows = await session.exec(
        select(Evidence).where(col(Evidence.analysis_id) == analysis_id).order_by(col(Evidence.id))
    )
    text = "\n\n".join(Item.from_row(row).prompt_text() for row in rows)
    return text if len(text) <= PROMPT_MAX else text[:PROMPT_MAX] + " …[cut]"
