"""No secret reaches a browser: every websocket frame the server sends while each role opens every
page, and the bodies of the API calls that role makes, are searched for recognisable secrets.

Secrets: every user's password hash (and its digest alone), the admin's and the user's passwords
(one of them set through the users page's reset dialog), the webhook token stored through the
settings page and the one from the environment, an LLM provider's API key, a datasource's bearer
token and another's basic-auth password, a notification route's Apprise URL (its password and a
header token), SSH servers' private key, key passphrase and password (stored through the API; both
roles may open those servers), the
server's SECRET_KEY and ENCRYPTION_KEY (from its DATA_DIR), and the session JWTs: neither role may
see the other's, nor its own (it lives in an HttpOnly cookie).
"""

from __future__ import annotations

import re

import asyncssh
import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import WEBHOOK_TOKEN
from tests.e2e.conftest import post_alerts, unique
from tests.support.app_server import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.browser import LOAD_TIMEOUT_MS, Tab
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e

FIRST_PASSWORD = "e2e-secrets-first-pw-1"
USER_PASSWORD = "e2e-secrets-user-pw-2"


def visit_every_page(app, tab: Tab, role: str, alert_id: int) -> list[str]:
    """Open each page as `role`, waiting until it has shown what it shows that role; returns the
    HTML documents received."""
    page = tab.page
    documents: list[str] = []

    def go(path: str) -> None:
        response = page.goto(app.url + path)
        assert response is not None
        documents.append(response.text())

    go("/")
    expect(page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    go(f"/alerts/{alert_id}")
    expect(page.locator("#alert-name")).not_to_be_empty(timeout=LOAD_TIMEOUT_MS)
    for path, shown in [
        ("/admin/users", f"#user-row-{ADMIN_USERNAME}"),
        ("/admin/audit", ".audit-row"),
        ("/admin/settings", "#webhook-token-status"),
        ("/admin/providers", "#provider-form"),
        ("/admin/datasources", "#datasources-loaded"),
        ("/admin/alertmanagers", "#alertmanagers-loaded"),
        ("/admin/notifications", "#routes-loaded"),
        ("/admin/servers", "#servers-loaded"),
        ("/admin/sessions", "h1, h2"),
        ("/admin/diagnostics", "#policy-yaml"),
    ]:
        go(path)
        if role == "admin":
            expect(page.locator(shown).first).to_be_attached(timeout=LOAD_TIMEOUT_MS)
        else:
            expect(page).to_have_url(app.url + "/?denied=1", timeout=LOAD_TIMEOUT_MS)
            expect(page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    go("/terminal")
    expect(page.locator("#terminal-server")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    go("/login")
    expect(page.locator("#login-form")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    return documents


def api_bodies(app, tab: Tab, alert_id: int) -> list[str]:
    """The API as the browser's session calls it (the cookie), every answer's body."""
    bodies = []
    for path in (
        "/api/alerts",
        f"/api/alerts/{alert_id}",
        "/api/audit",
        "/api/auth/me",
        "/api/providers",
        "/api/datasources",
        "/api/alertmanagers",
        "/api/notify/routes",
        "/api/notify/deliveries",
        "/api/ssh-servers",
        "/api/terminal/sessions",
    ):
        response = tab.context.request.get(app.url + path)
        assert response.status in (200, 403), (path, response.status)
        bodies.append(response.text())
    return bodies


def test_no_secret_reaches_the_browser(app, new_tab):
    alertname = unique("SecretsCheck")
    post_alerts(app, notification(am_alert(alertname)))
    alert_id = httpx.get(f"{app.url}/api/alerts", params={"q": alertname}, headers=app.bearer(), timeout=30).json()[
        "items"
    ][0]["id"]

    # Secrets stored through the API: an LLM provider's key, datasources' bearer token and basic-auth
    # password, SSH servers' key, passphrase and password.
    provider_key = unique("sk-e2e-secret-provider-key-")
    datasource_token = unique("e2e-secret-datasource-token-")
    datasource_password = unique("e2e-secret-datasource-password-")
    ssh_key = asyncssh.generate_private_key("ssh-ed25519")
    passphrase = unique("e2e-secret-passphrase-")
    private_key = ssh_key.export_private_key(passphrase=passphrase).decode()
    ssh_password = unique("e2e-secret-ssh-password-")
    notify_password, notify_token = unique("e2e-secret-notify-password-"), unique("e2e-secret-notify-token-")
    alertmanager_token = unique("e2e-secret-alertmanager-token-")
    for path, body in [
        # Disabled: other tests share this app, and its worker must not start calling this provider.
        (
            "/api/providers",
            {"name": unique("secrets-llm"), "model": "openai/gpt-4o-mini", "api_key": provider_key, "enabled": False},
        ),
        (
            "/api/datasources",
            # Disabled, on a host that does not exist: analyses of other tests never consult it.
            {
                "name": unique("secrets-bearer"),
                "url": "http://prometheus.invalid:9090",
                "auth": "bearer",
                "secret": datasource_token,
                "enabled": False,
            },
        ),
        (
            "/api/datasources",
            {
                "name": unique("secrets-basic"),
                "url": "http://prometheus.invalid:9091",
                "auth": "basic",
                "username": "reader",
                "secret": datasource_password,
                "enabled": False,
            },
        ),
        (
            "/api/alertmanagers",
            # Disabled, on a host that does not exist: the sync loop never reads it.
            {
                "name": unique("secrets-am"),
                "url": "http://alertmanager.invalid:9093",
                "auth": "bearer",
                "secret": alertmanager_token,
                "enabled": False,
            },
        ),
        (
            "/api/notify/routes",
            # Disabled, to a host that does not exist: nothing is ever sent to it.
            {
                "name": unique("secrets-notify"),
                "url": f"json://bot:{notify_password}@hooks.invalid/x?+X-Token={notify_token}",
                "events": ["alert"],
                "enabled": False,
            },
        ),
        (
            "/api/ssh-servers",
            {
                "name": unique("secrets-key"),
                "host": "127.0.0.1",
                "username": "ops",
                "private_key": private_key,
                "passphrase": passphrase,
                "allowed_roles": ["admin", "user"],
            },
        ),
        (
            "/api/ssh-servers",
            {
                "name": unique("secrets-pw"),
                "host": "127.0.0.1",
                "username": "ops",
                "auth_method": "password",
                "password": ssh_password,
                "allowed_roles": ["admin", "user"],
            },
        ),
    ]:
        created = httpx.post(app.url + path, json=body, headers=app.bearer(), timeout=30)
        assert created.status_code == 201, created.text

    # The admin sets a user's password through the reset dialog and the webhook token through the
    # settings page, then visits every page (its frames recorded from the start).
    username = unique("e2e-secrets-")
    app.add_user(username, FIRST_PASSWORD)
    stored_token = unique("e2e-secret-webhook-token-")
    admin = new_tab(record_frames=True)
    admin.log_in_as(app, ADMIN_USERNAME, ADMIN_PASSWORD)
    page = admin.page
    page.goto(app.url + "/admin/users")
    row = page.locator(f"#user-row-{username}")
    row.locator(".reset-password").click(timeout=LOAD_TIMEOUT_MS)
    page.fill("#reset-password-input", USER_PASSWORD)
    page.click("#reset-password-submit")
    expect(page.locator("#users-notice")).to_have_text(f"Password reset for {username}.")
    page.goto(app.url + "/admin/settings")
    page.fill("#webhook-token-input", stored_token)
    page.click("#webhook-token-save")
    expect(page.locator("#settings-notice")).to_have_text("The webhook token was replaced.", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#webhook-token-status")).to_have_text("set")
    seen = {"admin": visit_every_page(app, admin, "admin", alert_id) + api_bodies(app, admin, alert_id)}

    user = new_tab(record_frames=True)
    user.log_in_as(app, username, USER_PASSWORD)
    seen["user"] = visit_every_page(app, user, "user", alert_id) + api_bodies(app, user, alert_id)
    seen["admin"] += admin.frames
    seen["user"] += user.frames
    assert admin.frames and user.frames

    hashes = [r["password_hash"] for r in app.db_rows("SELECT password_hash FROM users")]
    assert len(hashes) >= 2
    secrets = {
        "SECRET_KEY": (app.data_dir / "secret_key").read_text().strip(),
        "ENCRYPTION_KEY": (app.data_dir / "encryption_key").read_text().strip(),
        "admin password": ADMIN_PASSWORD,
        "first user password": FIRST_PASSWORD,
        "reset user password": USER_PASSWORD,
        "stored webhook token": stored_token,
        "environment webhook token": WEBHOOK_TOKEN,
        "LLM provider API key": provider_key,
        "datasource bearer token": datasource_token,
        "datasource basic-auth password": datasource_password,
        "Alertmanager bearer token": alertmanager_token,
        "SSH key passphrase": passphrase,
        "SSH password": ssh_password,
        "notification route password": notify_password,
        "notification route header token": notify_token,
        "admin API JWT": app.bearer()["Authorization"].split(" ", 1)[1],
        "admin JWT": admin.session_cookie(),
        "user JWT": user.session_cookie(),
    }
    # Every line of the (encrypted) private key's body.
    for i, line in enumerate(private_key.splitlines()[1:-1]):
        if len(line) >= 16:
            secrets[f"SSH private key line {i}"] = line
    for i, value in enumerate(hashes):
        secrets[f"password hash {i}"] = value
        secrets[f"password hash digest {i}"] = value.rsplit("$", 1)[-1]
        secrets[f"password hash salt {i}"] = value.rsplit("$", 2)[-2]
    assert all(len(v) >= 16 for v in secrets.values()), "a secret too short to be recognisable"
    # A JWT's signature alone, in case a token were ever shown cut up.
    for name in ("admin JWT", "user JWT", "admin API JWT"):
        secrets[f"{name} signature"] = secrets[name].rsplit(".", 1)[-1]

    for role, texts in seen.items():
        everything = "\n".join(texts)
        assert len(everything) > 10_000, f"too little recorded for {role} to prove anything"
        leaked = [name for name, value in secrets.items() if value in everything]
        assert not leaked, f"{role}'s browser received: {leaked}"
        # The audit log and API bodies name users; none carries a hash-shaped value.
        assert not re.search(r"\$argon2id?\$", everything), f"{role}'s browser received a password hash"
