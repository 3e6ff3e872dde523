"""Backtest tables count ``no_data`` on its own: neither in person (kept) nor remote."""

from __future__ import annotations

import datetime as dt

import polars as pl

from schoolmode.backtest.run import run_backtest
from schoolmode.backtest.summary import headline
from tests.engine.test_properties import MONDAY, make_policy

DAYS = [MONDAY + dt.timedelta(days=d) for d in range(5)]


def _frame(a: list[int | None]) -> pl.DataFrame:
    """One school, five days: ``a`` per day (None: no reading), 100 students enrolled."""
    return pl.DataFrame(
        {"unit": ["s"] * 5, "date": DAYS, "a": a, "enrolled": [100] * 5},
        schema={"unit": pl.String, "date": pl.Date, "a": pl.Int64, "enrolled": pl.Int64},
    )


def test_no_data_days_are_neither_kept_nor_remote() -> None:
    # a's series runs from day 0 to day 1. Day 0 rests on no day of the backtest: in person;
    # day 0: a = 9 holds -> remote on day 1; day 1: 0 -> in person on day 2; days 2 and 3 are
    # after the series ends -> no_data on days 3 and 4 (a day's mode rests on the day before)
    policy = make_policy({"threshold": {"of": {"metric": "a"}, "op": ">=", "value": 5}})
    frame = _frame([9, 0, None, None, None])
    backtest = run_backtest([policy], {"school": frame}, DAYS[0], DAYS[-1])
    modes = backtest.runs[0].results["school"].sort("date")["mode"].cast(pl.String).to_list()
    assert modes == ["in_person", "remote", "in_person", "no_data", "no_data"]
    row = headline(backtest).row(0, named=True)
    assert row["mean school days without data"] == 2.0
    assert row["mean school days remote"] == 1.0  # no_data is not remote
    assert row["in-person student-days kept (%)"] == 66.7  # 2 of the 3 days with data
