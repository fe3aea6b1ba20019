"""What goes back to the model once a person acted on its proposals: each command's output (redacted,
bounded) or the rejection and its note. In an analysis they are evidence items of the follow-up
analysis (the model cites them like any evidence); in a chat, a message of the conversation."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import async_session
from remediation_app.models import DiagnosticProposal, ProposalStatus, utcnow
from remediation_app.services.investigation.evidence import Investigation, Item

# Proposals a person acted on that a later analysis of the alert is given, newest first.
RESULTS_SHOWN = 5
RESULTS_WINDOW = timedelta(hours=24)
STREAM_MAX = 2500  # characters of stdout (stderr) given to the model
ACTED = (ProposalStatus.DONE.value, ProposalStatus.FAILED.value, ProposalStatus.REJECTED.value)


def _cut(text: str) -> str:
    return text if len(text) <= STREAM_MAX else text[:STREAM_MAX] + f"\n[cut: {len(text) - STREAM_MAX} more characters]"


def result_text(row: DiagnosticProposal) -> str:
    """The outcome of one proposal, as the model reads it (its output is untrusted data: the caller
    quotes it like any evidence)."""
    head = f"Proposal #{row.id}: `{row.command}` on {row.server_name}"
    if row.status == ProposalStatus.REJECTED.value:
        note = f" with the note: {row.note}" if row.note else " (no note)"
        return f"{head} was rejected by {row.decided_by}{note}. It did not run."
    lines = [f"{head}, approved by {row.decided_by}"]
    if row.status == ProposalStatus.FAILED.value:
        lines.append(f"FAILED: {row.error}")
    else:
        lines.append(f"exit status: {row.exit_status if row.exit_status is not None else 'none (stopped)'}")
    if row.truncated:
        lines.append(f"the output was cut at {row.output_bytes} bytes (the output cap): the command was stopped")
    lines.append("stdout:\n" + (_cut(row.stdout) if row.stdout else "(empty)"))
    if row.stderr:
        lines.append("stderr:\n" + _cut(row.stderr))
    return "\n".join(lines)


def result_item(row: DiagnosticProposal) -> Item:
    rejected = row.status == ProposalStatus.REJECTED.value
    title = f"Command {'rejected' if rejected else 'run'} on {row.server_name}: {row.command}"
    return Item(
        kind="diagnostic",
        title=title[:255],
        datasource=row.server_name[:100],
        query=row.command,
        summary=result_text(row),
        data={"proposal_id": row.id, "status": row.status, "exit_status": row.exit_status},
    )


async def recent_results(session: AsyncSession, alert_id: int) -> list[DiagnosticProposal]:
    """The alert's proposals a person acted on (ran, failed, rejected) within RESULTS_WINDOW, oldest first."""
    rows = await session.exec(
        select(DiagnosticProposal)
        .where(
            col(DiagnosticProposal.alert_id) == alert_id,
            col(DiagnosticProposal.status).in_(ACTED),
            col(DiagnosticProposal.decided_at) >= utcnow() - RESULTS_WINDOW,
        )
        .order_by(col(DiagnosticProposal.decided_at).desc(), col(DiagnosticProposal.id).desc())
        .limit(RESULTS_SHOWN)
    )
    return list(reversed(rows.all()))


async def result_items(session: AsyncSession, alert_id: int) -> list[Item]:
    return [result_item(row) for row in await recent_results(session, alert_id)]


async def add_results(investigation: Investigation, alert_id: int | None) -> None:
    """Add the alert's recent diagnostic outcomes to an analysis' evidence (numbered after the rest)."""
    if alert_id is None:
        return
    async with async_session() as session:
        items = await result_items(session, alert_id)
    for item in items:
        investigation.add(item)
