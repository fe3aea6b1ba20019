"""Whether the page still talks to the server, told by the browser itself (connection.jsx).

`connection_badge(live=...)` reads "live" while the page's socket is connected and `live` (a state var:
the page's live updates run) is true, "connecting" while connected but not live yet, and
"disconnected" within a few seconds of losing the server: at once when the socket closes (a failed
reconnection), and after two missed heartbeats (GET /ping every 5 s, 4 s timeout) when the server
vanished without closing anything. It is back to "live" once the socket reconnects (Reflex then
runs the page's on_load again, which restarts its live updates). The state is also set on
`<html data-connection=...>`.

`stale_when_disconnected(*children, notice=...)` shows its children greyed out (opacity and
grayscale) under `notice` while disconnected: the data may be out of date.

The server cannot tell a tab that it is gone, so neither depends on a server var to say so.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

_JSX = rx.asset("connection.jsx", shared=True)
STALE_NOTICE = "Disconnected from the server: this may be out of date. Reconnecting..."


class ConnectionBadge(rx.Component):
    library = f"$/public{_JSX}"
    tag = "ConnectionBadge"

    live: rx.Var[bool]


class StaleWhenDisconnected(rx.Component):
    library = f"$/public{_JSX}"
    tag = "StaleWhenDisconnected"

    notice: rx.Var[str]


def connection_badge(live: rx.Var[bool] | bool, **props: Any) -> rx.Component:
    return ConnectionBadge.create(live=live, **props)


def stale_when_disconnected(*children: rx.Component, notice: str = STALE_NOTICE, **props: Any) -> rx.Component:
    return StaleWhenDisconnected.create(*children, notice=notice, **props)
