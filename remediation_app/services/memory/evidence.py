"""Incident memory as evidence of an analysis: the few past incidents most like the alert, with what
people recorded (root cause, fix, commands) and the engine's verdict on each fix, as one evidence
item (kind "similar_incidents"). Like every item its text is quoted as data in the prompt and redacted
with the rest (services/investigation/run.py); what people wrote is untrusted. The line the engine
adds outside the quoted data (`consulted`) names only alert ids and verdicts, never their text.
"""

from __future__ import annotations

from remediation_app.db import async_session
from remediation_app.models import Alert, FixStatus
from remediation_app.services.investigation.evidence import Investigation, Item
from remediation_app.services.memory.similarity import SimilarIncident, similar_incidents

SHOWN = 3  # past incidents given to the model
FIELD_MAX = 600  # characters of a root cause or a fix
COMMANDS_SHOWN = 8
COMMAND_MAX = 200
VERDICT_WORDS = {
    FixStatus.VERIFIED.value: "VERIFIED (the alert resolved after it and stayed resolved)",
    FixStatus.FAILED.value: "FAILED (the alert fired again, or its condition still held)",
    FixStatus.UNVERIFIED.value: "unverified (the alert did not resolve within the window after it)",
    FixStatus.PENDING.value: "not judged yet",
}


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " …[cut]"


def incident_text(number: int, item: SimilarIncident) -> str:
    row = item.outcome
    why = ["same alertname" if item.same_alertname else f"alertname {row.alertname}"]
    if item.shared_labels:
        why.append("shares " + ", ".join(item.shared_labels[:6]))
    if item.text_score > 0:
        why.append("similar text")
    lines = [
        f"{number}. Alert #{row.alert_id} ({'; '.join(why)}), outcome recorded {row.created_at:%Y-%m-%d %H:%M} UTC",
        f"   The analysis of it was judged: {row.verdict}",
        f"   Root cause recorded: {_cut(row.root_cause, FIELD_MAX) or '(none)'}",
        f"   Fix recorded: {_cut(row.fix, FIELD_MAX) or '(none)'}",
    ]
    for command in row.commands[:COMMANDS_SHOWN]:
        lines.append(f"   command: {_cut(command, COMMAND_MAX)}")
    if len(row.commands) > COMMANDS_SHOWN:
        lines.append(f"   ({len(row.commands) - COMMANDS_SHOWN} more commands)")
    lines.append(f"   Fix verdict: {VERDICT_WORDS.get(row.fix_status, row.fix_status)}")
    if row.fix_detail:
        lines.append(f"   {_cut(row.fix_detail, FIELD_MAX)}")
    return "\n".join(lines)


def memory_item(similar: list[SimilarIncident]) -> Item:
    text = "\n".join(incident_text(number, item) for number, item in enumerate(similar, 1))
    return Item(
        kind="similar_incidents",
        title="Similar past incidents and their fixes",
        summary=text,
        data={
            "incidents": [
                {"alert_id": s.outcome.alert_id, "fix_status": s.outcome.fix_status, "verdict": s.outcome.verdict}
                for s in similar
            ]
        },
    )


def verdicts_line(ref: str, similar: list[SimilarIncident]) -> str:
    """What the model is told outside the data: which past fixes were verified and which failed."""
    by_status: dict[str, list[str]] = {}
    for item in similar:
        by_status.setdefault(item.outcome.fix_status, []).append(f"#{item.outcome.alert_id}")
    parts = []
    for status, words in (
        (FixStatus.VERIFIED.value, "verified (they held)"),
        (FixStatus.FAILED.value, "failed (the alert fired again): do not repeat them without saying so"),
        (FixStatus.UNVERIFIED.value, "unverified"),
        (FixStatus.PENDING.value, "not judged yet"),
    ):
        if by_status.get(status):
            parts.append(f"the fixes of alerts {', '.join(by_status[status])} {words}")
    return f"{ref} lists {len(similar)} similar past incidents; " + "; ".join(parts) + "."


async def add_similar(investigation: Investigation, alert: Alert) -> None:
    """Add the memory item (when there is anything like the alert) and the verdicts line."""
    if alert.id is None:
        return
    async with async_session() as session:
        similar = await similar_incidents(session, alert, limit=SHOWN)
    if not similar:
        return
    item = investigation.add(memory_item(similar))
    line = verdicts_line(item.ref, similar)
    investigation.consulted = f"{investigation.consulted}\n{line}" if investigation.consulted else line
