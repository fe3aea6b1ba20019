"""The login page's state: the message of a refused login and where to go next, from the URL
(/api/auth/login redirects back here with `?error=<code>`). The view is login.py."""

from __future__ import annotations

import reflex as rx

MESSAGES = {
    "invalid": "Invalid username or password.",
    "throttled": "Too many failed attempts. Try again later.",
    "busy": "The server is busy. Try again in a moment.",
}


class LoginState(rx.State):
    message: str = ""
    next_path: str = "/"

    @rx.event
    async def read_query(self):
        # Whatever this tab showed before (another user's chat, an admin's lists) is forgotten here:
        # the next login in this tab starts from a clean state tree.
        root = await self.get_state(rx.State)
        root.reset()  # type: ignore[no-untyped-call]
        params = self.router.url.query_parameters
        self.message = MESSAGES.get(params.get("error", ""), "")
        target = params.get("next", "/")
        self.next_path = target if target.startswith("/") and not target.startswith("//") else "/"
