"""Runs of a sustained or trend condition for one unit on one day: how long the current run of
met days is, and which day (with what value) broke the run before it.

A ``sustained: {condition, days, unit}`` condition holds once its inner condition has held on
``days`` consecutive days (calendar or school days); a ``trend`` holds once its daily rise has
held on ``rising_days`` consecutive calendar days. The evaluation records the daily values
(the inner condition, the trend's daily rise); this module reads one unit's row of them back,
for the trace, the explanations and the worked cases. Not a hot path: one unit and one day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from schoolmode.engine.grid import Axis
from schoolmode.engine.nodes import CondValue
from schoolmode.policy import model as m

LOOKBACK = 400
"""Days looked back for the day that broke a run (more than any policy's window)."""


@dataclass(frozen=True)
class Run:
    """The current run of a condition's met days ending on a day."""

    length: int
    """Consecutive counted days (school days for a school-day unit) on which the daily
    condition held, ending on the day (0: it did not hold that day)."""
    unit: str
    """``calendar_days`` or ``school_days``."""
    broke_on: dt.date | None
    """The latest counted day up to the day on which the daily condition was known not to
    hold (None: none in the days evaluated, or the run starts at a day without data)."""
    unknown_on: dt.date | None = None
    """The day without data that precedes the run, when that (not a failed day) ends it."""


def daily_of(node: m.Condition, record: dict[int, Any]) -> CondValue | None:
    """The recorded daily values a sustained or trend condition counts runs of."""
    if isinstance(node, m.SustainedCond):
        got = record.get(id(node.sustained.condition))
    elif isinstance(node, m.TrendCond):
        got = record.get(id(node.trend))
    else:
        return None
    return got if isinstance(got, CondValue) else None


def run_at(daily: CondValue, u: int, d: int, axis: Axis, unit: str) -> Run:
    """The run ending on day ``d`` for unit ``u`` of ``daily`` (counting ``unit`` days)."""
    value, known = daily.value[u], daily.known[u]
    school = axis.school
    length = 0
    i = d
    stop = max(-1, d - LOOKBACK)
    while i > stop:
        if unit == m.DayUnit.school_days and not school[i]:
            i -= 1
            continue
        if not known[i]:
            return Run(length, unit, None, axis.date(i))
        if not value[i]:
            return Run(length, unit, axis.date(i))
        length += 1
        i -= 1
    return Run(length, unit, None)


def unit_of(node: m.Condition, resolve: Any) -> str:
    """The day unit a run of ``node`` counts (``resolve``: a value reference to its value)."""
    if isinstance(node, m.SustainedCond):
        return str(resolve(node.sustained.unit))
    return m.DayUnit.calendar_days.value


def met_days(daily: CondValue, u: int, d: int, window: int) -> tuple[int, int]:
    """(met, known) among the ``window`` calendar days ending on ``d``: e.g. "rose on 5 of the
    7 days"."""
    first = max(0, d - window + 1)
    known = daily.known[u, first : d + 1]
    met = np.logical_and(daily.value[u, first : d + 1], known)
    return int(met.sum()), int(known.sum())
