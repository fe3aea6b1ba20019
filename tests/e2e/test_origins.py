"""A page on another port of the same host (where Prometheus, Alertmanager or Grafana usually run)
gets the logged-in admin's SameSite=Strict cookie: it must not be able to drive the session.

The attacker's page is served on loopback from another port; the admin's browser context is logged in.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.conftest import post_alerts, unique
from tests.support.app_server import HOST
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e

# Resolves to "open" when the event socket's handshake succeeds, "refused" when it fails.
OPEN_EVENT_SOCKET = """url => new Promise(resolve => {
  const ws = new WebSocket(url);
  ws.onopen = () => { ws.close(); resolve("open"); };
  ws.onerror = () => resolve("refused");
})"""
READ_API = """url => fetch(url, {credentials: "include"}).then(r => r.text(), e => "blocked: " + e)"""
NO_CORS_POST = """url => fetch(url, {method: "POST", mode: "no-cors", credentials: "include"}).then(() => "sent")"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>another app on this host</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def other_site() -> Iterator[str]:
    server = ThreadingHTTPServer((HOST, 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_port_cannot_use_the_admins_session(app, new_tab):
    name = unique("Origin")
    post_alerts(app, notification(am_alert(name)))
    [alert] = app.db_rows("SELECT id FROM alerts WHERE alertname = :n", n=name)
    tab = new_tab()
    page = tab.open_dashboard(app)
    event_url = app.url.replace("http://", "ws://") + "/_event/?EIO=4&transport=websocket"
    # The app's own page opens its event socket (the control).
    assert page.evaluate(OPEN_EVENT_SOCKET, event_url) == "open"

    with other_site() as attacker:
        page.goto(attacker)
        # The event socket (every page handler, as the admin) refuses the handshake.
        assert page.evaluate(OPEN_EVENT_SOCKET, event_url) == "refused"
        # The API's answers cannot be read from there (no CORS grant for that origin).
        assert page.evaluate(READ_API, app.url + "/api/auth/me").startswith("blocked")
        # A bodyless POST the cookie authenticates (queue an analysis) is refused by the server.
        with page.expect_response(lambda r: r.url.endswith("/analyze")) as answer:
            assert page.evaluate(NO_CORS_POST, f"{app.url}/api/alerts/{alert['id']}/analyze") == "sent"
        assert answer.value.status == 403
    # The session itself is untouched.
    page.goto(app.url + "/")
    assert page.evaluate(READ_API, app.url + "/api/auth/me").startswith('{"username":"admin"')
