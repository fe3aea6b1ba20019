"""The admin pages in the browser: the users page's changes (and what they do to logins), the
audit log showing and filtering them, and the webhook token set on the settings page."""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import unique
from tests.support.app_server import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.browser import LOAD_TIMEOUT_MS, Tab, choose_in
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e

FIRST_PASSWORD = "e2e-first-password-1"
NEW_PASSWORD = "e2e-reset-password-2"


def admin_tab(app, new_tab, path: str, **options) -> Tab:
    tab = new_tab(**options)
    tab.log_in_as(app, ADMIN_USERNAME, ADMIN_PASSWORD)
    tab.page.goto(app.url + path)
    return tab


def user_row(page: Page, username: str):
    return page.locator(f"#user-row-{username}")


def filter_audit(page: Page, actor: str, action: str) -> None:
    page.fill("#audit-actor", actor)
    page.fill("#audit-action", action)


def test_users_page_changes_apply_and_are_audited(app, new_tab):
    name = unique("e2e-managed-")
    page = admin_tab(app, new_tab, "/admin/users").page
    expect(user_row(page, ADMIN_USERNAME)).to_be_visible(timeout=LOAD_TIMEOUT_MS)

    # A refused password keeps what was typed, to correct it.
    page.fill("#new-username", name)
    page.fill("#new-password", "short")
    page.click("#create-user")
    expect(page.locator("#users-error")).to_contain_text("at least 12 characters")
    expect(page.locator("#new-username")).to_have_value(name)
    expect(user_row(page, name)).to_have_count(0)

    # Create (the username as kept): the form is emptied, the user can log in.
    page.fill("#new-password", FIRST_PASSWORD)
    page.click("#create-user")
    row = user_row(page, name)
    expect(row).to_be_visible()
    expect(page.locator("#users-notice")).to_have_text(f"Created user {name}.")
    expect(page.locator("#new-username")).to_have_value("")
    expect(page.locator("#new-password")).to_have_value("")
    expect(row.locator(".active")).to_have_text("yes")
    expect(row.locator(".last-login")).to_have_text("never")
    assert app.token_for(name, FIRST_PASSWORD).status_code == 200

    # A service refusal is shown.
    page.fill("#new-username", name)
    page.fill("#new-password", FIRST_PASSWORD)
    page.click("#create-user")
    expect(page.locator("#users-error")).to_have_text(f"user {name!r} already exists")

    # Change role.
    choose_in(page, row.get_by_role("combobox"), "admin")
    expect(page.locator("#users-notice")).to_have_text("Role changed to admin.")
    assert app.db_rows("SELECT role FROM users WHERE username = :n", n=name) == [{"role": "admin"}]

    # Reset password: a too short one is refused in the dialog; the new one logs in, the old one not.
    row.locator(".reset-password").click()
    expect(page.locator("#reset-dialog")).to_be_visible()
    page.fill("#reset-password-input", "short")
    page.click("#reset-password-submit")
    expect(page.locator("#users-error")).to_contain_text("at least 12 characters")
    page.fill("#reset-password-input", NEW_PASSWORD)
    page.click("#reset-password-submit")
    expect(page.locator("#users-notice")).to_have_text(f"Password reset for {name}.")
    expect(page.locator("#reset-dialog")).to_have_count(0)
    assert app.token_for(name, NEW_PASSWORD).status_code == 200
    assert app.token_for(name, FIRST_PASSWORD).status_code == 401

    # Deactivate: no more logins, even with the right password.
    row.locator(".deactivate").click()
    expect(row.locator(".active")).to_have_text("no")
    assert app.token_for(name, NEW_PASSWORD).status_code == 401

    # The audit log shows each change, newest first, and filters by actor and action.
    page.click("#nav-audit")
    expect(page.locator(".audit-row").first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    filter_audit(page, ADMIN_USERNAME, "")
    mine = page.locator(".audit-row").filter(has=page.locator(".target", has_text=name))
    # Refused changes (the duplicate, the short password) changed nothing, so left no event.
    expect(mine.locator(".action")).to_have_text(["user.deactivate", "user.password", "user.role", "user.create"])
    expect(mine.locator(".address").first).to_have_text("127.0.0.1")
    expect(mine.filter(has=page.locator(".action", has_text="user.password")).locator(".details")).not_to_contain_text(
        NEW_PASSWORD
    )
    expect(mine.filter(has=page.locator(".action", has_text="user.role")).locator(".details")).to_have_text(
        json.dumps({"from": "user", "to": "admin"})
    )
    filter_audit(page, ADMIN_USERNAME, "user.role")
    actions = page.locator(".audit-row .action")
    expect(actions.filter(has_not_text="user.role")).to_have_count(0)
    expect(actions.filter(has_text="user.role")).not_to_have_count(0)
    filter_audit(page, name, "")  # the user's own attempts: two logins and one refused
    expect(page.locator(".audit-row .action")).to_have_text(
        ["login.failure", "login.failure", "login.success", "login.success"]
    )
    filter_audit(page, unique("nobody-"), "")
    expect(page.locator("#audit-showing")).to_have_text("No events match.")
    assert FIRST_PASSWORD not in page.content() and NEW_PASSWORD not in page.content()


def test_settings_page_sets_the_webhook_token_without_showing_it(app, new_tab):
    token = unique("e2e-stored-webhook-token-")
    tab = admin_tab(app, new_tab, "/admin/settings", record_frames=True)
    page = tab.page
    status = page.locator("#webhook-token-status")
    expect(status).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    if status.inner_text() == "set":  # left by another test: start from "not set"
        page.click("#webhook-token-clear")
    expect(status).to_have_text("not set")

    def post(bearer: str) -> int:
        payload = notification(am_alert(unique("SettingsToken")))
        headers = {"Authorization": f"Bearer {bearer}"}
        return httpx.post(f"{app.url}/webhook/alerts", json=payload, headers=headers, timeout=30).status_code

    assert post(token) == 401
    page.fill("#webhook-token-input", token)
    page.click("#webhook-token-save")
    expect(status).to_have_text("set")
    expect(page.locator("#settings-notice")).to_have_text("The webhook token was replaced.")
    expect(page.locator("#webhook-token-input")).to_have_value("")
    assert post(token) == 200

    # Shown nowhere: not in the page, not in anything the server sent it, not after a reload.
    page.reload()
    expect(status).to_have_text("set", timeout=LOAD_TIMEOUT_MS)
    assert token not in page.content()
    assert tab.frames and not any(token in frame for frame in tab.frames)

    page.click("#webhook-token-clear")
    expect(status).to_have_text("not set")
    assert post(token) == 401
