"""The board's filters, sort and page in its address, both ways (no Reflex here: plain functions).

    /?status=firing&severity=critical&q=disk&label=team%3Dstorage&sort=-severity&page=2

Reading takes the query string as the browser sent it: a value that cannot be a filter (an unknown
status, a label filter that does not parse, a page that is not a number...) is left out and named in
the notice; other parameters (the login's `denied`) are not the board's: they are kept as they came
(up to MAX_OTHERS of them) and written back after the board's. Every value is bounded before it is
looked at. Writing gives the query string of the board's current
filters ("" when they are the defaults), which the page puts in the address bar without reloading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode

from remediation_app.services.alerts.filters import (
    AM_STATES,
    MAX_MATCHER_TEXT,
    MAX_MATCHERS,
    SEVERITY_BUCKETS,
    STATUSES,
    MatcherError,
    parse_matchers,
    valid_sort,
)
from remediation_app.services.alerts.store import ANALYSIS_FILTERS, MAX_QUERY

MAX_QUERY_STRING = 8_192  # longer addresses are cut here before parsing
MAX_PAGE_NUMBER = 100_000
MAX_LABELS_TEXT = MAX_MATCHERS * (MAX_MATCHER_TEXT + 2)
ACTIONS = ("auto_analyze", "manual", "ignore")
# Parameter -> the values it may take (None: free text, checked below).
CHOICES: dict[str, tuple[str, ...]] = {
    "status": STATUSES,
    "severity": SEVERITY_BUCKETS,
    "action": ACTIONS,
    "analysis": ANALYSIS_FILTERS,
    "am": AM_STATES,
}
SHOWN_MAX = 60  # of a refused value, in the notice
BOARD_PARAMS = {*CHOICES, "q", "label", "sort", "page"}
MAX_OTHERS, MAX_OTHER_TEXT = 10, 200  # parameters that are not the board's, kept in the address


@dataclass
class BoardQuery:
    """What the address asks for ("" = any / the default)."""

    status: str = ""
    severity: str = ""
    action: str = ""
    analysis: str = ""
    am: str = ""
    q: str = ""
    labels: str = ""  # as typed in the label filter: matchers separated by commas
    sort: str = ""
    page: int = 0  # 0-based (the address says page=1 for the first)
    others: str = ""  # the address's parameters that are not the board's, encoded ("denied=1")
    ignored: list[str] = field(default_factory=list)  # "severity=bogus (why)"

    def notice(self) -> str:
        if not self.ignored:
            return ""
        return "Ignored in the address: " + "; ".join(self.ignored) + "."


def _shown(name: str, value: str) -> str:
    return f"{name}={value[:SHOWN_MAX]}{'...' if len(value) > SHOWN_MAX else ''}"


def read_query(query_string: str) -> BoardQuery:
    """The board's settings from a query string (without the "?"), never raising."""
    board = BoardQuery()
    pairs = parse_qsl(query_string[:MAX_QUERY_STRING], keep_blank_values=True)
    label_texts: list[str] = []
    others = [(n, v) for n, v in pairs if n not in BOARD_PARAMS and len(n) + len(v) <= MAX_OTHER_TEXT]
    board.others = urlencode(others[:MAX_OTHERS], quote_via=quote)
    for name, value in pairs:
        if name in CHOICES:
            if value == "":
                continue
            if value not in CHOICES[name]:
                board.ignored.append(f"{_shown(name, value)} (not one of {', '.join(CHOICES[name])})")
                continue
            setattr(board, name, value)
        elif name == "q":
            if len(value) > MAX_QUERY:
                board.ignored.append(f"{_shown(name, value)} (longer than {MAX_QUERY} characters)")
                continue
            board.q = value
        elif name == "label":
            label_texts.append(value)
        elif name == "sort":
            if not valid_sort(value):
                board.ignored.append(f"{_shown(name, value)} (not a column)")
                continue
            board.sort = value
        elif name == "page":
            if not (value.isascii() and value.isdigit() and len(value) <= 6 and 1 <= int(value) <= MAX_PAGE_NUMBER):
                board.ignored.append(f"{_shown(name, value)} (not a page number)")
                continue
            board.page = int(value) - 1
    labels = ", ".join(t.strip() for t in label_texts if t.strip())
    if labels:
        try:
            if len(labels) > MAX_LABELS_TEXT:
                raise MatcherError(f"longer than {MAX_LABELS_TEXT} characters")
            parse_matchers([labels])
        except MatcherError as exc:
            board.ignored.append(f"{_shown('label', labels)} ({exc})")
        else:
            board.labels = labels
    return board


def write_query(board: BoardQuery) -> str:
    """ "?status=firing&..." for the board's settings, "" when all are the defaults."""
    pairs = [(name, getattr(board, name)) for name in (*CHOICES, "q") if getattr(board, name)]
    if board.labels.strip():
        pairs.append(("label", board.labels.strip()))
    if board.sort:
        pairs.append(("sort", board.sort))
    if board.page:
        pairs.append(("page", str(board.page + 1)))
    query = "&".join(part for part in (urlencode(pairs, quote_via=quote), board.others) if part)
    return "?" + query if query else ""
