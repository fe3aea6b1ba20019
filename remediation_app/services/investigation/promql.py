"""The PromQL of an alert: its expression taken from the `generatorURL`, what that expression compares
(the side worth charting, the threshold, the operator), and the queries a model asks for.

Expressions are parsed by promql-parser (a Rust parser), never picked apart with regular expressions.
The parser runs in the caller's thread: it holds the GIL, so an async caller blocks its event loop
for as long as it takes. Its time grows faster than linearly with nesting (a 4,000-character chain
of unary minus took 3.6 s, a 1 MB sum never finished), so every expression is first checked in one
linear pass: at most MAX_EXPRESSION_CHARS characters, MAX_NESTING levels of brackets and
MAX_OPERATORS operator characters. Within those the worst shapes take tens of milliseconds and real
alert expressions well under one.

Every refusal is an `ExpressionError` whose message is short, printable and safe to show to a user
or a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import SplitResult, parse_qs, urlencode, urlsplit, urlunsplit

import promql_parser

from remediation_app.services.text import is_storable

MAX_URL_CHARS = 16_384
MAX_EXPRESSION_CHARS = 4_000
MAX_NESTING = 64
MAX_OPERATORS = 150
MAX_CONDITIONS = 8
MESSAGE_MAX = 200

COMPARISONS = frozenset({">", "<", ">=", "<=", "==", "!="})
# `5 < x` reads `x > 5`: the operator seen from the other side.
_FLIPPED = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})
_OPERATOR_CHARS = frozenset("+-*/%^=!<>")
_KEYWORD_OPERATORS = frozenset({"and", "or", "unless", "atan2"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ExpressionError(ValueError):
    """An expression or a generatorURL that was refused. The message is short and safe to show."""


@dataclass(frozen=True)
class Condition:
    """One comparison, read as `value_expr op threshold`. `threshold` is None when the other side is
    not a finite constant (another vector, `scalar(...)`, Inf): `compared_to` is then its text."""

    value_expr: str
    op: str
    threshold: float | None
    compared_to: str | None = None
    returns_bool: bool = False  # `x > bool 5`: 0/1 for every series instead of a filter


@dataclass(frozen=True)
class AlertExpression:
    """An alert's expression understood. `text`: normalized, on one line. `value_expr`: what to chart
    (the compared side of the first comparison, the selector inside `absent(...)`, else `text`).
    `op`/`threshold`/`compared_to`: the first comparison, None when there is none. `conditions`: the
    comparisons at the top level, left to right, through `and`/`or` (not the right side of
    `unless`, which must be false for the alert to fire)."""

    text: str
    value_expr: str
    op: str | None = None
    threshold: float | None = None
    compared_to: str | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def is_threshold(self) -> bool:
        return self.threshold is not None


def expression_from_generator_url(url: str) -> str | None:
    """The `g0.expr` of a Prometheus-style generatorURL; None when it has none (Grafana, vmalert).
    Raises ExpressionError for a link that is not http(s), too long or malformed."""
    parts = _http_url(url, "the generatorURL")
    try:
        query = parse_qs(parts.query, max_num_fields=100)
    except ValueError:
        raise ExpressionError("the generatorURL has too many query parameters") from None
    values = query.get("g0.expr") or []
    expr = values[0].strip() if values else ""
    return expr or None


def datasource_host(url: str) -> str | None:
    """`host[:port]` of an http(s) URL, lowercase, without credentials or default port (to match an
    alert's generatorURL to a datasource's URL); None when the URL is not usable."""
    try:
        parts = _http_url(url, "the URL")
        host, port = parts.hostname, parts.port
    except (ExpressionError, ValueError):  # ValueError: a port that is not a number
        return None
    if not host:
        return None
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None or port == _DEFAULT_PORTS[parts.scheme.lower()] else f"{shown}:{port}"


def graph_url(base_url: str, expr: str, start: datetime, end: datetime) -> str:
    """A link to `expr` from `start` to `end` on the datasource's own graph page (Prometheus 2 and 3
    read these parameters). Credentials, query and fragment of `base_url` are left out: the link is
    shown in browsers. A naive datetime is taken as UTC."""
    parts = _http_url(base_url, "the datasource URL")
    host = parts.netloc.rpartition("@")[2]
    path = parts.path.rstrip("/") + "/graph"
    first, last = _utc(start), _utc(end)
    seconds = max(1, round((last - first).total_seconds()))
    params = {
        "g0.expr": expr,
        "g0.tab": "0",
        "g0.range_input": promql_parser.display_duration(timedelta(seconds=seconds)),
        "g0.end_input": last.strftime("%Y-%m-%d %H:%M:%S"),
        "g0.moment_input": last.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(params), ""))


def analyse_expression(expr: str, *, max_chars: int = MAX_EXPRESSION_CHARS) -> AlertExpression:
    """What an alert's expression compares. Raises ExpressionError when it is refused (see module)."""
    tree = _parse(expr, max_chars)
    text = _normalized(tree)
    top = _unwrap(tree)
    _require_chartable(top)
    conditions = _conditions(top)
    if conditions:
        first = conditions[0]
        return AlertExpression(text, first.value_expr, first.op, first.threshold, first.compared_to, tuple(conditions))
    if isinstance(top, promql_parser.Call) and top.func.name in ("absent", "absent_over_time") and top.args:
        # absent() is 1 or nothing; the selector inside shows when the series went away.
        inner = top.args[0]
        if isinstance(inner, promql_parser.MatrixSelector):
            return AlertExpression(text, _text(inner.vector_selector))
        if isinstance(inner, promql_parser.SubqueryExpr):
            return AlertExpression(text, _text(_unwrap(inner.expr)))
        return AlertExpression(text, _text(_unwrap(inner)))
    return AlertExpression(text, text)


def check_query(expr: str, max_len: int = MAX_EXPRESSION_CHARS, *, range_query: bool = True) -> str:
    """A query a model asked for, normalized on one line; ExpressionError when it is too long, does not
    parse or (for a range query) yields a range vector or a string."""
    tree = _parse(expr, max_len)
    if range_query:
        _require_chartable(_unwrap(tree))
    text = _normalized(tree)
    if len(text) > max_len:
        raise ExpressionError(f"the normalized query is {len(text):,} characters long; at most {max_len:,}")
    return text


def _http_url(url: str, what: str) -> SplitResult:
    if not isinstance(url, str) or not url.strip():
        raise ExpressionError(f"{what} is empty")
    if len(url) > MAX_URL_CHARS:
        raise ExpressionError(f"{what} is {len(url):,} characters long; at most {MAX_URL_CHARS:,} are read")
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. a broken IPv6 address
        raise ExpressionError(f"{what} is not a valid URL") from None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.netloc:
        raise ExpressionError(f"{what} is not an http(s) link")
    return parts


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in_string(ch: str, quote: str, escaped: bool) -> tuple[str, bool]:
    """One character inside a string opened by `quote`: the quote still open ("" once it closes) and
    whether the next character is escaped (a backslash escapes, except in a `raw` string)."""
    if escaped:
        return quote, False
    if ch == "\\" and quote != "`":
        return quote, True
    return ("" if ch == quote else quote), False


def _check_size(expr: str, max_chars: int) -> None:
    """Refuse what would make the parser slow, in one linear pass over the text: strings and comments
    are skipped, brackets nesting and operator characters outside label matchers counted."""
    if not expr.strip():
        raise ExpressionError("the expression is empty")
    if len(expr) > max_chars:
        raise ExpressionError(f"the expression is {len(expr):,} characters long; at most {max_chars:,} are allowed")
    if not is_storable(expr) or any(ch < " " and ch not in "\t\n\r" for ch in expr):
        raise ExpressionError("the expression contains control characters")
    depth = deepest = braces = operators = 0
    quote = ""
    escaped = in_comment = False
    word: list[str] = []
    for ch in expr + " ":
        if in_comment:
            in_comment = ch != "\n"
            continue
        if quote:
            quote, escaped = _in_string(ch, quote, escaped)
            continue
        if ch.isalnum() or ch == "_":
            word.append(ch)
            continue
        if word:
            operators += "".join(word) in _KEYWORD_OPERATORS
            word.clear()
        if ch in "\"'`":
            quote = ch
        elif ch == "#":
            in_comment = True
        elif ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
            if ch == "{":
                braces += 1
        elif ch in ")]}":
            depth -= 1
            if ch == "}" and braces:
                braces -= 1
        elif ch in _OPERATOR_CHARS and not braces:
            operators += 1
    if deepest > MAX_NESTING:
        raise ExpressionError(f"the expression nests {deepest} levels deep; at most {MAX_NESTING} are allowed")
    if operators > MAX_OPERATORS:
        raise ExpressionError(f"the expression has {operators} operators; at most {MAX_OPERATORS} are allowed")


def _parse(expr: str, max_chars: int) -> promql_parser.Expr:
    if not isinstance(expr, str):
        raise ExpressionError("the expression is not text")
    _check_size(expr, max_chars)
    try:
        return promql_parser.parse(expr)
    except ValueError as exc:
        raise ExpressionError(f"not valid PromQL: {_safe(str(exc))}") from None
    except BaseException as exc:
        # The parser panics on a few inputs (`x offset Inf`, `x[1e400]`): pyo3 raises its
        # PanicException, a BaseException, and the parser stays usable.
        if type(exc).__name__ != "PanicException":
            raise
        raise ExpressionError("not valid PromQL: the parser could not read it") from None


def _safe(message: str) -> str:
    flat = " ".join(message.split())
    shown = "".join(ch if ch.isprintable() else "\ufffd" for ch in flat)
    return shown if len(shown) <= MESSAGE_MAX else shown[: MESSAGE_MAX - 1] + "…"


def _normalized(tree: promql_parser.Expr) -> str:
    """The tree as one line of PromQL, checked to read back as the same tree (its prettified form
    unchanged; `repr()` would compare more but takes seconds on a deep tree). `str()` of a node loses
    escapes in strings, so the text comes from `prettify()`, whose line breaks are folded."""
    pretty = tree.prettify()
    text = _one_line(pretty)
    try:
        same = promql_parser.parse(text).prettify() == pretty
    except ValueError:
        same = False
    if not same:
        raise ExpressionError("the expression could not be normalized (a parser limitation)")
    return text


def _text(node: promql_parser.Expr) -> str:
    return _one_line(node.prettify())


def _one_line(text: str) -> str:
    """`text` with runs of whitespace outside strings folded to one space, none just inside ( )."""
    out: list[str] = []
    quote = ""
    escaped = pending_space = False
    for ch in text:
        if quote:
            out.append(ch)
            quote, escaped = _in_string(ch, quote, escaped)
            continue
        if ch.isspace():
            pending_space = True
            continue
        if pending_space and out and out[-1] != "(" and ch != ")":
            out.append(" ")
        pending_space = False
        out.append(ch)
        if ch in "\"'`":
            quote = ch
    return "".join(out)


def _unwrap(node: promql_parser.Expr) -> promql_parser.Expr:
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def _require_chartable(node: promql_parser.Expr) -> None:
    if isinstance(node, promql_parser.MatrixSelector | promql_parser.SubqueryExpr):
        raise ExpressionError(
            "the expression is a range vector (like x[5m]): wrap it in a function such as rate() to chart it"
        )
    if isinstance(node, promql_parser.StringLiteral):
        raise ExpressionError("the expression is a string, not a number or a series")


def _conditions(top: promql_parser.Expr) -> list[Condition]:
    found: list[Condition] = []
    pending = [top]
    while pending and len(found) < MAX_CONDITIONS:
        node = _unwrap(pending.pop())
        if not isinstance(node, promql_parser.BinaryExpr):
            continue
        op = str(node.op)
        if op in ("and", "or", "unless"):
            if op != "unless":
                pending.append(node.rhs)
            pending.append(node.lhs)  # popped first: left to right
        elif op in COMPARISONS:
            found.append(_condition(node, op))
    return found


def _condition(node: promql_parser.BinaryExpr, op: str) -> Condition:
    lhs, rhs = _unwrap(node.lhs), _unwrap(node.rhs)
    returns_bool = bool(node.modifier is not None and node.modifier.return_bool)
    left, right = _constant(lhs), _constant(rhs)
    if left is None and right is not None:
        value, other, constant = lhs, rhs, right
    elif left is not None and right is None:
        value, other, constant, op = rhs, lhs, left, _FLIPPED[op]
    else:  # two series (or two numbers): no threshold, but the comparison is kept
        return Condition(_text(lhs), op, None, _text(rhs), returns_bool)
    if math.isfinite(constant):
        return Condition(_text(value), op, constant, None, returns_bool)
    return Condition(_text(value), op, None, _text(other), returns_bool)


def _constant(node: promql_parser.Expr, depth: int = 0) -> float | None:
    """The value of a constant sub-expression (`5`, `-(5)`, `1024 * 1024`, `4 * 3600`), else None."""
    node = _unwrap(node)
    if isinstance(node, promql_parser.NumberLiteral):
        return float(node.val)
    if depth > MAX_NESTING:
        return None
    if isinstance(node, promql_parser.UnaryExpr):  # PromQL's only unary operator left in the tree is minus
        inner = _constant(node.expr, depth + 1)
        return None if inner is None else -inner
    if not isinstance(node, promql_parser.BinaryExpr) or str(node.op) not in _ARITHMETIC:
        return None
    left, right = _constant(node.lhs, depth + 1), _constant(node.rhs, depth + 1)
    if left is None or right is None:
        return None
    return _arithmetic(str(node.op), left, right)


def _arithmetic(op: str, left: float, right: float) -> float | None:
    try:
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            return left / right
        if op == "%":
            return math.fmod(left, right)
        if op == "^":
            return float(left**right)
        return math.atan2(left, right)
    except (ArithmeticError, ValueError, TypeError):  # x/0, overflow, a complex power
        return None
