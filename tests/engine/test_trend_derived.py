"""A trend reads day-to-day changes: on a day whose value is derived from a coarser series
(the frame's ``<metric>_derived`` is 1 that day or the day before, e.g. citywide positivity
from the weekly ZIP-code tests after the daily by-test series ends) the rule lacks its input
and the unit-day is ``no_data``, never "not met"; a level rule on the same value still reads
it. The vectorised engine and the reference engine agree."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from schoolmode.engine.evaluate import evaluate
from schoolmode.engine.grid import DERIVED_SUFFIX
from schoolmode.engine.nodes import trends_read
from schoolmode.engine.reference import evaluate_reference
from tests.engine.test_properties import MONDAY, make_policy

TREND: dict[str, Any] = {
    "trend": {"of": {"metric": "a"}, "rising_days": 3, "factor": 1, "lag_days": 1}
}
LEVEL: dict[str, Any] = {"threshold": {"of": {"metric": "a"}, "op": ">=", "value": 50}}


def _frame(values: list[float], derived_from: int | None) -> pl.DataFrame:
    days = [MONDAY + dt.timedelta(days=d) for d in range(len(values))]
    flags = [0 if derived_from is None or d < derived_from else 1 for d in range(len(values))]
    return pl.DataFrame(
        {"unit": ["c"] * len(values), "date": days, "a": values, "a" + DERIVED_SUFFIX: flags},
        schema={"unit": pl.String, "date": pl.Date, "a": pl.Float64, "a_derived": pl.Int8},
    )


def _modes(when: dict[str, Any], frame: pl.DataFrame) -> list[str]:
    policy = make_policy(when)
    got = evaluate(policy, {"school": frame}).frame("school", only_present=False)
    modes = [str(x) for x in got.sort("date")["mode"].to_list()]
    ref = evaluate_reference(policy, {"school": frame})["school"].sort("date")
    assert [str(x) for x in ref["mode"].to_list()] == modes
    return modes


# days 0-5 daily values, rising from day 1; from day 6 weekly values held (derived)
VALUES = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 30.0, 30.0, 30.0, 30.0, 30.0, 30.0, 30.0, 60.0]


def test_a_trend_on_derived_days_has_no_data_not_a_broken_run() -> None:
    """Rising on days 1-5 (daily values): met from day 3, remote the day after while it holds.
    From day 6 the value is derived: the trend there is not evaluated, so each day resting on
    it is no_data; without the flag the jump to the first weekly value would read as one
    more daily rise, and the held values after it as a run broken by flat days."""
    modes = _modes(TREND, _frame(VALUES, derived_from=6))
    assert modes[:4] == ["in_person"] * 4
    assert modes[4:7] == ["remote"] * 3  # triggers on days 3, 4, 5
    assert modes[7:] == ["no_data"] * 7
    flat = _modes(TREND, _frame(VALUES, derived_from=None))
    assert flat[7:] == ["remote"] + ["in_person"] * 6  # 15 -> 30 read as a daily rise


def test_a_level_rule_reads_derived_values() -> None:
    """Only the daily change is missing on a derived day: a threshold reads the value."""
    modes = _modes(LEVEL, _frame(VALUES, derived_from=6))
    assert modes == ["in_person"] * 14


def test_the_day_after_a_derived_day_has_no_daily_change_either() -> None:
    """Derived on day 6 only: days 6 and 7 (which compares with day 6) lack the change."""
    frame = _frame(VALUES, derived_from=6).with_columns(
        pl.when(pl.col("date") == MONDAY + dt.timedelta(days=6))
        .then(1)
        .otherwise(0)
        .cast(pl.Int8)
        .alias("a_derived")
    )
    modes = _modes(TREND, frame)
    # days 6 and 7 decide days 7 and 8
    assert modes[7:9] == ["no_data", "no_data"]
    assert modes[9:] == ["in_person"] * 5


@pytest.mark.parametrize(
    ("when", "reads"),
    [
        (TREND, {"a"}),
        (LEVEL, set()),
        ({"all": [TREND, LEVEL]}, {"a"}),
        ({"not": {"sustained": {"days": 2, "unit": "calendar_days", "condition": TREND}}}, {"a"}),
    ],
)
def test_trends_read_finds_the_metrics_under_a_trend(when: dict[str, Any], reads: set[str]) -> None:
    rule = make_policy(when).rules[0]
    assert rule.when is not None
    assert trends_read(rule.when, {}) == reads
