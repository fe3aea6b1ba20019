"""The browser terminal end to end, against a real sshd: an admin adds the server on the Servers
page and pins its host key, a user opens it on /terminal and runs a command in xterm.js, the paste
hook types without running, a user without the role neither sees nor opens an admin-only server,
and the Sessions page lists, replays and downloads the recording."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from remediation_app.services.terminal.recording import parse_events
from tests.conftest import require
from tests.e2e.conftest import unique
from tests.support.app_server import ADMIN_PASSWORD, ADMIN_USERNAME, AppServer
from tests.support.browser import LOAD_TIMEOUT_MS, Tab
from tests.support.sshd import Sshd, sshd_available

pytestmark = [pytest.mark.e2e, pytest.mark.ssh]

USER_PASSWORD = "e2e-terminal-user-pw-1"
TERMINAL_TIMEOUT_MS = 20_000
# The screen of a terminal as lines (trailing blanks trimmed); `which` is __xterm or __xtermReplay.
SCREEN_JS = """(which) => {
  const term = window[which];
  if (!term) return [];
  const buffer = term.buffer.active, lines = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
  return lines;
}"""


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    require(sshd_available(), "OpenSSH sshd is not installed (make test-deps)")
    with Sshd(tmp_path_factory.mktemp("e2e-sshd")) as server:
        yield server


def screen(page: Page, which: str = "__xterm") -> list[str]:
    return list(page.evaluate(SCREEN_JS, which))


def wait_for_line(page: Page, text: str, which: str = "__xterm", exact: bool = True) -> None:
    """Wait (on the page, no sleeping here) until a line of the screen is `text` (or contains it)."""
    test = "line.trim() === text" if exact else "line.includes(text)"
    page.wait_for_function(
        f"([which, text]) => ({SCREEN_JS})(which).some((line) => {test})",
        arg=[which, text],
        timeout=TERMINAL_TIMEOUT_MS,
    )


def admin_api(app: AppServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{app.url}{path}", headers=app.bearer(), timeout=30, **kwargs)


def add_server_on_page(page: Page, sshd: Sshd, name: str) -> None:
    page.fill("#server-name", name)
    page.fill("#server-host", sshd.host)
    page.fill("#server-port", str(sshd.port))
    page.fill("#server-username", sshd.username)
    page.fill("#server-environment", "staging")
    page.fill("#server-private-key", sshd.client_key)
    page.locator("#server-role-user").click()  # users may open it too (admins are ticked already)
    page.click("#server-save")
    expect(page.locator("#servers-notice")).to_have_text(f"Saved server {name}.")


def test_terminal_from_server_setup_to_replay(app: AppServer, new_tab: Any, sshd: Sshd, tmp_path: Path) -> None:
    shared, admin_only, username = unique("e2e-ssh-"), unique("e2e-ssh-admin-"), unique("e2e-term-")

    # The admin adds the server on the page, fetches its host key and pins it.
    admin: Tab = new_tab()
    admin.log_in_as(app, ADMIN_USERNAME, ADMIN_PASSWORD)
    page = admin.page
    page.goto(app.url + "/admin/servers")
    expect(page.locator("#servers-loaded")).to_be_attached(timeout=LOAD_TIMEOUT_MS)
    add_server_on_page(page, sshd, shared)
    row = page.locator(f"#server-row-{shared}")
    expect(row.locator(".no-key")).to_be_visible()
    expect(row.locator(".server-auth")).to_have_text("key (stored: key)")
    assert sshd.client_key.splitlines()[1] not in page.content()  # write-only
    row.locator(".fetch-key").click()
    expect(row.locator(".key-fingerprint")).to_have_text(sshd.host_key_fingerprint, timeout=TERMINAL_TIMEOUT_MS)
    expect(row.locator(".key-algorithm")).to_have_text("ssh-ed25519")
    expect(row.locator(".key-match")).to_have_text("not accepted yet")
    row.locator(".accept-key").click()
    expect(page.locator("#servers-notice")).to_contain_text(sshd.host_key_fingerprint, timeout=TERMINAL_TIMEOUT_MS)
    expect(row.locator(".accepted-fingerprint")).to_have_text(sshd.host_key_fingerprint)
    row.locator(".fetch-key").click()
    expect(row.locator(".key-match")).to_have_text("matches the accepted key", timeout=TERMINAL_TIMEOUT_MS)

    # A second server only admins may open (through the API, for speed).
    created = admin_api(
        app,
        "POST",
        "/api/ssh-servers",
        json={
            "name": admin_only,
            "host": sshd.host,
            "port": sshd.port,
            "username": sshd.username,
            "private_key": sshd.client_key,
            "allowed_roles": ["admin"],
        },
    )
    assert created.status_code == 201, created.text
    admin_only_id = created.json()["id"]
    accepted = admin_api(
        app,
        "POST",
        f"/api/ssh-servers/{admin_only_id}/host-key/accept",
        json={"fingerprint": sshd.host_key_fingerprint},
    )
    assert accepted.status_code == 200, accepted.text

    # A user opens the shared server: it is offered with its environment, the admin-only one is not.
    app.add_user(username, USER_PASSWORD, "user")
    user: Tab = new_tab()
    user.log_in_as(app, username, USER_PASSWORD)
    term = user.page
    term.goto(app.url + "/")
    term.click("#nav-terminal")
    expect(term.locator(f"#terminal-server-row-{shared} .environment")).to_have_text("staging", timeout=LOAD_TIMEOUT_MS)
    expect(term.locator(f"#terminal-server-row-{admin_only}")).to_have_count(0)
    expect(term.locator("#terminal-server option", has_text=admin_only)).to_have_count(0)
    refused = user.context.request.post(
        f"{app.url}/api/terminal/tickets", data={"server_id": admin_only_id}, headers={"Origin": app.url}
    )
    assert refused.status == 403 and admin_only in refused.text()

    term.select_option("#terminal-server", label=f"{shared} [staging]")
    term.click("#terminal-open")
    expect(term.locator("#terminal-status")).to_have_text(f"connected to {shared}", timeout=TERMINAL_TIMEOUT_MS)
    term.locator("#terminal-screen").click()
    term.keyboard.type("echo hello-$((6*7))")
    term.keyboard.press("Enter")
    wait_for_line(term, "hello-42")

    # Flow control: ~600 KB of output (more than the server sends unacknowledged) goes through.
    term.keyboard.type("seq 1 100000; echo flow-$((2*3))")
    term.keyboard.press("Enter")
    wait_for_line(term, "flow-6")

    # The paste hook types the command but does not run it: its output appears only after Enter.
    assert term.evaluate("window.__reTerminalPaste('echo pasted\\n')") is True
    wait_for_line(term, "echo pasted", exact=False)
    term.wait_for_timeout(500)  # long enough for a command to have run, had it been sent with Enter
    assert "pasted" not in [line.strip() for line in screen(term)]
    term.keyboard.press("Enter")
    wait_for_line(term, "pasted")

    # Exit: the status shows in the terminal and next to it.
    term.keyboard.type("exit")
    term.keyboard.press("Enter")
    wait_for_line(term, "[session closed: exit status 0", exact=False)
    expect(term.locator("#terminal-status")).to_contain_text("exit status 0")

    # A refusal from the server is shown as it words it: the user loses the role meanwhile.
    listed = admin_api(app, "GET", "/api/ssh-servers").json()["items"]
    shared_id = next(s["id"] for s in listed if s["name"] == shared)
    changed = admin_api(
        app,
        "PUT",
        f"/api/ssh-servers/{shared_id}",
        json={
            "name": shared,
            "host": sshd.host,
            "port": sshd.port,
            "username": sshd.username,
            "allowed_roles": ["admin"],
        },
    )
    assert changed.status_code == 200, changed.text
    term.click("#terminal-open")
    expect(term.locator("#terminal-error")).to_have_text(f"your role may not open {shared}")

    # The user has no admin links, and the admin pages send it back with a notice.
    for link in ("#nav-servers", "#nav-sessions"):
        expect(term.locator(link)).to_have_count(0)
    for path in ("/admin/servers", "/admin/sessions"):
        term.goto(app.url + path)
        expect(term).to_have_url(app.url + "/?denied=1", timeout=LOAD_TIMEOUT_MS)
        expect(term.locator(".server-row, .session-row")).to_have_count(0)

    # The sessions page lists the session; Replay plays it; Download returns the asciicast.
    page.click("#nav-sessions")
    session_row = page.locator(".session-row").filter(has=page.locator(".session-user", has_text=username))
    expect(session_row).to_have_count(1, timeout=LOAD_TIMEOUT_MS)
    expect(session_row.locator(".session-server")).to_have_text(shared)
    expect(session_row.locator(".session-exit")).to_have_text("0")
    session_row.locator(".replay").click()
    expect(page.locator("#replay-dialog")).to_be_visible()
    wait_for_line(page, "hello-42", which="__xtermReplay")
    page.locator("#replay-speed").get_by_role("radio", name="all at once").click()
    wait_for_line(page, "[end of recording]", which="__xtermReplay")
    assert "pasted" in [line.strip() for line in screen(page, "__xtermReplay")]
    page.click("#replay-close")

    href = session_row.locator(".download").get_attribute("href")
    assert href is not None
    download = admin.context.request.get(app.url + href)
    assert download.status == 200 and download.headers["content-type"].startswith("application/x-asciicast")
    header, events = parse_events(download.text())
    assert header["version"] == 2
    output = "".join(data for _at, kind, data in events if kind == "o")
    assert "hello-42" in output
    assert "terminal.download" in {
        r["action"] for r in app.db_rows("SELECT action FROM audit_events WHERE actor = :a", a=ADMIN_USERNAME)
    }
