"""Durations counted in hours (``unit: hours`` in a rule's timing): an effect starts on a day
and lasts whole days (the engine's and the simulator's step is a day), so hours are in effect
as whole calendar days, rounded up. Windows and runs are counted in days only."""

from __future__ import annotations

from typing import Any

HOURS = "hours"
HOURS_PER_DAY = 24


def duration_in_days(count: int, unit: str) -> tuple[int, str]:
    """A duration's count and unit as the engine counts it: ``hours`` become whole calendar
    days, rounded up (36 hours -> 2 days, 1 hour -> 1 day, 0 -> 0); other units unchanged."""
    if unit == HOURS:
        return -(-count // HOURS_PER_DAY), "calendar_days"
    return count, unit


def no_hours(unit: Any) -> Any:
    """Validator of a window's or a run's unit: not ``hours``."""
    if unit == HOURS:
        raise ValueError(
            "hours is a unit of durations (timing: notice, min_duration, max_duration, "
            "return_notice) only; count a window or a run in calendar_days or school_days"
        )
    return unit
