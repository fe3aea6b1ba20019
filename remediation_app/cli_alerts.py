"""`python -m remediation_app send-test-alert`: a sample notification posted to a running engine."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import Any

import httpx

from remediation_app.cli_common import CommandError


def sample_notification(*, resolved: bool, alertname: str, severity: str, labels: dict[str, str]) -> dict[str, Any]:
    """A version 4 notification with one alert. Its start is today's midnight (UTC), so a later
    --resolved the same day resolves the same alert."""
    now = datetime.now(UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    all_labels = {
        "alertname": alertname,
        "severity": severity,
        "instance": "remediation-engine-cli",
        "job": "remediation-engine",
        **labels,
    }
    status = "resolved" if resolved else "firing"
    alert = {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": "A test alert sent by `python -m remediation_app send-test-alert`"},
        "startsAt": start.isoformat().replace("+00:00", "Z"),
        "endsAt": now.isoformat().replace("+00:00", "Z") if resolved else "0001-01-01T00:00:00Z",
        "generatorURL": "",
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="' + alertname + '"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "remediation-engine",
        "groupLabels": {"alertname": alertname},
        "commonLabels": all_labels,
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [alert],
    }


def _webhook_url(url: str) -> str:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise CommandError(f"not an http(s) URL: {url!r}")
    return str(parsed.copy_with(path="/webhook/alerts")) if parsed.path in ("", "/") else url


def send_test_alert(args: argparse.Namespace) -> int:
    labels: dict[str, str] = {}
    for item in args.label:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandError(f"not a label: {item!r} (expected name=value)")
        labels[name] = value
    url = _webhook_url(args.url or f"http://127.0.0.1:{os.environ.get('PORT') or 8080}")
    # Never from argv (other local users see the process list): stdin or the environment.
    token = sys.stdin.readline().strip() if args.token_stdin else os.environ.get("WEBHOOK_TOKEN") or ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    username, password = os.environ.get("WEBHOOK_USERNAME"), os.environ.get("WEBHOOK_PASSWORD")
    basic = (username, password) if not token and username and password else None
    payload = sample_notification(
        resolved=args.resolved, alertname=args.alertname, severity=args.severity, labels=labels
    )
    try:
        response = httpx.post(url, json=payload, headers=headers, auth=basic, timeout=args.timeout)
    except httpx.HTTPError as exc:
        raise CommandError(f"cannot reach {url}: {exc or type(exc).__name__}") from None
    print(f"{url} answered {response.status_code}: {response.text[:2000]}")
    return 0 if response.status_code == 200 else 1
