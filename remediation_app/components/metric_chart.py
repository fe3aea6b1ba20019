"""A metric over time as a line chart (recharts): up to a handful of series over one window, a moment
marked by a vertical line (an alert's start) and a threshold by a horizontal one.

The data is shaped on the server: `rows` are {"t": unix seconds, "<key>": value, ...} sorted by time,
`lines` are {"key", "name", "color"} (one per series; a row without a series' key is a gap the line
is drawn across), `ticks` the times the axis labels (round times read better than recharts' own).
Times are shown in UTC. Legend names come from metric labels, untrusted: React renders them as text.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import FunctionStringVar

# JS formatters (recharts calls them in the browser): UTC times, compact numbers (4 significant digits).
_UTC_TICK = "(v) => new Date(v * 1000).toISOString().slice(11, 16)"
_UTC_LABEL = "(v) => new Date(v * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC'"
_NUMBER = (
    "(v) => typeof v === 'number' ? "
    "new Intl.NumberFormat('en', {notation: 'compact', maximumSignificantDigits: 4}).format(v) : v"
)


def metric_chart(
    rows: rx.Var,
    lines: rx.Var,
    *,
    ticks: rx.Var,
    marker: rx.Var[float],
    has_marker: rx.Var[bool],
    marker_label: str = "start",
    threshold: rx.Var[float],
    has_threshold: rx.Var[bool],
    threshold_label: rx.Var[str] | str = "threshold",
    height: str = "18em",
    **props: Any,
) -> rx.Component:
    """The chart in a box `height` tall; `props` go to the box (id, class_name...)."""
    return rx.box(
        rx.recharts.line_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
            rx.recharts.x_axis(
                data_key="t",
                type_="number",
                scale="time",
                domain=["dataMin", "dataMax"],
                ticks=ticks,
                tick_formatter=_UTC_TICK,
                min_tick_gap=24,
                label={"value": "UTC", "position": "insideBottomRight", "offset": -4},
            ),
            rx.recharts.y_axis(domain=["auto", "auto"], tick_formatter=_NUMBER, width=64),
            rx.recharts.graphing_tooltip(
                is_animation_active=False,
                custom_attrs={
                    "labelFormatter": FunctionStringVar.create(_UTC_LABEL),
                    "formatter": FunctionStringVar.create(_NUMBER),
                },
            ),
            rx.recharts.legend(),
            rx.foreach(
                lines,
                lambda line: rx.recharts.line(
                    data_key=line["key"],
                    name=line["name"],
                    stroke=line["color"],
                    type_="linear",
                    dot=False,
                    connect_nulls=True,
                    is_animation_active=False,
                    class_name="chart-series",
                ),
            ),
            rx.cond(
                has_marker,
                rx.recharts.reference_line(
                    # Reflex types x, y and label as str | int; recharts takes any number (0.05, a
                    # timestamp) and a label's position (above the plot: clear of the lines).
                    custom_attrs={"x": marker, "label": {"value": marker_label, "position": "top"}},
                    stroke=rx.color("red", 9),
                    stroke_dasharray="4 4",
                    if_overflow="extendDomain",
                    class_name="chart-marker",
                ),
            ),
            rx.cond(
                has_threshold,
                rx.recharts.reference_line(
                    custom_attrs={"y": threshold},
                    stroke=rx.color("amber", 9),
                    stroke_dasharray="6 3",
                    label=threshold_label,
                    if_overflow="extendDomain",
                    class_name="chart-threshold",
                ),
            ),
            data=rows,
            margin={"top": 24, "right": 24, "left": 8, "bottom": 8},
        ),
        height=height,
        width="100%",
        **props,
    )
