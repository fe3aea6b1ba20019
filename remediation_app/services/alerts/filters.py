"""What alert lists filter and sort by: `AlertFilter`, label matchers and the sort keys.

Label matchers are Alertmanager's (`team=storage`, `team!=storage`, `team=~stor.*`, `team!~stor.*`;
a missing label is the empty string). Equality and inequality run in SQL on the labels' JSON
(SQLite `json_extract`, PostgreSQL `->>`). A regular expression never runs in the database (SQLite has
no REGEXP and PostgreSQL's `~` has another syntax and no bound on its cost): the distinct values the
label takes among the alerts the other filters leave (at most MAX_REGEX_CANDIDATES) are matched by
the rules' RE2 engine (anchored, case-insensitive, linear time), and the SQL filter becomes `IN` (or
`NOT IN`) that list. Counting, sorting and paging then stay in SQL, exact on both databases.

Sort keys (`sort=severity`, `-severity` for descending): the board's default order is firing before
resolved, then severity (critical > error > warning > info > anything else), then the newest start
first; a chosen key comes first and that order follows; the id is always the last key (stable pages).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert
from remediation_app.services.rules.engine import REGEX_PREFIX, RuleValidationError, compile_pattern
from remediation_app.services.text import storable_text

# Most severe first; any other severity (or none) is "other".
SEVERITY_ORDER = ("critical", "error", "warning", "info")
OTHER_SEVERITY = "other"
SEVERITY_BUCKETS = (*SEVERITY_ORDER, OTHER_SEVERITY)
STATUSES = ("firing", "resolved")
# Alertmanager's view of an alert (from its sync) and the acknowledgement: "active" is none of them.
AM_STATES = ("silenced", "inhibited", "acked", "active")

MAX_MATCHERS = 8
MAX_MATCHER_TEXT = 300  # one matcher, as typed
MAX_LABEL_NAME = 100
# Distinct values of a label a regular expression is tried on; more and the filter is refused.
MAX_REGEX_CANDIDATES = 2_000
OPERATORS = ("=~", "!~", "!=", "=")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_MATCHER = re.compile(rf"\s*({_NAME})\s*(=~|!~|!=|=)\s*(.*?)\s*", re.DOTALL)
# A comma separates matchers only where the next one starts (a regex may hold commas: `.{1,3}`).
_SEPARATOR = re.compile(rf",(?=\s*{_NAME}\s*(?:=~|!~|!=|=))")


class MatcherError(ValueError):
    """A label filter that cannot be applied; the message says which matcher and why."""


@dataclass(frozen=True)
class LabelMatcher:
    name: str
    op: str  # one of OPERATORS
    value: str

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")


def _unquote(value: str) -> str:
    """Alertmanager's quoted form (`team="storage"`) gives the same value as the bare one."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def parse_matcher(text: str) -> LabelMatcher:
    """One matcher (`name=value`, `name!=value`, `name=~regex`, `name!~regex`); MatcherError if not."""
    shown = text.strip()[:60]
    if len(text) > MAX_MATCHER_TEXT:
        raise MatcherError(f"label filter {shown!r}...: longer than {MAX_MATCHER_TEXT} characters")
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise MatcherError(f"label filter {shown!r}: write name=value, name!=value, name=~regex or name!~regex")
    name, op, value = found.group(1), found.group(2), _unquote(found.group(3))
    if len(name) > MAX_LABEL_NAME:
        raise MatcherError(f"label filter {shown!r}: the label name is longer than {MAX_LABEL_NAME} characters")
    matcher = LabelMatcher(name, op, storable_text(value))
    if matcher.is_regex:
        _compiled(matcher)  # refused now rather than at every refresh
    return matcher


def parse_matchers(texts: Iterable[str]) -> tuple[LabelMatcher, ...]:
    """Matchers from texts, each holding one or several separated by commas; blanks are skipped."""
    matchers: list[LabelMatcher] = []
    for text in texts:
        for piece in _SEPARATOR.split(text):
            if not piece.strip():
                continue
            if len(matchers) == MAX_MATCHERS:
                raise MatcherError(f"at most {MAX_MATCHERS} label filters")
            matchers.append(parse_matcher(piece))
    return tuple(matchers)


def _compiled(matcher: LabelMatcher) -> Any:
    try:
        return compile_pattern(REGEX_PREFIX + matcher.value, field_name=matcher.name)
    except RuleValidationError as exc:
        raise MatcherError(f"label filter {str(matcher)[:60]!r}: {exc.message}") from exc


@dataclass(frozen=True)
class AlertFilter:
    """Empty fields mean "any". Ignored alerts are listed only when action == "ignore"."""

    status: str = ""
    severity: str = ""  # a severity as stored (lower case), or "other": none of SEVERITY_ORDER
    action: str = ""
    q: str = ""
    analysis: str = ""  # one of store.ANALYSIS_FILTERS: the state of the alert's latest job
    labels: tuple[LabelMatcher, ...] = ()
    am: str = ""  # one of AM_STATES


def label_value(name: str) -> Any:
    """The label's value in SQL, "" when the alert has no such label (as Alertmanager matches it)."""
    return sa.func.coalesce(col(Alert.labels)[name].as_string(), "")


def silenced() -> Any:
    return sa.func.json_array_length(col(Alert.am_silenced_by)) > 0


def inhibited() -> Any:
    return sa.func.json_array_length(col(Alert.am_inhibited_by)) > 0


def acked() -> Any:
    return col(Alert.acked_by) != ""


def am_clause(state: str) -> Any:
    if state == "silenced":
        return silenced()
    if state == "inhibited":
        return inhibited()
    if state == "acked":
        return acked()
    return sa.and_(~silenced(), ~inhibited(), ~acked())


def severity_clause(severity: str) -> Any:
    if severity == OTHER_SEVERITY:
        return col(Alert.severity).not_in(SEVERITY_ORDER)
    return col(Alert.severity) == storable_text(severity).lower()


async def label_clauses(session: AsyncSession, matchers: Sequence[LabelMatcher], others: list[Any]) -> list[Any]:
    """SQL for the matchers; a regex is resolved against the label's values among the alerts that
    `others` (the rest of the filter) leave. MatcherError when a label has too many values."""
    clauses: list[Any] = []
    for matcher in matchers:
        value = label_value(matcher.name)
        if matcher.op == "=":
            clauses.append(value == matcher.value)
        elif matcher.op == "!=":
            clauses.append(value != matcher.value)
        else:
            matching = await _regex_values(session, matcher, [*others, *clauses])
            inside = value.in_(matching) if matching else sa.false()
            clauses.append(inside if matcher.op == "=~" else sa.not_(inside))
    return clauses


async def _regex_values(session: AsyncSession, matcher: LabelMatcher, where: list[Any]) -> list[str]:
    compiled = _compiled(matcher)
    value = label_value(matcher.name)
    rows = await session.exec(select(value).where(*where).distinct().limit(MAX_REGEX_CANDIDATES + 1))
    values = [str(v) for v in rows.all()]
    if len(values) > MAX_REGEX_CANDIDATES:
        raise MatcherError(
            f"label filter {str(matcher)[:60]!r}: {matcher.name} takes more than {MAX_REGEX_CANDIDATES} values "
            "among these alerts; narrow the list first (another filter, or name=value)"
        )
    return [v for v in values if compiled.matches(v)]


# --- Sorting ------------------------------------------------------------------------------------


def status_rank() -> Any:
    return sa.case((col(Alert.status) == "firing", 1), else_=0)


def severity_rank() -> Any:
    """critical 4, error 3, warning 2, info 1, anything else 0."""
    ranks = [(col(Alert.severity) == name, len(SEVERITY_ORDER) - i) for i, name in enumerate(SEVERITY_ORDER)]
    return sa.case(*ranks, else_=0)


def _age() -> Any:
    # A younger alert has a later start: ascending age is descending start.
    return col(Alert.starts_at).desc()


# key -> (expression ascending, expression descending)
SORT_KEYS: dict[str, tuple[Any, Any]] = {
    "status": (lambda: status_rank().asc(), lambda: status_rank().desc()),
    "severity": (lambda: severity_rank().asc(), lambda: severity_rank().desc()),
    "alertname": (lambda: col(Alert.alertname).asc(), lambda: col(Alert.alertname).desc()),
    "instance": (lambda: col(Alert.instance).asc(), lambda: col(Alert.instance).desc()),
    "job": (lambda: col(Alert.job).asc(), lambda: col(Alert.job).desc()),
    "summary": (lambda: col(Alert.summary).asc(), lambda: col(Alert.summary).desc()),
    "age": (_age, lambda: col(Alert.starts_at).asc()),
    "notified": (lambda: col(Alert.times_notified).asc(), lambda: col(Alert.times_notified).desc()),
    "activity": (lambda: col(Alert.last_received_at).asc(), lambda: col(Alert.last_received_at).desc()),
}
BOARD_ORDER = ("-status", "-severity", "age")  # the default ("" or no sort)
ACTIVITY_ORDER = "-activity"  # newest activity first: the API's order


def valid_sort(sort: str) -> bool:
    """ "" (the board's order), a key, or "-" and a key."""
    return sort == "" or sort.removeprefix("-") in SORT_KEYS


def order_by(sort: str) -> list[Any]:
    """ORDER BY for `sort` (see valid_sort; anything else is the board's order), the id last."""
    if not valid_sort(sort):
        sort = ""
    keys = [sort] if sort else []
    if sort != ACTIVITY_ORDER:
        keys += [k for k in BOARD_ORDER if k.removeprefix("-") != sort.removeprefix("-")]
    terms = []
    for key in keys:
        ascending, descending = SORT_KEYS[key.removeprefix("-")]
        terms.append(descending() if key.startswith("-") else ascending())
    return [*terms, col(Alert.id).desc()]
