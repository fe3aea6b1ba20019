"""The datasources page in the browser: add a datasource, Test connection against a real Prometheus
(its version) and a closed port (the exact error), edit with the write-only credential (kept when
left empty, asked again when the host changes, removed on request), delete after confirming; the
credential never reaches the page or its websocket frames. And the providers page's tool-calling
and "local" settings."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import require_tool
from tests.e2e.conftest import unique
from tests.e2e.test_admin_pages import admin_tab
from tests.support.browser import LOAD_TIMEOUT_MS
from tests.support.prom_faults import refused_url
from tests.support.prometheus import Prometheus

pytestmark = pytest.mark.e2e
TEST_TIMEOUT_MS = 15_000  # a test connection answers within the datasource's timeout (5 s)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with Prometheus(require_tool("prometheus"), tmp_path_factory.mktemp("e2e-datasources-prometheus")) as started:
        yield started


def prometheus_version() -> str:
    printed = subprocess.run([require_tool("prometheus"), "--version"], capture_output=True, text=True).stdout
    found = re.search(r"version (\S+)", printed)
    assert found is not None, printed
    return found.group(1)


def fill_datasource(page: Page, name: str, url: str, auth: str, secret: str, username: str = "") -> None:
    page.fill("#datasource-name", name)
    page.fill("#datasource-url", url)
    page.select_option("#datasource-auth", auth)
    page.fill("#datasource-username", username)
    page.fill("#datasource-secret", secret)
    page.fill("#datasource-timeout-s", "5")
    page.click("#datasource-save")


def test_datasources_page_tests_connections_and_keeps_the_credential_secret(app, new_tab, prometheus):
    token, password = unique("e2e-datasource-bearer-token-"), unique("e2e-datasource-basic-password-")
    tab = admin_tab(app, new_tab, "/admin/providers", record_frames=True)
    page = tab.page
    page.click("#nav-datasources")
    expect(page).to_have_url(app.url + "/admin/datasources", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#datasources-loaded")).to_be_attached(timeout=LOAD_TIMEOUT_MS)

    live, closed = unique("e2e-prom-"), unique("e2e-closed-")
    fill_datasource(page, live, prometheus.url, "bearer", token)
    expect(page.locator("#datasources-notice")).to_have_text(f"Saved datasource {live}.")
    row = page.locator(f"#datasource-row-{live}")
    expect(row.locator(".datasource-url")).to_have_text(prometheus.url)
    expect(row.locator(".datasource-auth")).to_have_text("bearer")
    expect(row.locator(".datasource-secret")).to_have_text("yes")
    expect(row.locator(".datasource-source")).to_have_text("database")
    expect(page.locator("#datasource-secret")).to_have_value("")

    row.locator(".test-datasource").click()
    expect(row.locator(".test-ok")).to_have_text(f"Connected: version {prometheus_version()}", timeout=TEST_TIMEOUT_MS)

    with refused_url() as url:
        fill_datasource(page, closed, url, "basic", password, username="reader")
        expect(page.locator("#datasources-notice")).to_have_text(f"Saved datasource {closed}.")
        closed_row = page.locator(f"#datasource-row-{closed}")
        expect(closed_row.locator(".datasource-auth")).to_have_text("basic (reader)")
        closed_row.locator(".test-datasource").click()
        expect(closed_row.locator(".test-failed")).to_have_text(
            f"datasource '{closed}' at {url}: connection refused (is it running, is the port right?)",
            timeout=TEST_TIMEOUT_MS,
        )

    # Edit: the form shows no credential; left empty it is kept...
    row.locator(".edit-datasource").click()
    expect(page.locator("#datasource-name")).to_have_value(live)
    expect(page.locator("#datasource-secret")).to_have_value("")
    expect(page.locator("#datasource-secret")).to_have_attribute("placeholder", "(stored: leave empty to keep it)")
    page.fill("#datasource-timeout-s", "2.5")
    page.click("#datasource-save")
    expect(page.locator("#datasources-notice")).to_have_text(f"Saved datasource {live}.")
    expect(row.locator(".datasource-timeout")).to_have_text("2.5 s")
    expect(row.locator(".datasource-secret")).to_have_text("yes")
    # ...but not sent to another host without being typed again...
    row.locator(".edit-datasource").click()
    expect(page.locator("#datasource-name")).to_have_value(live)
    page.fill("#datasource-url", prometheus.url.replace("127.0.0.1", "localhost"))
    page.click("#datasource-save")
    expect(page.locator("#datasources-error")).to_have_text(
        "secret: the URL's host changed: enter the credential again"
    )
    page.click("#datasource-cancel")
    # ...and "remove" removes it, once the datasource no longer needs one.
    row.locator(".edit-datasource").click()
    expect(page.locator("#datasource-name")).to_have_value(live)
    page.locator("#datasource-remove-secret").click()
    page.click("#datasource-save")
    expect(page.locator("#datasources-error")).to_have_text("secret: bearer authentication needs a token")
    page.select_option("#datasource-auth", "none")
    page.click("#datasource-save")
    expect(page.locator("#datasources-notice")).to_have_text(f"Saved datasource {live}.")
    expect(row.locator(".datasource-secret")).to_have_text("no")

    # A refused save shows the service's reason next to the form.
    fill_datasource(page, unique("e2e-bad-"), "http://reader:x@prometheus.example:9090", "none", "")
    expect(page.locator("#datasources-error")).to_have_text(
        "url: put credentials in the authentication fields, not in the URL"
    )

    # Delete, after confirming.
    page.locator(f"#datasource-row-{closed} .delete-datasource").click()
    page.locator(".confirm-delete").click()
    expect(page.locator("#datasources-notice")).to_have_text("Datasource deleted.")
    expect(page.locator(f"#datasource-row-{closed}")).to_have_count(0)

    actions = app.db_rows("SELECT action FROM audit_events WHERE target IN (:a, :b) ORDER BY id", a=live, b=closed)
    assert [a["action"] for a in actions] == [
        "datasource.create",
        "datasource.create",
        "datasource.update",
        "datasource.update",
        "datasource.delete",
    ]
    page.reload()
    expect(page.locator(f"#datasource-row-{live}")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    listing = httpx.get(f"{app.url}/api/datasources", headers=app.bearer(), timeout=30)
    seen = "\n".join([*tab.frames, page.content(), listing.text])
    assert tab.frames and token not in seen and password not in seen

    # Other tests share this app: their analyses must not start consulting this Prometheus.
    [mine] = [d["id"] for d in listing.json()["items"] if d["name"] == live]
    assert httpx.delete(f"{app.url}/api/datasources/{mine}", headers=app.bearer(), timeout=30).status_code == 204


def test_providers_page_sets_tool_calling_and_local(app, new_tab):
    page = admin_tab(app, new_tab, "/admin/providers").page
    expect(page.locator("#providers-loaded")).to_be_attached(timeout=LOAD_TIMEOUT_MS)
    name = unique("e2e-local-llm-")
    page.fill("#provider-name", name)
    page.fill("#provider-model", "ollama/llama3")
    page.fill("#provider-api-base", "http://127.0.0.1:11434")
    page.select_option("#provider-tool-calling", "off")
    page.locator("#provider-local").click()
    # Disabled: other tests share this app, and its worker must not start calling this provider.
    page.locator("#provider-enabled").click()
    page.click("#provider-save")
    expect(page.locator("#providers-notice")).to_have_text(f"Saved provider {name}.")
    row = page.locator(f"#provider-row-{name}")
    expect(row.locator(".provider-tool-calling")).to_have_text("off")
    expect(row.locator(".provider-local")).to_have_text("yes")
    expect(row.locator(".provider-enabled")).to_have_text("no")

    row.locator(".edit-provider").click()
    expect(page.locator("#provider-name")).to_have_value(name)
    expect(page.locator("#provider-tool-calling")).to_have_value("off")
    expect(page.locator("#provider-local")).to_have_attribute("data-state", "checked")
    page.select_option("#provider-tool-calling", "on")
    page.locator("#provider-local").click()
    page.click("#provider-save")
    expect(page.locator("#providers-notice")).to_have_text(f"Saved provider {name}.")
    expect(row.locator(".provider-tool-calling")).to_have_text("on")
    expect(row.locator(".provider-local")).to_have_text("no")
    stored = app.db_rows("SELECT tool_calling, local, enabled FROM llm_providers WHERE name = :n", n=name)
    assert [(r["tool_calling"], bool(r["local"]), bool(r["enabled"])) for r in stored] == [("on", False, False)]
