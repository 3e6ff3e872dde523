"""A chart of a series with threshold lines, drawn as SVG on the server (no script): the
geometry the ``_chart.html`` template draws."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schoolmode.app.charts import Chart

WIDTH = 640
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 36


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Drawn:
    """Where a chart's marks go, in the SVG's user units."""

    width: int
    height: int
    points: str
    """The series as SVG polyline points (the days of a figure from its own series)."""
    derived: str
    """The stretch of derived days as SVG polyline points (with the day before it, so that the
    line joins), drawn dashed; empty when none."""
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    lines: list[tuple[float, str]]
    """Each threshold's y and its label."""
    marks: list[tuple[float, float]]
    """The points on days a rise rule held (x, y)."""
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int


def _nice(top: float) -> float:
    """A round upper bound at or above ``top``."""
    if top <= 0:
        return 1.0
    scale = 10.0 ** (len(str(int(top))) - 1)
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * scale >= top:
            return step * scale
    return 10.0 * scale


def draw(chart: Chart) -> Drawn:
    """The geometry of ``chart``: its series and its thresholds within one y-range from 0."""
    first, last = chart.first, chart.last
    span = max((last - first).days, 1)
    values = [v for _, v in chart.points] + [line.value for line in chart.lines]
    top = _nice(max(values) * 1.05)
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP

    def x(day: dt.date) -> float:
        return x0 + (x1 - x0) * (day - first).days / span

    def y(value: float) -> float:
        return y0 - (y0 - y1) * value / top

    derived = set(chart.derived)

    def line(selected: list[tuple[dt.date, float]]) -> str:
        return " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in selected)

    own = [(d, v) for d, v in chart.points if d not in derived]
    on = [(d, v) for d, v in chart.points if d in derived]
    k = next((k for k, (d, _) in enumerate(chart.points) if d in derived), None)
    before = [chart.points[k - 1]] if k else []  # the line joins the day before
    points, derived_points = line(own), line(before + on)
    months = []
    day = dt.date(first.year, first.month, 1)
    while day <= last:
        if day >= first:
            months.append(Tick(x(day), day.isoformat()))
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    ticks = [Tick(y(top * i / 4), f"{top * i / 4:g}") for i in range(5)]
    lines = [
        (
            y(line.value),
            f"{line.policy_id} {line.level + ' ' if line.level else ''}{line.op} {line.value:g}",
        )
        for line in chart.lines
    ]
    held = {d for r in chart.rises for d in r.held}
    marks = [(x(d), y(v)) for d, v in chart.points if d in held]
    return Drawn(WIDTH, HEIGHT, points, derived_points, months, ticks, lines, marks, x0, x1, y1, y0)
