"""Alert text as pages show it (services/alert_text.py): bounded pages of pairs, cut values, links."""

from __future__ import annotations

import json

from remediation_app.services.alert_text import (
    NAME_MAX,
    PAIRS_PAGE_SIZE,
    URL_MAX,
    VALUE_MAX,
    bounded_link,
    clipped,
    pairs_page,
)


def test_a_page_of_many_pairs_is_bounded_and_sorted() -> None:
    labels = {f"l{n:06d}": f"v{n}" for n in range(100_000)}
    first = pairs_page(labels)
    assert len(first.rows) == PAIRS_PAGE_SIZE and first.total == 100_000 and first.page_count == 2_000
    assert first.rows[0] == ["l000000", "v0", ""] and first.showing("labels") == "1-50 of 100,000 labels"
    second = pairs_page(labels, 1)
    assert second.rows[0][0] == "l000050" and second.showing("labels") == "51-100 of 100,000 labels"
    # Out of range: the last page (or the first).
    assert pairs_page(labels, 10**9).page == 1_999 and pairs_page(labels, -3).page == 0
    assert pairs_page({}).showing("labels") == "No labels" and pairs_page({"a": "b"}).showing("labels") == "1 label"


def test_long_names_and_values_are_cut_saying_how_much() -> None:
    name, value = "n" * (NAME_MAX + 5), "x" * (9 * 1024 * 1024)
    [row] = pairs_page({name: value}).rows
    assert row == [
        "n" * NAME_MAX,
        "x" * VALUE_MAX,
        f"name cut: 5 more characters; {len(value) - VALUE_MAX:,} more characters",
    ]
    # Whatever the alert holds, a page stays small: control characters are shown as U+FFFD.
    assert pairs_page({"a\x1b": "b\x00\tc\nd\x9b"}).rows == [["a\ufffd", "b\ufffd\tc\nd\ufffd", ""]]
    for worst_char in ("\x01", "\U0001f600", '"'):
        worst = {f"{n:03d}" + worst_char * 10_000: worst_char * 1_000_000 for n in range(PAIRS_PAGE_SIZE * 2)}
        page = json.dumps(pairs_page(worst).rows, ensure_ascii=False)  # as Reflex sends state
        assert len(page.encode()) < 250_000, worst_char


def test_links_are_http_and_bounded() -> None:
    assert bounded_link("https://runbooks.example/x") == "https://runbooks.example/x"
    assert bounded_link("javascript:alert(1)") == "" and bounded_link("data:text/html,x") == ""
    assert bounded_link("http://p.example/?" + "q" * URL_MAX) == ""
    assert clipped("abc", 2) == "ab…" and clipped("ab", 2) == "ab"
