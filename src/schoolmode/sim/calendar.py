"""The school calendar of a simulated run: instructional days, and the engine's calendar."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from schoolmode.engine.grid import Calendar
from schoolmode.synth.district import calendar as synth_calendar

WEEK = (0, 1, 2, 3, 4)
"""School weekdays (0 Monday) of the synthetic district: Monday to Friday."""


def school_calendar(
    start: dt.date, days: int, holidays: bool, weekdays: tuple[int, ...] = WEEK
) -> np.ndarray:
    """(days,) bool: instructional days of the synthetic CPS calendar; outside its range,
    the school ``weekdays`` (without ``holidays``: every school weekday). A calendar day that
    is instructional but not a school weekday of the population is not a school day."""
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    weekday = np.array([d.weekday() in weekdays for d in dates], dtype=bool)
    if not holidays:
        return weekday
    cal = synth_calendar()
    first, last = cal["date"].min(), cal["date"].max()
    instructional = set(cal.filter(pl.col("instructional"))["date"].to_list())
    return np.array(
        [
            (w and d in instructional) if first <= d <= last else w  # type: ignore[operator]
            for d, w in zip(dates, weekday, strict=True)
        ],
        dtype=bool,
    )


def engine_calendar(
    start: dt.date, days: int, school_day: np.ndarray, weekdays: tuple[int, ...] = WEEK
) -> Calendar:
    """The engine's calendar: the run's school days, then the school ``weekdays`` after its
    last day."""
    dates = [start + dt.timedelta(days=i) for i in range(days + 1)]
    school_dates = frozenset(d for d, s in zip(dates, school_day, strict=False) if s)
    return Calendar(
        school_days=school_dates | frozenset(d for d in dates[days:] if d.weekday() in weekdays)
    )
