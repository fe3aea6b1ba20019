"""Evaluation cases: an alert, the evidence the investigation's tools will find, and the expected
answer as a rubric. One YAML file, or a folder holding `case.yaml` (and, optionally, `metrics.om`:
raw samples in the OpenMetrics text format). The format is in docs/evals.md; the shipped cases are
in remediation_app/evals/cases/.

Loading never runs anything a file says (yaml.safe_load); sizes are bounded; every error names the
file and the field (`CaseError`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from remediation_app.services.alertmanager.payload import NotificationIn
from remediation_app.services.evals.openmetrics import parse_openmetrics
from remediation_app.services.evals.series import Duration, Finite, SeriesSpec, Strict, TimeRef, offset_of
from remediation_app.services.investigation.promql import ExpressionError, check_query

SHIPPED = Path(__file__).resolve().parents[2] / "evals" / "cases"
MAX_FILE_BYTES = 1024 * 1024
MAX_CASES = 2000
CASE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
CASE_FILE = "case.yaml"
METRICS_FILE = "metrics.om"
# Where a generatorURL made from `expression` points (the replay answers whatever its host).
GENERATOR_BASE = "http://prometheus:9090"
# The payload's times may be written relative to the case's clock, like the series'.
_PAYLOAD_TIMES = ("startsAt", "endsAt")


class CaseError(ValueError):
    """A case that cannot be used; the message names the file and the field."""


def normalized_query(text: str) -> str:
    """A query as the investigation asks it (one line, the parser's spelling): the key of a fixture."""
    return check_query(text, range_query=False)


class QueryFixture(Strict):
    """What the datasource answers to one query (and its other spellings, `also`). No series: the
    query is known and answers an empty result."""

    query: str
    also: list[str] = Field(default_factory=list, max_length=20)
    series: list[SeriesSpec] = Field(default_factory=list, max_length=50)

    @field_validator("query", "also")
    @classmethod
    def _parses(cls, value: str | list[str]) -> str | list[str]:
        try:
            if isinstance(value, list):
                return [normalized_query(v) for v in value]
            return normalized_query(value)
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None


class RelatedAlert(Strict):
    """Another alert firing now (what `search_alerts` and the related-alerts evidence find)."""

    alertname: str
    severity: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    starts_at: TimeRef = -3600.0
    summary: str = ""


class Occurrence(Strict):
    """An earlier occurrence of the alert on its instance (its history)."""

    starts_at: TimeRef
    ends_at: TimeRef | None = None


class Diagnostic(Strict):
    """The output of a command a person approved and ran (evidence of a follow-up analysis)."""

    command: str = Field(min_length=1, max_length=4000)
    server: str = "host"
    stdout: str = Field(default="", max_length=20_000)
    stderr: str = Field(default="", max_length=20_000)
    exit_status: int | None = 0


class Check(Strict):
    """A fact the root cause must state, or a claim it must not make. `any`: phrases (case and
    spacing ignored, whole words), one is enough; `regex`: Python regular expressions; neither: only
    the judge decides (from `description`). `needs`: the queries its evidence comes from."""

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    any: list[str] = Field(default_factory=list, max_length=50)
    regex: list[str] = Field(default_factory=list, max_length=20)
    needs: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        return patterns

    @field_validator("needs")
    @classmethod
    def _queries(cls, queries: list[str]) -> list[str]:
        try:
            return [normalized_query(q) for q in queries]
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _has_words(self) -> Check:
        if not (self.any or self.regex or self.description):
            raise ValueError("give `any` phrases, a `regex` or a `description` for the judge")
        return self


class Fix(Check):
    """The fix: a command among the immediate actions (or a step of the remediation) that matches."""

    name: str = "fix"


class Rubric(Strict):
    facts: list[Check] = Field(min_length=1, max_length=20)
    forbidden: list[Check] = Field(default_factory=list, max_length=20)
    fix: Fix | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Rubric:
        names = [c.name for c in [*self.facts, *self.forbidden]]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"check names must be unique: {', '.join(twice)}")
        return self


class Case(Strict):
    id: str
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    now: datetime | None = None
    payload: dict[str, Any]
    alert_index: int = Field(default=0, ge=0)
    # The analysed alert's PromQL, when its payload has no generatorURL: one is made from it.
    expression: str = Field(default="", max_length=4000)
    queries: list[QueryFixture] = Field(default_factory=list, max_length=200)
    metrics: list[SeriesSpec] = Field(default_factory=list, max_length=500)
    related_alerts: list[RelatedAlert] = Field(default_factory=list, max_length=100)
    history: list[Occurrence] = Field(default_factory=list, max_length=200)
    diagnostics: list[Diagnostic] = Field(default_factory=list, max_length=10)
    expected: Rubric
    scrape_every: Duration = 60.0
    source: str = Field(default="", max_length=500)
    weight: Finite = Field(default=1.0, gt=0)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not CASE_ID.match(value):
            raise ValueError("lowercase letters, digits, '.', '_' or '-' (at most 100), first a letter or digit")
        return value

    @field_validator("payload")
    @classmethod
    def _payload(cls, payload: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """It parses as Alertmanager's, its times resolve (a relative startsAt, or an ISO one with `now`)."""
        try:
            case_now = (info.context or {}).get("now")
            NotificationIn.model_validate(anchored(payload, datetime.now().astimezone(), case_now))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ValueError(f"{_field(tuple(first['loc']))}: {first['msg']}") from None
        return payload

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        try:
            return normalized_query(value) if value else value
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _checked(self) -> Case:
        if self.alert_index >= len(self.payload.get("alerts") or []):
            raise ValueError(f"alert_index {self.alert_index}: the payload has fewer alerts")
        for fixture in self.metrics:
            if not fixture.labels.get("__name__"):
                raise ValueError("every series of `metrics` needs the label __name__ (its metric name)")
        keys = [k for f in self.queries for k in (f.query, *f.also)]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"queries answered twice: {'; '.join(twice)}")
        return self

    def notification(self, now: datetime) -> NotificationIn:
        """The payload with its times anchored at `now` (a relative startsAt becomes a time), and a
        generatorURL made from `expression` for the analysed alert when it has none."""
        payload = anchored(self.payload, now, self.now)
        alert = payload["alerts"][self.alert_index]
        if self.expression and not alert.get("generatorURL"):
            alert["generatorURL"] = f"{GENERATOR_BASE}/graph?{urlencode({'g0.expr': self.expression})}"
        return NotificationIn.model_validate(payload)


def anchored(payload: dict[str, Any], now: datetime, case_now: datetime | None) -> dict[str, Any]:
    """A copy of a payload with each alert's startsAt/endsAt as times from `now`."""
    alerts = []
    for alert in payload.get("alerts") or []:
        if isinstance(alert, dict):
            alert = dict(alert)
            for key in _PAYLOAD_TIMES:
                if alert.get(key) is not None:
                    alert[key] = (now + timedelta(seconds=offset_of(alert[key], case_now))).isoformat()
        alerts.append(alert)
    return {**payload, "alerts": alerts}


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the document)"


def _errors(source: str, exc: ValidationError) -> CaseError:
    lines = []
    for error in exc.errors()[:20]:
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{source}: {_field(tuple(error['loc']))}: {message}")
    return CaseError("\n".join(lines))


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CaseError(f"{path}: {size:,} bytes; a case file may hold at most {MAX_FILE_BYTES:,}")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CaseError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise CaseError(f"{path}: cannot read it: {exc.strerror or exc}") from None


def parse_case(text: str, source: str, *, default_id: str = "", openmetrics: str = "") -> Case:
    """One case from its YAML text; `source` names it in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise CaseError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise CaseError(f"{source}: a case is a YAML mapping (id, title, payload, expected, ...)")
    data.setdefault("id", default_id or Path(source).stem)
    now = data.get("now")
    if isinstance(now, str):
        try:
            now = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            raise CaseError(f"{source}: now: not an ISO time: {now!r}") from None
    if isinstance(now, datetime) and now.tzinfo is None:
        raise CaseError(f"{source}: now: give a time zone (e.g. 2025-01-15T12:00:00Z)")
    if openmetrics:
        try:
            data["metrics"] = [*(data.get("metrics") or []), *parse_openmetrics(openmetrics)]
        except ValueError as exc:
            raise CaseError(f"{source.replace(CASE_FILE, METRICS_FILE)}: {exc}") from None
    try:
        return Case.model_validate(data, context={"now": now})
    except ValidationError as exc:
        raise _errors(source, exc) from None


def load_case(path: Path) -> Case:
    """A case file, or a case folder (its case.yaml and metrics.om)."""
    if path.is_dir():
        openmetrics = _read(path / METRICS_FILE) if (path / METRICS_FILE).is_file() else ""
        return parse_case(_read(path / CASE_FILE), str(path / CASE_FILE), default_id=path.name, openmetrics=openmetrics)
    return parse_case(_read(path), str(path), default_id=path.stem)


def _case_paths(root: Path) -> list[Path]:
    if root.is_file() or (root / CASE_FILE).is_file():
        return [root]
    if not root.is_dir():
        raise CaseError(f"{root}: no such file or folder")
    entries = sorted(root.iterdir())
    found = [p for p in entries if (p.is_file() and p.suffix in (".yaml", ".yml")) or (p / CASE_FILE).is_file()]
    if not found:
        raise CaseError(f"{root}: no case in it (*.yaml files, or folders with {CASE_FILE})")
    if len(found) > MAX_CASES:
        raise CaseError(f"{root}: {len(found)} cases; at most {MAX_CASES}")
    return found


def load_cases(root: Path | None = None) -> list[Case]:
    """Every case of a file or folder (the shipped set by default), in id order. Raises CaseError with
    every broken case's errors, so one run shows them all."""
    paths = _case_paths(root or SHIPPED)
    cases: dict[str, tuple[Case, Path]] = {}
    problems: list[str] = []
    for path in paths:
        try:
            case = load_case(path)
        except CaseError as exc:
            problems.append(str(exc))
            continue
        if case.id in cases:
            problems.append(f"{path}: id {case.id!r} is also the id of {cases[case.id][1]}")
            continue
        cases[case.id] = (case, path)
    if problems:
        raise CaseError("\n".join(problems))
    return [cases[k][0] for k in sorted(cases)]
