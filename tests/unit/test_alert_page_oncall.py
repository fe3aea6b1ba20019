"""The alert page's on-call parts that need no server: its title, the links to Alertmanager (only
http(s), hostile text escaped), the silence dialog's prefill and checks, and the history sentence."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

import pytest

from remediation_app.pages.alerts.alert_state import alertmanager_alert_link, alertmanager_base, tab_title
from remediation_app.pages.alerts.related_state import _history_text, _related_view
from remediation_app.pages.alerts.silence_state import (
    PREFILL_MAX,
    PRESETS,
    VALUE_MAX,
    MatcherRow,
    form_refusal,
    matcher_of,
    matchers_text,
    minutes_of,
    prefill,
    silence_link,
    silence_row,
)
from remediation_app.services.alertmanager.silences import Matcher, SilenceView
from remediation_app.services.investigation.related import History, RelatedAlerts


def test_tab_title_names_the_alert_and_is_bounded() -> None:
    assert tab_title("DiskFull") == "DiskFull"
    assert tab_title("x" * 5000) == "x" * 120 + "…"


@pytest.mark.parametrize(
    "external_url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example",
        "",
        "http://" + "a" * 9000,
    ],
)
def test_only_http_alertmanagers_are_linked(external_url: str) -> None:
    base = alertmanager_base(external_url)
    assert base == ""
    assert alertmanager_alert_link(base, {"alertname": "X"}) == ""
    assert silence_link(base, "abc") == ""


def test_alertmanager_link_filters_by_alertname_and_instance() -> None:
    base = alertmanager_base("HTTP://am.example:9093/")
    assert base == "HTTP://am.example:9093"
    labels = {"alertname": 'Disk"Full\\', "instance": "db-1:9100", "job": "node"}
    link = alertmanager_alert_link(base, labels)
    prefix = "HTTP://am.example:9093/#/alerts?filter="
    assert link.startswith(prefix)
    assert unquote(link[len(prefix) :]) == '{alertname="Disk\\"Full\\\\",instance="db-1:9100"}'
    # Nothing of the value escapes the query: no raw quote, space or hash after the prefix.
    assert all(c not in link[len(prefix) :] for c in '"# {}')
    assert alertmanager_alert_link(base, {"alertname": "Only"}).endswith("filter=" + "%7Balertname%3D%22Only%22%7D")
    assert silence_link(base, "a/b?c") == "HTTP://am.example:9093/#/silences/a%2Fb%3Fc"


def test_prefill_puts_the_place_first_and_stays_bounded() -> None:
    labels = {f"l{n:03d}": "v" for n in range(100)} | {
        "alertname": "X",
        "instance": "db-1",
        "job": "node",
        "huge": "x" * (VALUE_MAX + 1),
    }
    rows, left_out = prefill([Matcher(name=k, value=v) for k, v in sorted(labels.items())], len(labels) + 2)
    assert [r.name for r in rows[:3]] == ["alertname", "instance", "job"]
    assert len(rows) == PREFILL_MAX and left_out == len(labels) + 2 - PREFILL_MAX
    assert "huge" not in {r.name for r in rows}
    assert all(r.op == "=" for r in rows)


@pytest.mark.parametrize(
    ("op", "is_equal", "is_regex"), [("=", True, False), ("!=", False, False), ("=~", True, True), ("!~", False, True)]
)
def test_operators_round_trip(op: str, is_equal: bool, is_regex: bool) -> None:
    matcher = matcher_of(MatcherRow(name=" team ", value="a.*", op=op))
    assert (matcher.name, matcher.is_equal, matcher.is_regex) == ("team", is_equal, is_regex)
    assert matchers_text([matcher]) == f'team{op}"a.*"'


def test_an_unknown_operator_is_equality() -> None:
    assert matcher_of(MatcherRow(name="a", value="b", op="<script>")) == Matcher("a", "b")


@pytest.mark.parametrize(
    ("duration", "custom", "minutes"),
    [
        ("60", "", 60),
        ("custom", "90", 90),
        ("custom", " 15 ", 15),
        ("custom", "0", None),
        ("custom", "-5", None),
        ("custom", "1.5", None),
        ("custom", "²", None),
        ("custom", "9" * 50, None),
        ("custom", "", None),
    ],
)
def test_minutes_of(duration: str, custom: str, minutes: int | None) -> None:
    assert minutes_of(duration, custom) == minutes


def test_form_refusals_name_what_is_missing() -> None:
    one = [Matcher("alertname", "X")]
    assert "minutes" in form_refusal(None, "why", one)
    assert "comment" in form_refusal(30, "", one)
    assert "matcher" in form_refusal(30, "why", [])
    assert form_refusal(30, "why", one) == ""


def test_silence_row_is_text_and_bounded() -> None:
    view = SilenceView(
        silence_id="abc",
        alertmanager="environment",
        matchers=[Matcher("alertname", "<img src=x>"), Matcher("instance", "db.*", is_regex=True)],
        comment="c" * 10_000,
        created_by="alice",
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        ends_at=datetime(2026, 1, 1, 2, tzinfo=UTC),
        kind="silence",
    )
    row = silence_row(view, "https://am.example")
    assert row.matchers == 'alertname="<img src=x>", instance=~"db.*"'
    assert len(row.comment) <= 2_001 and row.link == "https://am.example/#/silences/abc"
    assert row.ends_at == "2026-01-01T02:00:00+00:00"


def test_history_sentence() -> None:
    assert _history_text(History(text="")) == "No other firing of this alert on this instance."
    one = History(text="", occurrences=[{"id": 1}], median_s=90, longest_s=90)
    assert _history_text(one) == "1 other firing of this alert on this instance; each lasted: median 1m, longest 1m."
    many = History(text="", occurrences=[{"id": n} for n in range(50)], capped=True)
    assert _history_text(many) == "50+ other firings of this alert on this instance."


def test_related_note() -> None:
    item = {"id": 7, "alertname": "A" * 400, "severity": "critical", "starts_at": "t", "shared": ["instance"]}
    found = RelatedAlerts(text="", alerts=[{**item, "summary": "s"}], scanned=3, found=4)
    rows, note = _related_view(found, {"instance": "db-1"})
    assert note == "and 3 more" and rows[0].id == "7" and rows[0].shared == "instance"
    assert len(rows[0].alertname) == 256  # cut, with the ellipsis
    assert "no instance" in _related_view(RelatedAlerts(""), {})[1]


def test_duration_presets() -> None:
    assert [label for _, label in PRESETS] == ["30m", "1h", "2h", "4h", "8h", "1d"]
