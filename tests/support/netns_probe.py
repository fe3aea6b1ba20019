"""Run inside the app's network namespace (tests/support/netns.py): wait until the app is ready,
then fetch what a browser and Alertmanager would. Prints one JSON line of what it found.

Usage: python -m tests.support.netns_probe URL WEBHOOK_TOKEN DEADLINE_S
"""

from __future__ import annotations

import json
import re
import sys
import time

import httpx

from tests.support.payloads import am_alert, notification


def wait_ready(client: httpx.Client, deadline_s: float) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if client.get("/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def main(url: str, token: str, deadline_s: float) -> dict[str, object]:
    with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as client:
        found: dict[str, object] = {"ready": wait_ready(client, deadline_s)}
        if not found["ready"]:
            return found
        found["healthz"] = client.get("/healthz").json()
        login = client.get("/login")
        found["login"] = [login.status_code, "<html" in login.text]
        scripts = re.findall(r"/assets/[\w.-]+\.js", login.text)
        found["asset"] = client.get(scripts[0]).status_code if scripts else None
        webhook = client.post(
            "/webhook/alerts",
            json=notification(am_alert("OfflineStart")),
            headers={"Authorization": f"Bearer {token}"},
        )
        found["webhook"] = [webhook.status_code, webhook.json() if webhook.status_code == 200 else webhook.text]
        found["metrics_webhook_200"] = (
            'remediation_webhook_requests_total{status="200"} 1.0' in client.get("/metrics").text
        )
    return found


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], float(sys.argv[3]))))
