"""The account page's state (any logged-in user): who you are, and the outcome of the last password
change, read from the URL (`?changed=1` or `?error=<code>`, set by /api/auth/password/form's
redirect). The passwords never pass through this state. The view is account.py.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.db import TRANSIENT_DB_ERRORS
from remediation_app.services.auth import Forbidden
from remediation_app.services.users import MAX_PASSWORD, MIN_PASSWORD
from remediation_app.state import UNAVAILABLE, login_redirect, session_user

CHANGED = "Your password was changed. Your other sessions and API tokens were logged out."
ERRORS = {
    "invalid": "The current password is not correct.",
    "throttled": "Too many failed attempts. Try again later.",
    "busy": "The server is busy. Try again in a moment.",
    "missing": "Fill in all three fields.",
    "mismatch": "The new password and its repetition differ.",
    "short": f"The new password needs at least {MIN_PASSWORD} characters.",
    "long": f"The new password is longer than {MAX_PASSWORD} characters.",
    "characters": "The new password contains characters that cannot be used.",
    "same": "The new password must differ from the current one.",
    "input": "The form could not be read. Try again.",
    "unavailable": UNAVAILABLE,
}


class AccountState(rx.State):
    username: str = ""
    role: str = ""
    last_login: str = ""
    notice: str = ""
    error: str = ""

    def _forget(self) -> None:
        self.username, self.role, self.last_login, self.notice, self.error = "", "", "", "", ""

    @rx.event
    async def load(self):
        """Show the logged-in user (checked on the server) and the outcome of the last form post."""
        self._forget()
        try:
            user = await session_user(self)
        except Forbidden:
            return login_redirect(self.router.url.path)
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        self.username, self.role = user.username, user.role
        self.last_login = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never"
        params = self.router.url.query_parameters
        self.notice = CHANGED if params.get("changed") == "1" else ""
        self.error = ERRORS.get(str(params.get("error", "")), "")
        return None
