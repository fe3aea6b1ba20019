"""The `propose_command` tool, offered to a model that can call tools (an analysis' tool loop, or the
chat) when at least one server is registered with a pinned host key.

A call stores a proposal (services.diagnostics.proposals) and returns at once: nothing runs until a
person approves it, long after this call. The result tells the model the proposal's number and that
its outcome comes back later (a follow-up analysis; in the chat, the next message). A refusal by the
policy, or an unknown server, is a ToolError whose message goes to the model.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import async_session
from remediation_app.models import ProposalStatus, SSHServer
from remediation_app.services.diagnostics.check import MAX_COMMAND_CHARS
from remediation_app.services.diagnostics.proposals import (
    REASON_MAX,
    TOPIC,
    Origin,
    ProposalRefused,
    propose,
)
from remediation_app.services.events import bus
from remediation_app.services.investigation.loop import ToolError, ToolOutcome, ToolSpec
from remediation_app.services.llm.client import ToolCall
from remediation_app.settings import get_settings

NAME = "propose_command"
PER_RUN = 3  # proposals one analysis (or one chat answer) may store
SERVERS_LISTED = 50


async def proposable_servers(session: AsyncSession) -> list[str]:
    """Servers a command may be proposed for: registered, host key pinned (first SERVERS_LISTED by name)."""
    rows = await session.exec(
        select(SSHServer.name).where(col(SSHServer.host_key) != "").order_by(col(SSHServer.name)).limit(SERVERS_LISTED)
    )
    return list(rows.all())


class ProposeTool:
    """The tool for one analysis or one chat turn about `alert_id`."""

    def __init__(self, alert_id: int, origin: Origin, servers: list[str]) -> None:
        self.alert_id = alert_id
        self.origin = origin
        self.servers = servers
        self.stored: list[int] = []  # proposals this run stored (refused ones included)
        self.offered = 0  # of them, offered to a person (pending): at most PER_RUN

    def spec(self) -> ToolSpec:
        minutes = get_settings().proposal_expiry_minutes
        description = (
            "Propose ONE read-only shell command to run on a registered server, for a person to approve. "
            "Nothing runs now: a person allowed on that server approves or rejects it (within "
            f"{minutes:g} minutes), after this answer. Its output, or the rejection and its note, comes back to you "
            "later. A policy refuses outright anything that is not in its read-only set (no ;, &&, $(...), "
            "backticks, redirections, only plain ASCII; pipelines of allowed commands at most), e.g. `df -h`, "
            "`free -m`, `journalctl -u nginx -n 100 --no-pager`, `systemctl status nginx`, `ps aux | head -n 20`. "
            f"At most {PER_RUN} proposals per answer. Servers: {', '.join(self.servers)}."
        )
        parameters = {
            "type": "object",
            "properties": {
                "server": {"type": "string", "enum": self.servers, "description": "the server's name, exactly"},
                "command": {"type": "string", "description": f"the exact command, at most {MAX_COMMAND_CHARS} chars"},
                "reason": {"type": "string", "description": "why this command, what you expect to learn"},
            },
            "required": ["server", "command", "reason"],
        }
        return ToolSpec(NAME, description, parameters, self.handle)

    async def handle(self, arguments: dict[str, Any], tool_call_id: str = "") -> ToolOutcome:
        server, command, reason = arguments.get("server"), arguments.get("command"), arguments.get("reason")
        if not isinstance(server, str) or not server.strip() or len(server) > 200:
            raise ToolError("`server` must be the name of a registered server: " + ", ".join(self.servers))
        if not isinstance(command, str) or not command.strip() or len(command) > MAX_COMMAND_CHARS * 2:
            raise ToolError(f"`command` must be a non-empty string of at most {MAX_COMMAND_CHARS} characters")
        if not isinstance(reason, str) or not reason.strip():
            raise ToolError(f"`reason` must say why (at most {REASON_MAX} characters)")
        if self.offered >= PER_RUN:
            raise ToolError(f"not stored: at most {PER_RUN} proposals per answer")
        async with async_session() as session:
            try:
                row = await propose(
                    session,
                    alert_id=self.alert_id,
                    server=server.strip(),
                    command=command,
                    reason=reason,
                    origin=self.origin,
                    tool_call_id=tool_call_id,
                )
            except ProposalRefused as exc:
                raise ToolError(f"not stored: {exc}") from None
            await session.commit()
        assert row.id is not None
        if row.id not in self.stored:
            self.stored.append(row.id)
            self.offered += row.status == ProposalStatus.PENDING.value
        await bus.publish(TOPIC, ids=[self.alert_id], count=1)
        if row.status == ProposalStatus.REFUSED.value:
            raise ToolError(
                f"refused by the policy: {row.verdict}. It is recorded as refused and will not be offered to anyone; "
                "propose a read-only command the policy allows, or answer without it"
            )
        later = "in a follow-up analysis" if self.origin.kind == "analysis" else "in the conversation"
        return ToolOutcome(
            text=f"Proposal #{row.id} (`{row.command}` on {row.server_name}) waits for a person's approval. Do not "
            f"wait for it: answer now with what you have; its output (or the rejection) comes back to you {later}."
        )


async def propose_tool(alert_id: int, origin: Origin) -> ProposeTool | None:
    """The tool for a run about the alert, or None when no server can take a proposal."""
    async with async_session() as session:
        servers = await proposable_servers(session)
    return ProposeTool(alert_id, origin, servers) if servers else None


async def chat_notes(proposer: ProposeTool, calls: list[ToolCall]) -> str:
    """Store the proposals of a chat answer's tool calls; what the answer says about each (Markdown):
    the person reads it under the answer, and the model reads it as its own words in the next turn."""
    lines = []
    for call in calls[: PER_RUN * 3]:
        if call.name != NAME:
            lines.append(f"- The model called an unknown tool ({call.name[:60]!r}): ignored.")
            continue
        try:
            arguments = json.loads(call.arguments or "{}")
        except (ValueError, RecursionError):
            arguments = None
        if not isinstance(arguments, dict):
            lines.append("- A proposal was not stored: its arguments were not a JSON object.")
            continue
        try:
            outcome = await proposer.handle(arguments, tool_call_id=call.id)
        except ToolError as exc:
            lines.append(f"- Not proposed: {exc}")
            continue
        number = outcome.text.split(" ", 2)[1]  # "Proposal #12 (...)"
        lines.append(
            f"- Proposed for approval ({number}): `{arguments.get('command', '')}` on {arguments.get('server', '')}. "
            "A person allowed on that server approves or rejects it in the Diagnostics section of this page."
        )
    return "\n".join(lines)
