"""Parsing the Alertmanager webhook payload (services/alertmanager/payload.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from remediation_app.services.alertmanager.payload import AlertIn, NotificationIn
from tests.support.payloads import GO_ZERO_TIME, am_alert, grafana_notification, newer_alertmanager_notification


def alert(**overrides: object) -> AlertIn:
    data = {"status": "firing", "labels": {"alertname": "X"}, "startsAt": "2026-01-01T00:00:00Z", **overrides}
    return AlertIn.model_validate(data)


def error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[object, ...]]:
    return [e["loc"] for e in exc.value.errors()]


def test_v4_payload_with_unknown_fields_is_accepted() -> None:
    payload = NotificationIn.model_validate(newer_alertmanager_notification())
    assert payload.version == "4"
    assert len(payload.alerts) == 1
    parsed = payload.alerts[0]
    assert parsed.labels["alertname"] == "KubePodCrashLooping"
    assert parsed.fingerprint == "f00dfeedf00dfeed"
    assert parsed.ends_at is None


def test_grafana_flavoured_payload_is_accepted() -> None:
    payload = NotificationIn.model_validate(grafana_notification())
    assert payload.version == "1"
    assert payload.receiver == "remediation-engine"
    parsed = payload.alerts[0]
    assert parsed.labels == {"alertname": "HighLatency", "grafana_folder": "Prod", "severity": "critical"}
    assert parsed.starts_at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert parsed.ends_at is None
    assert parsed.generator_url == "http://grafana.example/alerting/grafana/abc/view"


def test_go_zero_ends_at_means_not_ended() -> None:
    assert alert(endsAt=GO_ZERO_TIME).ends_at is None
    assert alert(endsAt="0001-01-01T00:00:00.000+01:00").ends_at is None
    assert alert(endsAt=None).ends_at is None
    assert alert().ends_at is None


def test_real_ends_at_is_kept_in_utc() -> None:
    assert alert(endsAt="2026-01-01T02:00:00+02:00").ends_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


def test_nanosecond_timestamps_are_accepted() -> None:
    parsed = alert(startsAt="2026-03-04T05:06:07.123456789Z", endsAt="2026-03-04T06:06:07.987654321+01:00")
    assert parsed.starts_at == datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    assert parsed.ends_at is not None
    assert parsed.ends_at.replace(microsecond=0) == datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_offsets_are_converted_to_utc() -> None:
    parsed = alert(startsAt="2026-01-01T00:30:00-05:00")
    assert parsed.starts_at.utcoffset() is not None
    assert parsed.starts_at == datetime(2026, 1, 1, 5, 30, tzinfo=UTC)
    assert parsed.starts_at.tzinfo == UTC


def test_naive_timestamps_are_treated_as_utc() -> None:
    parsed = alert(startsAt="2026-01-01T12:00:00", endsAt="2026-01-01T13:00:00")
    assert parsed.starts_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parsed.starts_at.tzinfo == UTC
    assert parsed.ends_at == datetime(2026, 1, 1, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("startsAt", "0001-01-01T00:00:00+01:00"),  # UTC would be year 0
        ("startsAt", "9999-12-31T23:30:00-01:00"),  # UTC would be year 10000
        ("endsAt", "9999-12-31T23:30:00-01:00"),
    ],
)
def test_timestamps_outside_the_utc_range_are_a_validation_error(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        alert(**{field: value})
    assert error_locs(exc) == [(field,)]


@pytest.mark.parametrize("value", ["2026-13-01T00:00:00Z", "yesterday", "", True])
def test_invalid_timestamps_are_refused(value: object) -> None:
    with pytest.raises(ValidationError) as exc:
        alert(startsAt=value)
    assert error_locs(exc) == [("startsAt",)]


def test_fingerprint_fallback_is_stable_and_label_order_independent() -> None:
    one = alert(labels={"alertname": "X", "instance": "a", "job": "j"}, fingerprint=None)
    two = alert(labels={"job": "j", "instance": "a", "alertname": "X"})
    again = alert(labels={"alertname": "X", "instance": "a", "job": "j"}, fingerprint="")
    assert one.key_fingerprint() == two.key_fingerprint() == again.key_fingerprint()
    assert len(one.key_fingerprint()) == 16
    # A pinned value: changing the hash would split every alert stored without a fingerprint in two.
    assert one.key_fingerprint() == "71166eaa5443c8f4"


def test_fingerprint_fallback_differs_for_different_labels() -> None:
    base = alert(labels={"alertname": "X", "instance": "a"}).key_fingerprint()
    assert alert(labels={"alertname": "X", "instance": "b"}).key_fingerprint() != base
    assert alert(labels={"alertname": "X", "instanc": "ea"}).key_fingerprint() != base
    assert alert(labels={"alertname": "X", "instance": "a", "extra": ""}).key_fingerprint() != base


def test_senders_fingerprint_wins_over_the_fallback() -> None:
    assert alert(fingerprint="abc").key_fingerprint() == "abc"


def test_fingerprint_longer_than_the_column_is_stored_as_its_stable_hash() -> None:
    assert alert(fingerprint="f" * 128).key_fingerprint() == "f" * 128
    long_one = alert(fingerprint="f" * 129).key_fingerprint()
    assert long_one.startswith("sha256:") and len(long_one) <= 128
    assert alert(fingerprint="f" * 129).key_fingerprint() == long_one
    assert alert(fingerprint="f" * 130).key_fingerprint() != long_one


def test_numbers_where_strings_belong_are_kept_as_text() -> None:
    parsed = alert(labels={"alertname": "X", "port": 9100, "ratio": 0.5})
    assert parsed.labels == {"alertname": "X", "port": "9100", "ratio": "0.5"}


def test_nul_and_lone_surrogates_are_cleaned_everywhere() -> None:
    data = am_alert(labels={"bad\x00key": "v\ud800"}, annotations={"summary": "s\x00", "d\udc00": "x"})
    data["generatorURL"] = "http://g\x00"
    data["fingerprint"] = "fp\ud800"
    payload = NotificationIn.model_validate(
        {"receiver": "r\x00", "groupKey": "\ud800", "commonLabels": {"\x00": "\x00"}, "alerts": [data]}
    )
    parsed = payload.alerts[0]
    assert parsed.labels["bad\ufffdkey"] == "v\ufffd"
    assert parsed.annotations == {"summary": "s\ufffd", "d\ufffd": "x"}
    assert parsed.generator_url == "http://g\ufffd"
    assert parsed.fingerprint == "fp\ufffd"
    assert payload.receiver == "r\ufffd"
    assert payload.group_key == "\ufffd"
    assert payload.common_labels == {"\ufffd": "\ufffd"}


def test_null_optional_fields_are_defaults() -> None:
    payload = NotificationIn.model_validate(
        {
            "version": None,
            "groupKey": None,
            "truncatedAlerts": None,
            "status": None,
            "receiver": None,
            "groupLabels": None,
            "commonLabels": None,
            "commonAnnotations": None,
            "externalURL": None,
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "X"},
                    "annotations": None,
                    "startsAt": "2026-01-01T00:00:00Z",
                    "endsAt": None,
                    "generatorURL": None,
                    "fingerprint": None,
                }
            ],
        }
    )
    assert payload.truncated_alerts == 0
    assert payload.group_labels == {} and payload.receiver == ""
    parsed = payload.alerts[0]
    assert parsed.annotations == {} and parsed.generator_url == "" and parsed.ends_at is None
    assert parsed.key_fingerprint()  # the fallback


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"alerts": None}, ("alerts",)),
        ({"alerts": {"status": "firing"}}, ("alerts",)),
        ({"alerts": [{"status": 42, "labels": {}, "startsAt": "2026-01-01T00:00:00Z"}]}, ("alerts", 0, "status")),
        ({"alerts": [{"status": "firing", "labels": [], "startsAt": "2026-01-01T00:00:00Z"}]}, ("alerts", 0, "labels")),
        ({"alerts": [{"status": "firing", "labels": {}}]}, ("alerts", 0, "startsAt")),
        ({"alerts": [], "truncatedAlerts": -1}, ("truncatedAlerts",)),
        ({"alerts": [], "truncatedAlerts": 2**31}, ("truncatedAlerts",)),  # would overflow the INTEGER column
    ],
)
def test_wrong_shapes_name_the_field(payload: dict[str, object], loc: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError) as exc:
        NotificationIn.model_validate(payload)
    assert loc in error_locs(exc)
