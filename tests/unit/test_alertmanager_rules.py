"""The rules under silences, without any Alertmanager: which connection an externalURL names, which
silences cover which labels (Alertmanager's semantics), what a silence's matchers may be, and how
Alertmanager's failures become HTTP answers."""

from __future__ import annotations

import time

import pytest

from remediation_app.models import Alert
from remediation_app.services.alertmanager.acks import ack_matchers
from remediation_app.services.alertmanager.checks import (
    MATCHERS_MAX,
    Matcher,
    SilenceRefused,
    check_matchers,
    covers,
    matchers_for,
    refused_by,
)
from remediation_app.services.alertmanager.client import AlertmanagerError, _refusal
from remediation_app.services.alertmanager.connections import same_alertmanager


@pytest.mark.parametrize(
    ("external_url", "url", "same"),
    [
        ("http://am:9093/", "http://am:9093", True),
        ("http://AM:9093", "http://am:9093/", True),
        ("http://am/", "http://am:80", True),
        ("https://alerts.example/am/#/alerts", "https://alerts.example:443/am", True),
        ("http://[::1]:9093/", "http://[0:0::1]:9093", True),
        ("http://am:9094/", "http://am:9093", False),
        ("https://am:9093/", "http://am:9093", False),
        ("http://am:9093/", "http://am:9093/prefix", False),
        ("http://am:9093/prefixed", "http://am:9093/prefix", False),
        ("", "http://am:9093", False),
        ("not a url", "http://am:9093", False),
        ("http://[bad/", "http://am:9093", False),
    ],
)
def test_an_external_url_names_one_alertmanager(external_url: str, url: str, same: bool) -> None:
    assert same_alertmanager(external_url, url) is same


LABELS = {"alertname": "DiskWillFillSoon", "instance": "db-1:9100", "severity": "critical"}


@pytest.mark.parametrize(
    ("matchers", "covered"),
    [
        ([Matcher("alertname", "DiskWillFillSoon")], True),
        ([Matcher("alertname", "DiskWillFillSoon"), Matcher("instance", "db-2:9100")], False),
        ([Matcher("instance", "db-[0-9]+:9100", is_regex=True)], True),
        ([Matcher("instance", "db-[0-9]", is_regex=True)], False),  # anchored at both ends
        ([Matcher("instance", "DB-1:9100", is_regex=True)], False),  # case-sensitive
        ([Matcher("severity", "info", is_equal=False)], True),
        ([Matcher("severity", "crit.*", is_regex=True, is_equal=False)], False),
        ([Matcher("team", "")], True),  # a missing label is the empty string
        ([Matcher("team", "storage")], False),
        ([Matcher("instance", "(", is_regex=True)], False),  # unreadable: covers nothing shown
        ([], False),
    ],
)
def test_which_silences_cover_an_alert(matchers: list[Matcher], covered: bool) -> None:
    assert covers(matchers, LABELS) is covered


def test_a_backtracking_bomb_matches_in_linear_time() -> None:
    started = time.perf_counter()
    assert not covers([Matcher("v", "(a+)+$", is_regex=True, is_equal=True)], {"v": "a" * 4000 + "!"})
    assert time.perf_counter() - started < 1.0  # a backtracking engine would take longer than the universe


def test_the_prefill_is_every_label_alertmanager_accepts() -> None:
    alert = Alert(
        labels={**LABELS, "app.kubernetes.io/name": "db", "huge": "x" * 2000},
        fingerprint="f",
        status="firing",
        action="manual",
    )
    assert matchers_for(alert) == [Matcher(k, v) for k, v in sorted(LABELS.items())]
    assert check_matchers([*matchers_for(alert), Matcher("alertname", "DiskWillFillSoon")]) == matchers_for(alert)


@pytest.mark.parametrize(
    ("kind", "status", "answer"),
    [
        ("timeout", None, 504),
        ("unreachable", None, 503),
        ("query", 400, 400),
        ("query", 404, 404),
        ("auth", 401, 502),
        ("http", 500, 502),
        ("not_json", 200, 502),
        ("too_large", None, 502),
    ],
)
def test_alertmanager_failures_become_http_answers(kind, status, answer) -> None:
    refused = refused_by(AlertmanagerError("Alertmanager 'x' at http://am: why", kind=kind, status=status))
    assert isinstance(refused, SilenceRefused) and refused.status == answer and refused.message.endswith("why")


def test_alertmanagers_refusals_are_read_in_its_own_words() -> None:
    said = _refusal(400, b'"silence invalid: at least one matcher must not match the empty string"\n')
    assert str(said) == "refused (HTTP 400): silence invalid: at least one matcher must not match the empty string"
    assert (said.kind, said.status) == ("query", 400)
    wrapped = _refusal(422, b'{"code":601,"message":"silenceID in path must be of type uuid: \\"x\\""}')
    assert str(wrapped) == 'refused (HTTP 422): silenceID in path must be of type uuid: "x"'
    assert _refusal(401, b"nope").kind == "auth"
    assert str(_refusal(302, b"")) == "refused (HTTP 302) (a redirect: is this the API URL and not a login page?)"
    assert _refusal(503, b"<html>" + b"x" * 5000).kind == "http"


def test_an_alert_with_more_labels_than_a_silence_holds_can_be_acked() -> None:
    labels = {f"label_{n:02d}": "x" for n in range(40)} | {"alertname": "Wide", "instance": "db-1", "zone": "a"}
    matchers = ack_matchers(Alert(labels=labels))
    assert len(matchers) == MATCHERS_MAX
    assert [m.name for m in matchers[:2]] == ["alertname", "instance"]
    assert all(m.is_equal and not m.is_regex for m in matchers)
    assert check_matchers(matchers) == matchers
    few = {"alertname": "Narrow", "instance": "db-1"}
    assert ack_matchers(Alert(labels=few)) == matchers_for(Alert(labels=few))
