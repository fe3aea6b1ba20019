"""A case's series, written compactly and evaluated at any time: how a disk fills, a counter steps, a
cron job spikes every 15 minutes, with seeded noise, instead of thousands of literal points.

Times in a case are relative to the case's clock: "-6h", "-90m", "-1h30m", "0", "+2d", or seconds as a
number; an ISO time is read against the case's `now` (exported cases, services/evals/export.py).
An evaluation anchors that clock to the moment it runs, so the replayed datasource answers for the
last hours like a live one.

A series' value at a time t (seconds from now) is that of its last sample at or before t (samples
every `every` seconds, aligned on now), as Prometheus answers within its 5 minute look-back:

    base (`value`, or `points`: knots joined by straight lines, flat beyond the first and last)
    + `wave` (a sine) + `pulses` (a square pulse every N minutes) + `steps` (a counter's increments)
    + `noise` (uniform, seeded per sample: the same case answers the same every time)
    clamped to `clamp`; with `time_value` the value is seconds from now, answered as a Unix time
    (a certificate's expiry). `samples` instead gives literal (time, value) pairs.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

LOOKBACK_S = 300.0  # Prometheus' default look-back: a sample answers for 5 minutes after it
MAX_SPAN_S = 30 * 86400.0
MAX_SAMPLES = 5000  # literal samples in one series
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^([+-])?((?:\d+(?:\.\d+)?[smhdw])+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_MASK = (1 << 64) - 1


def _seconds_of(text: str) -> float | None:
    match = _DURATION.match(text.replace(" ", ""))
    if match is None:
        return None
    total = sum(float(n) * _UNIT_S[u] for n, u in _PART.findall(match.group(2)))
    return -total if match.group(1) == "-" else total


def _offset(value: Any, info: ValidationInfo) -> float:
    return offset_of(value, (info.context or {}).get("now"))


def offset_of(value: Any, now: datetime | None) -> float:
    """A time of the case as seconds from its `now` (negative: before); `now` reads an ISO time."""
    if isinstance(value, bool):
        raise ValueError("a time: -6h, -90m, 0, +2d, seconds, or an ISO time")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, datetime) or (isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\d", value)):
        if now is None:
            raise ValueError("an absolute time needs the case's `now` (or write it as -6h, -90m ...)")
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO time: {value!r}") from None
        if moment.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone (add Z for UTC)")
        number = (moment - now).total_seconds()
    elif isinstance(value, str):
        parsed = 0.0 if value.strip() in ("0", "now") else _seconds_of(value.strip())
        if parsed is None:
            raise ValueError(f"not a time: {value!r} (-6h, -90m, -1h30m, 0, +2d, seconds, or an ISO time)")
        number = parsed
    else:
        raise ValueError("a time: -6h, -90m, 0, +2d, seconds, or an ISO time")
    if not math.isfinite(number) or abs(number) > MAX_SPAN_S:
        raise ValueError("a time within 30 days of the case's now")
    return number


def _plain_duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("a duration: 15s, 5m, 1h, or seconds")
    seconds = _seconds_of(value.strip()) if isinstance(value, str) else float(value)
    if seconds is None:
        raise ValueError(f"not a duration: {value!r} (15s, 5m, 1h)")
    if not 0 < seconds <= MAX_SPAN_S:
        raise ValueError("a positive duration of at most 30 days")
    return seconds


TimeRef = Annotated[float, BeforeValidator(_offset)]
Duration = Annotated[float, BeforeValidator(_plain_duration)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Wave(Strict):
    period: Duration
    amplitude: Finite
    phase: TimeRef = 0.0


class Pulses(Strict):
    every: Duration
    width: Duration
    height: Finite
    phase: TimeRef = 0.0


class SeriesSpec(Strict):
    """One series of an answer: its labels and how its value moves (see the module)."""

    labels: dict[str, str] = Field(default_factory=dict)
    start: TimeRef = -86400.0
    end: TimeRef = 0.0
    every: Duration = 60.0
    value: Finite | None = None
    points: list[tuple[TimeRef, Finite]] | None = None
    wave: Wave | None = None
    pulses: Pulses | None = None
    steps: list[TimeRef] = Field(default_factory=list, max_length=1000)
    step_size: Finite = 1.0
    noise: Finite = Field(default=0.0, ge=0)
    seed: int = 0
    clamp: tuple[Finite, Finite] | None = None
    time_value: bool = False
    samples: list[tuple[TimeRef, Finite]] | None = Field(default=None, max_length=MAX_SAMPLES)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        for name in labels:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError(f"label name {name!r} is not a Prometheus label name")
        return labels

    @model_validator(mode="after")
    def _consistent(self) -> SeriesSpec:
        if self.end < self.start:
            raise ValueError("`end` is before `start`")
        if self.samples is not None:
            if any(v is not None for v in (self.value, self.points, self.wave, self.pulses)) or self.steps:
                raise ValueError("`samples` are literal: give no value, points, wave, pulses or steps with them")
            if not self.samples:
                raise ValueError("`samples` is empty")
        elif self.value is None and not self.points:
            raise ValueError("give `value`, `points` (knots: [[-6h, 0.62], [0, 0.97]]) or `samples`")
        if self.points is not None and [t for t, _ in self.points] != sorted(t for t, _ in self.points):
            raise ValueError("`points` must be in time order")
        if self.clamp is not None and self.clamp[0] > self.clamp[1]:
            raise ValueError("`clamp` is [low, high]")
        return self

    def at(self, t: float) -> float | None:
        """The value answered at `t` seconds from now, or None (no sample within the look-back)."""
        if self.samples is not None:
            return _sample_at(self.samples, t)
        if t < self.start:
            return None
        sample_t = math.floor(min(t, self.end) / self.every) * self.every
        if sample_t < self.start:
            sample_t = self.start
        if t - sample_t > LOOKBACK_S and t > self.end:
            return None
        return self._value(sample_t)

    def _value(self, t: float) -> float:
        value = self.value if self.value is not None else _interpolate(self.points or [], t)
        if self.wave is not None:
            value += self.wave.amplitude * math.sin(2 * math.pi * (t - self.wave.phase) / self.wave.period)
        if self.pulses is not None and (t - self.pulses.phase) % self.pulses.every < self.pulses.width:
            value += self.pulses.height
        if self.steps:
            value += self.step_size * sum(1 for step in self.steps if step <= t)
        if self.noise:
            value += self.noise * _unit_noise(self.seed, round(t / self.every))
        if self.clamp is not None:
            value = min(self.clamp[1], max(self.clamp[0], value))
        return value


def _interpolate(points: Sequence[tuple[float, float]], t: float) -> float:
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def _sample_at(samples: Sequence[tuple[float, float]], t: float) -> float | None:
    """The last literal sample at or before `t`, within the look-back (or the samples' own spacing,
    when they are sparser: exported evidence was thinned for its chart)."""
    spacing = (samples[-1][0] - samples[0][0]) / (len(samples) - 1) if len(samples) > 1 else 0.0
    lookback = max(LOOKBACK_S, 1.5 * spacing)
    best: tuple[float, float] | None = None
    for sample in samples:
        if sample[0] > t:
            break
        best = sample
    if best is None or t - best[0] > lookback:
        return None
    return best[1]


def _unit_noise(seed: int, index: int) -> float:
    """A number in [-1, 1] from (seed, sample index): splitmix64, no state, the same every run."""
    x = (seed * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9 + 0x632BE59BD9B4E019) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    x ^= x >> 31
    return x / _MASK * 2.0 - 1.0


def answered(spec: SeriesSpec, t: float, now_unix: float) -> float | None:
    """The value as the datasource answers it at `t` seconds from now (a Unix time for `time_value`)."""
    value = spec.at(t)
    if value is None:
        return None
    return now_unix + value if spec.time_value else value
