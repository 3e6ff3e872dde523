"""How many trailing days the engine must see to decide a day as the whole history would.

One computation from the policy's own numbers of days (lookbacks, trends, notice, minimum and
maximum durations), used by everything that decides from a trailing window instead of the
whole history: the simulator's daily loop (``sim/decide.py``) and a stored decision
(``decisions/record.py``, whose audit reproduces the same window).
"""

from __future__ import annotations

from decimal import Decimal

from schoolmode.engine.grid import Calendar
from schoolmode.policy import model as m
from schoolmode.policy.durations import HOURS, duration_in_days
from schoolmode.policy.walk import walk

SCHOOL_DAY_SLACK = 17
"""Calendar days added to a lookback counted in school days (the longest holiday gap)."""

WEEKEND_SLACK = 2
"""The same for a calendar whose school days are every weekday (the engine's default
``Calendar()``): N weekdays back from any day span at most N x 7 / 5 + 2 calendar days."""


def school_day_slack(calendar: Calendar) -> int:
    """The slack of lookbacks in school days under ``calendar``: the weekend's for a calendar
    of every weekday, else the longest holiday gap."""
    if calendar.school_days is None and not calendar.holidays:
        return WEEKEND_SLACK
    return SCHOOL_DAY_SLACK


def _max_days(policy: m.Policy, ref: m.ValueRef) -> int:
    if isinstance(ref, m.ParamRef):
        param = policy.parameters.get(ref.param)
        if param is None:
            return 0
        values = [v.value for v in param.values if isinstance(v.value, Decimal | int)]
        return int(max(values, default=0))
    if isinstance(ref, Decimal | int) and not isinstance(ref, bool):
        return int(ref)
    return 0


def counts_to_date(policy: m.Policy) -> bool:
    """Whether a rule of ``policy`` sums a count ``to_date`` (every day so far): no trailing
    window decides it as the whole history does, however long, since the count keeps growing
    with the history. Whoever decides from a trailing window evaluates the whole history for
    such rules (the simulator's loop does, ``sim/decide.py``)."""
    return any(
        isinstance(node, m.WindowSpec) and node.kind == "to_date"
        for rule in policy.rules
        for node in walk(rule)
    )


def policy_window(policy: m.Policy, slack: int = SCHOOL_DAY_SLACK) -> int:
    """Calendar days the engine must see to decide tomorrow as the whole history would.

    For each rule: the sum of every number of days it states (sustained, window and lag
    lookbacks, trend days, notice, minimum and maximum durations), converted to calendar days
    when a unit may be school days (x 7/5 plus ``slack``: :func:`school_day_slack`); the window is twice the largest
    such sum plus a week, so that a spell in effect at the window's start has ended and its
    trigger's lookback is inside the window.
    """
    longest = 0
    for rule in policy.rules:
        total = 0
        school = False
        for node in walk(rule):
            if isinstance(node, m.TrendSpec):
                total += _max_days(policy, node.rising_days) + _max_days(policy, node.lag_days)
            elif isinstance(node, m.SustainedSpec | m.WindowSpec | m.LagSpec | m.Duration):
                unit = getattr(node, "unit", None)
                if isinstance(unit, str) and unit == HOURS:
                    total += duration_in_days(_max_days(policy, node.days), unit)[0]
                    continue
                total += _max_days(policy, node.days)
                if not (isinstance(unit, str) and unit == m.DayUnit.calendar_days.value):
                    school = school or unit is not None
        days = total * 7 // 5 + slack if school else total
        longest = max(longest, days)
    return 2 * longest + 7
