"""/docs in the browser on a network without internet: Swagger UI comes from the app itself."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect

from tests.support.browser import LOAD_TIMEOUT_MS

pytestmark = pytest.mark.e2e


def test_api_docs_render_with_no_outside_request(app, new_tab):
    tab = new_tab()
    app.login(tab.context)
    outside: list[str] = []

    def only_the_app(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:  # what a network without internet does
            outside.append(route.request.url)
            route.abort()

    tab.page.route("**/*", only_the_app)
    tab.page.goto(app.url + "/docs")
    expect(tab.page.locator(".swagger-ui .info .title")).to_contain_text("Remediation Engine", timeout=LOAD_TIMEOUT_MS)
    # The operations rendered from the OpenAPI 3.1 schema, not an error box.
    expect(tab.page.locator(".opblock-summary-path").first).to_be_visible()
    expect(tab.page.locator(".swagger-ui .errors-wrapper")).to_have_count(0)
    assert outside == []
