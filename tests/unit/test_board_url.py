"""The board's address (pages/alerts/dashboard_url.py): read back what was written, values that cannot
be used are named and left out, hostile and oversized addresses never raise."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from remediation_app.pages.alerts.dashboard_url import MAX_PAGE_NUMBER, BoardQuery, read_query, write_query


def test_defaults_write_nothing() -> None:
    assert write_query(BoardQuery()) == ""
    assert read_query("") == BoardQuery()


def test_round_trip() -> None:
    board = BoardQuery(
        status="firing",
        severity="critical",
        action="manual",
        analysis="failed",
        am="silenced",
        q="disk 100% & more",
        labels="team=storage, env=~prod.*",
        sort="-severity",
        page=2,
    )
    written = write_query(board)
    assert written.startswith("?status=firing&severity=critical&")
    assert "label=team%3Dstorage%2C%20env%3D~prod.%2A" in written and written.endswith("sort=-severity&page=3")
    assert read_query(written[1:]) == board


def test_repeated_labels_join_and_blanks_are_any() -> None:
    board = read_query("label=team%3Dstorage&label=env!%3Ddev&label=&status=&q=")
    assert board.labels == "team=storage, env!=dev" and board.status == "" and not board.ignored


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("status=burning", "status=burning (not one of firing, resolved)"),
        ("severity=bogus", "severity=bogus"),
        ("am=muted", "am=muted"),
        ("action=delete", "action=delete"),
        ("analysis=maybe", "analysis=maybe"),
        ("sort=password", "sort=password (not a column)"),
        ("sort=--severity", "sort=--severity"),
        ("page=0", "page=0 (not a page number)"),
        ("page=-1", "page=-1"),
        ("page=%C2%B2", "page=²"),  # a digit, but not an ASCII one
        (f"page={MAX_PAGE_NUMBER + 1}", "not a page number"),
        ("page=" + "9" * 5000, "not a page number"),
        ("label=team", "write name=value"),
        ("label=team%3D~(", "invalid regular expression"),
        ("q=" + "x" * 201, "longer than 200 characters"),
    ],
)
def test_what_cannot_be_used_is_named_and_left_out(query: str, named: str) -> None:
    board = read_query(query + "&q=kept")
    assert board.notice().startswith("Ignored in the address: ") and named in board.notice()
    assert board.q == "kept" or board.q == ""  # the rest still applies (a long q is the refused one)
    assert write_query(board) in ("?q=kept", "")


def test_other_parameters_are_kept_as_they_came() -> None:
    board = read_query("denied=1&q=a&x%20y=%26")
    assert board == BoardQuery(q="a", others="denied=1&x%20y=%26")
    assert write_query(board) == "?q=a&denied=1&x%20y=%26"
    assert write_query(BoardQuery(others="denied=1")) == "?denied=1"
    many = read_query("&".join(f"p{i}=1" for i in range(50)) + "&long=" + "x" * 500)
    assert many.others == "&".join(f"p{i}=1" for i in range(10))


def test_refused_values_are_shown_short() -> None:
    board = read_query("severity=" + quote("<script>" * 100))
    assert len(board.notice()) < 200 and "..." in board.notice()


def test_oversized_and_hostile_addresses() -> None:
    huge = "&".join(f"label=l{i}%3Dx" for i in range(5000))
    board = read_query(huge)
    assert board.labels == "" and "longer than" in board.notice()
    nine = read_query("&".join(f"label=l{i}%3Dx" for i in range(9)))
    assert nine.labels == "" and "at most 8 label filters" in nine.notice()
    assert read_query("%ff%fe=%00&q=%00a").q == "\x00a"  # kept as text; the store cleans it for SQL
    assert read_query("q=" + "%" * 100).q == "%" * 100
