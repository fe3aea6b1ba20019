"""Logins in the browser: redirects, the login form, logout revoking the cookie, the `user` role
kept out of the admin pages, and a deactivated user's open tab sent to the login page."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import unique
from tests.support.app_server import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.browser import LOAD_TIMEOUT_MS

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-user-password-1"
# A deactivated user's open tab reacts at once (the change is announced); at worst at its next
# login check, every few seconds.
LOGOUT_TIMEOUT_MS = 8_000


def login_url(next_path: str = "/") -> re.Pattern[str]:
    return re.compile(rf"/login/?\?next={re.escape(next_path.rstrip('/'))}/?$")


def fill_login(page: Page, username: str, password: str) -> None:
    expect(page.locator("#login-form")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def test_logged_out_visit_redirects_to_login(app, new_tab):
    page = new_tab().page
    page.goto(app.url + "/")
    expect(page).to_have_url(login_url("/"), timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#login-form")).to_be_visible()
    page.goto(app.url + "/admin/users")
    expect(page).to_have_url(login_url("/admin/users"), timeout=LOAD_TIMEOUT_MS)


def test_wrong_password_shows_the_error(app, new_tab):
    page = new_tab().page
    page.goto(app.url + "/login")
    fill_login(page, unique("nobody"), "not-the-password")
    expect(page.locator("#login-error")).to_have_text("Invalid username or password.", timeout=LOAD_TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"/login/?\?error=invalid"))


def test_login_lands_on_dashboard_and_logout_revokes_the_cookie(app, new_tab):
    # Its own user: logging out revokes every token of that user (the admin's are shared by tests).
    username = unique("e2e-logout-")
    app.add_user(username, PASSWORD)
    tab = new_tab()
    page = tab.page
    page.goto(app.url + "/")
    expect(page).to_have_url(login_url("/"), timeout=LOAD_TIMEOUT_MS)
    fill_login(page, username, PASSWORD)
    expect(page).to_have_url(app.url + "/", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#current-user")).to_have_text(f"{username} (user)")
    old_cookie = tab.session_cookie()
    assert old_cookie
    assert httpx.get(f"{app.url}/api/auth/me", cookies={"re_session": old_cookie}).status_code == 200

    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login/?$"), timeout=LOAD_TIMEOUT_MS)
    assert tab.session_cookie() == ""

    # The old cookie, put back into a fresh browser, no longer logs anyone in.
    replay = new_tab()
    replay.context.add_cookies([{"name": "re_session", "value": old_cookie, "url": app.url}])
    replay.page.goto(app.url + "/")
    expect(replay.page).to_have_url(login_url("/"), timeout=LOAD_TIMEOUT_MS)
    assert httpx.get(f"{app.url}/api/auth/me", cookies={"re_session": old_cookie}).status_code == 401


def test_user_role_sees_no_admin_links_and_is_kept_out(app, new_tab):
    username = unique("e2e-plain-")
    bystander = unique("e2e-bystander-")  # a name only the users page would show
    app.add_user(username, PASSWORD)
    app.add_user(bystander, PASSWORD)
    tab = new_tab(record_frames=True)
    tab.log_in_as(app, username, PASSWORD)
    page = tab.page
    page.goto(app.url + "/")
    expect(page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#current-user")).to_have_text(f"{username} (user)")
    for link in ("#nav-users", "#nav-audit", "#nav-settings"):
        expect(page.locator(link)).to_have_count(0)

    for path in ("/admin/users", "/admin/audit", "/admin/settings"):
        page.goto(app.url + path)
        expect(page).to_have_url(app.url + "/?denied=1", timeout=LOAD_TIMEOUT_MS)
        expect(page.locator("#denied-notice")).to_be_visible()
        expect(page.locator(".user-row, .audit-row, #webhook-token-status")).to_have_count(0)
    frames = "\n".join(tab.frames)
    assert tab.frames, "no websocket frame was recorded"
    assert bystander not in frames  # no users list reached the page
    assert "login.success" not in frames  # no audit row either


def test_deactivated_user_tab_is_logged_out(app, new_tab):
    username = unique("e2e-deactivate-")
    app.add_user(username, PASSWORD)
    user_tab = new_tab()
    user_tab.log_in_as(app, username, PASSWORD)
    user_page = user_tab.page
    user_page.goto(app.url + "/")
    expect(user_page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)

    admin_tab = new_tab()
    admin_tab.log_in_as(app, ADMIN_USERNAME, ADMIN_PASSWORD)
    admin_page = admin_tab.page
    admin_page.goto(app.url + "/admin/users")
    row = admin_page.locator(f"#user-row-{username}")
    expect(row).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    row.locator(".deactivate").click()
    expect(row.locator(".active")).to_have_text("no")

    # The open tab leaves for the login page by itself; a reload stays there.
    expect(user_page).to_have_url(login_url("/"), timeout=LOGOUT_TIMEOUT_MS)
    user_page.goto(app.url + "/")
    expect(user_page).to_have_url(login_url("/"), timeout=LOAD_TIMEOUT_MS)


def test_after_logout_the_tab_holds_nothing_of_the_previous_user(app, new_tab):
    """An admin's pages, then logout, then another user logs in in the same tab: nothing the admin's
    pages held (here a user name only the users page shows) reaches the tab after the logout."""
    username = unique("e2e-after-logout-")
    marker = unique("e2e-only-on-users-page-")
    # An admin of its own: logging out revokes every token of that user (the shared admin's are used
    # by the other tests).
    admin = unique("e2e-admin-logout-")
    app.add_user(admin, PASSWORD, role="admin")
    app.add_user(username, PASSWORD)
    app.add_user(marker, PASSWORD)
    tab = new_tab(record_frames=True)
    tab.log_in_as(app, admin, PASSWORD)
    page = tab.page
    page.goto(app.url + "/admin/users")
    expect(page.locator(f"#user-row-{marker}")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    assert any(marker in frame for frame in tab.frames)

    tab.frames.clear()
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login/?$"), timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#login-form")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    fill_login(page, username, PASSWORD)
    expect(page.locator("#current-user")).to_have_text(f"{username} (user)", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    assert tab.frames, "nothing recorded after the logout"
    leaked = [frame[:200] for frame in tab.frames if marker in frame or admin in frame]
    assert not leaked, leaked
