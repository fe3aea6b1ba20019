"""Tabs left open across a restart keep working (issue 13).

- A restart with nothing changed builds nothing (the build's own marker is not rewritten), and a
  page opened before it keeps working: a click on its menu loads the next page (the bundle's files
  it names are the same files), with its data, over the socket the page opens again by itself.
- A rebuild (the code changed) names its chunks anew, even for the same sources: it keeps the
  previous build's files beside its own, so the open page's click still finds the chunk it names.

Before, every start rebuilt the bundle under new names and deleted the old ones: the open tab's
first click asked for a chunk that no longer existed (404).

While the server is down, the open board says "disconnected" within seconds and greys its data as
stale; it is "live" again once the page has reconnected (issue 15).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Response, expect

from tests.conftest import WEBHOOK_TOKEN, require_tool
from tests.support.app_server import BIN, ROOT, TOOLS_BIN, AppServer, started_app
from tests.support.browser import LOAD_TIMEOUT_MS, Tab

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# "Within a few seconds" of the server going away (connection.jsx: at once when the socket closes).
DISCONNECTED_WITHIN_MS = 5_000
# The bundle's files the page has loaded so far.
LOADED_SCRIPTS = "performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/assets/'))"


@pytest.fixture(scope="module")
def restartable_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """An app of this test's own: restarting the session's app would disturb the other tests."""
    require_tool(str(TOOLS_BIN / "bun"))
    with started_app(tmp_path_factory.mktemp("restart"), "restart", env={"WEBHOOK_TOKEN": WEBHOOK_TOKEN}) as server:
        yield server


def open_page_watching_failures(app: AppServer, new_tab: Callable[..., Tab]) -> tuple[Tab, list[str]]:
    """A logged-in dashboard, and the app's answers of 400 or more to it from now on."""
    tab = new_tab()
    page = tab.open_dashboard(app)
    tab.mark()
    failed: list[str] = []

    def watch(response: Response) -> None:
        if response.status >= 400 and response.url.startswith(app.url):
            failed.append(f"{response.status} {response.url}")

    page.on("response", watch)
    return tab, failed


def expect_navigation_in_the_open_page(app: AppServer, tab: Tab, failed: list[str]) -> None:
    page = tab.page
    page.locator("#nav-rules").click()
    expect(page.locator(".rule-row").first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    assert page.url == f"{app.url}/admin/rules"
    assert tab.still_same_document()  # navigated inside the open page, not by reloading it
    assert failed == []


def test_restart_builds_nothing_and_an_open_page_still_navigates(
    restartable_app: AppServer, new_tab: Callable[..., Tab]
):
    app = restartable_app
    marker = app.build_marker()
    assert marker is not None and "building the frontend" in app.log_text()  # the first start built it
    tab, failed = open_page_watching_failures(app, new_tab)

    app.stop()
    badge, board = tab.page.locator("#live-flag"), tab.page.locator("#board")
    expect(badge).to_have_text("disconnected", timeout=DISCONNECTED_WITHIN_MS)
    expect(board).to_have_attribute("data-stale", "true")
    expect(board.locator(".stale-notice")).to_be_visible()
    app.start()  # same port, same web directory, nothing changed
    expect(badge).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    expect(board).to_have_attribute("data-stale", "false")

    assert app.build_marker() == marker  # the build's own marker: not rewritten, so no build ran
    assert "serving the build" in app.log_text() and "building the frontend" not in app.log_text()
    expect_navigation_in_the_open_page(app, tab, failed)


def test_after_a_rebuild_an_open_page_still_navigates(restartable_app: AppServer, new_tab: Callable[..., Tab]):
    app = restartable_app
    before = app.build_marker()
    assert before is not None
    tab, failed = open_page_watching_failures(app, new_tab)
    served = {Path(url).name for url in tab.page.evaluate(LOADED_SCRIPTS)}

    app.stop()
    rebuilt = subprocess.run(
        [str(BIN / "python"), "-m", "remediation_app", "build-frontend", "--force"],
        cwd=ROOT,
        env=app.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr[-3000:]
    app.start()

    after = app.build_marker()
    assert after is not None and after["built_at"] != before["built_at"]
    assert served & set(after["carried_assets"])  # the new build named some of the open page's files anew
    expect_navigation_in_the_open_page(app, tab, failed)
