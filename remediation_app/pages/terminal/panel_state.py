"""The terminal panel's state: the servers this user may open, the one picked, and the ticket that
opens it (the view is panel.py; the /terminal page and the alert page show it).

Every handler checks the login on the server. `open_terminal` asks services.terminal.tickets for a one-time
ticket (valid TERMINAL_TICKET_SECONDS) right before the browser connects, and hands it to the xterm
component as a prop: a new ticket reconnects, an empty one closes the terminal. The ticket only
opens that server once, for this user; no credential ever reaches the state.

For the alert page: `for_alert(alert_id)` (or `for_alert("")` to read /alerts/<id> from the URL)
ties the terminal to the alert (its session records it) and preselects the server that the alert's
`instance` label names (`alert_server`); when none does, nothing is picked: the user chooses, rather
than opening a shell on an unrelated server by mistake.

"Send to terminal" buttons (components/send_to_terminal.py, given `connected`) are enabled while the
terminal reported "ready" and has not ended; the pasting itself happens in the browser.
"""

from __future__ import annotations

import reflex as rx
from reflex.event import EventSpec

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Alert, SSHServer, User
from remediation_app.services.auth import Forbidden
from remediation_app.services.terminal import servers, tickets
from remediation_app.state import UNAVAILABLE, parse_id, refusal, route_alert_id, session_user


def server_view(row: SSHServer) -> dict[str, str]:
    """What the picker shows: never a credential; `why` says why it cannot be opened yet."""
    why = "" if row.host_key else "host key not accepted yet (an admin does that on the Servers page)"
    return {
        "id": str(row.id),
        "name": row.name,
        "address": f"{row.username}@{row.host}:{row.port}",
        "environment": row.environment,
        "ready": "" if why else "yes",
        "why": why,
        "label": row.name + (f" [{row.environment}]" if row.environment else "") + (f" ({why})" if why else ""),
    }


def alert_server(rows: list[SSHServer], instance: str) -> str:
    """The id of the server to preselect for an alert with this `instance` label: the one it names,
    else "" (none picked), never some other server."""
    match = servers.match_instance(rows, instance) if instance else None
    return str(match.id) if match is not None else ""


class TerminalPanelState(rx.State):
    servers: list[dict[str, str]] = []
    loaded: bool = False
    selected: str = ""  # the picked server's id
    for_alert_id: str = ""  # the alert this terminal is opened for ("" none; not `alert_id`: the route's var)
    ticket: str = ""  # one-time, for the xterm component; "" = no terminal shown
    open_server: str = ""  # the name of the server the terminal shows
    status: str = ""
    ended: bool = False
    connected: bool = False  # the shell is up: "Send to terminal" may paste
    error: str = ""

    def _forget(self) -> None:
        self.servers, self.loaded, self.selected, self.for_alert_id = [], False, "", ""
        self.ticket, self.open_server, self.status, self.ended, self.error = "", "", "", False, ""
        self.connected = False

    async def _user(self) -> User | EventSpec:
        """The logged-in user, or (after forgetting everything shown) the redirect refusing the tab."""
        try:
            return await session_user(self)
        except Forbidden:
            self._forget()
            return await refusal(self)

    async def _reload(self, user: User) -> list[SSHServer]:
        try:
            async with async_session() as session:
                rows = await servers.servers_for(session, user)
        except TRANSIENT_DB_ERRORS:
            self.servers, self.loaded, self.error = [], False, UNAVAILABLE
            return []
        self.servers, self.loaded = [server_view(r) for r in rows], True
        if self.selected not in {s["id"] for s in self.servers}:
            self.selected = next((s["id"] for s in self.servers if s["ready"]), "")
        return rows

    def _close(self) -> None:
        self.ticket, self.open_server, self.status, self.ended, self.connected = "", "", "", False, False

    @rx.event
    async def load(self):
        """The /terminal page: ?server=<id> preselects a server, ?alert=<id> ties the session to an alert."""
        if not isinstance(user := await self._user(), User):
            return user
        self._close()
        self.error = ""
        query = self.router.url.query_parameters
        wanted = str(parse_id(query.get("server", "")) or 0) if query.get("server") else ""
        alert_id = parse_id(query.get("alert", ""))
        self.for_alert_id = str(alert_id) if alert_id else ""
        if wanted:
            self.selected = wanted
        await self._reload(user)
        return None

    @rx.event
    async def for_alert(self, alert_id: str = ""):
        """Tie the panel to an alert (default: the /alerts/<id> of the URL) and preselect its server."""
        if not isinstance(user := await self._user(), User):
            return user
        wanted = (parse_id(alert_id) or 0) if alert_id else route_alert_id(self)
        # Always: a revisit of the same alert must not hand the component the old, used ticket.
        self._close()
        self.error = ""
        rows = await self._reload(user)
        self.selected = ""  # not the default _reload picked, nor the server of another alert
        try:
            async with async_session() as session:
                alert = await session.get(Alert, wanted) if wanted else None
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        self.for_alert_id = str(alert.id) if alert is not None else ""
        instance = (alert.instance or alert.labels.get("instance", "")) if alert is not None else ""
        self.selected = alert_server(rows, instance)
        return None

    @rx.event
    async def choose_server(self, server_id: str):
        if not isinstance(user := await self._user(), User):
            return user
        if str(server_id) in {s["id"] for s in self.servers}:
            self.selected = str(server_id)
            self.error = ""
        return None

    @rx.event
    async def open_terminal(self):
        """A fresh one-time ticket for the picked server (a second click reconnects)."""
        if not isinstance(user := await self._user(), User):
            return user
        server_id = parse_id(self.selected)
        if not server_id:
            self.error = "Pick a server first."
            return None
        try:
            ticket = await tickets.issue_ticket(user, server_id, parse_id(self.for_alert_id) or None)
        except tickets.TerminalRefused as refused:
            self._close()
            self.error = str(refused)
            await self._reload(user)
            return None
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        server = next((s for s in self.servers if s["id"] == str(server_id)), None)
        self.ticket, self.open_server = ticket, server["name"] if server else f"server {server_id}"
        self.status, self.ended, self.error, self.connected = "connecting…", False, "", False
        return None

    @rx.event
    async def close_terminal(self):
        """Closing the component closes the socket: the server ends the SSH session and records it."""
        if not isinstance(user := await self._user(), User):
            return user
        self._close()
        return None

    @rx.event
    def terminal_status(self, kind: str, message: str):
        """What the terminal reported (ready, exit, error, closed); shown next to it. Nothing protected."""
        if not self.ticket:
            return
        self.status = str(message)[:500]
        self.ended = str(kind) in ("exit", "error", "closed")
        self.connected = str(kind) == "ready" or (self.connected and not self.ended)
