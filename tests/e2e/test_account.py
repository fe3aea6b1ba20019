"""The account page in the browser: a user changes their own password through the native form,
stays logged in on that tab (a fresh cookie), every older login of theirs stops working, and the
new password logs in. No password ever travels over the page's websocket."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import unique
from tests.e2e.test_auth import fill_login
from tests.support.browser import LOAD_TIMEOUT_MS

pytestmark = pytest.mark.e2e

OLD_PASSWORD = "e2e-account-old-password-1"
NEW_PASSWORD = "e2e-account-new-password-2"


def test_a_user_changes_their_own_password(app, new_tab):
    username = unique("e2e-account-")
    app.add_user(username, OLD_PASSWORD)
    other = new_tab()  # another browser of the same user: logged out by the change
    other.log_in_as(app, username, OLD_PASSWORD)
    tab = new_tab(record_frames=True)
    tab.log_in_as(app, username, OLD_PASSWORD)
    page = tab.page
    page.goto(app.url + "/terminal")
    expect(page.locator("#current-user")).to_have_text(f"{username} (user)", timeout=LOAD_TIMEOUT_MS)
    page.click("#nav-account")
    expect(page).to_have_url(re.compile(r"/account/?$"), timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#account-username")).to_have_text(username, timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#account-role")).to_have_text("user")
    old_cookie = tab.session_cookie()

    # A wrong current password: the page says so, nothing changes.
    page.fill("#current_password", "not-my-password-at-all")
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#repeat_password", NEW_PASSWORD)
    page.click("#change-password-submit")
    expect(page).to_have_url(re.compile(r"/account/?\?error=invalid$"), timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#account-error")).to_have_text("The current password is not correct.")
    assert tab.session_cookie() == old_cookie

    page.fill("#current_password", OLD_PASSWORD)
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#repeat_password", NEW_PASSWORD)
    page.click("#change-password-submit")
    expect(page).to_have_url(re.compile(r"/account/?\?changed=1$"), timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#account-notice")).to_contain_text("Your password was changed.")
    expect(page.locator("#account-username")).to_have_text(username)

    # This tab holds a fresh cookie and stays logged in; every older login is revoked.
    new_cookie = tab.session_cookie()
    assert new_cookie and new_cookie != old_cookie
    page.goto(app.url + "/terminal")
    expect(page.locator("#current-user")).to_have_text(f"{username} (user)", timeout=LOAD_TIMEOUT_MS)
    for cookie, status in ((old_cookie, 401), (other.session_cookie(), 401), (new_cookie, 200)):
        assert httpx.get(f"{app.url}/api/auth/me", cookies={"re_session": cookie}, timeout=30).status_code == status
    assert app.token_for(username, OLD_PASSWORD).status_code == 401

    # Log out, and back in with the new password through the login form.
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login/?$"), timeout=LOAD_TIMEOUT_MS)
    fill_login(page, username, NEW_PASSWORD)
    expect(page).to_have_url(app.url + "/", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#current-user")).to_have_text(f"{username} (user)", timeout=LOAD_TIMEOUT_MS)

    frames = "\n".join(tab.frames)
    assert tab.frames and username in frames  # the recording saw the pages' state
    for secret in (OLD_PASSWORD, NEW_PASSWORD, old_cookie, new_cookie):
        assert secret not in frames
