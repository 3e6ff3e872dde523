"""Citywide positivity after CDPH's daily by-test series ends, derived from the ZIP weekly
series (metrics/community.py: ``by_test_factor``, ``derived_positivity``), checked against
the by-test series where both exist and against the figures reported at the time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from schoolmode.importers.cdph import DailyCases, DailyTesting, ZipWeekly
from schoolmode.metrics.community import (
    BY_TEST,
    DERIVED,
    by_test_factor,
    citywide_metrics,
    citywide_series,
    derived_positivity,
    positivity,
    zip_weekly_positivity,
)
from schoolmode.settings import SHIPPED_DATA
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import

D = dt.date.fromisoformat
LAST_BY_TEST = D("2021-11-24")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shipped snapshot's daily tests, daily cases and ZIP weekly series in a store."""
    path = tmp_path_factory.mktemp("derived") / "store.sqlite"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        for importer in (DailyTesting(), DailyCases(), ZipWeekly()):
            run_import(engine, importer, Path(f"{SHIPPED_DATA / importer.default_files[0]}.gz"))
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def chicago(store: str) -> pl.DataFrame:
    engine = make_engine(store)
    try:
        return citywide_metrics(engine)
    finally:
        engine.dispose()


def _on(frame: pl.DataFrame, day: str) -> dict[str, object]:
    return frame.filter(pl.col("date") == D(day)).row(0, named=True)


def test_the_daily_series_where_it_exists_the_derived_one_after(chicago: pl.DataFrame) -> None:
    by_test = chicago.filter(pl.col("positivity_basis") == BY_TEST)
    derived = chicago.filter(pl.col("positivity_basis") == DERIVED)
    assert by_test["date"].max() == LAST_BY_TEST
    assert derived["date"].min() == LAST_BY_TEST + dt.timedelta(days=1)
    # the derived series covers the Omicron wave and the rest of the school year
    assert derived.filter(pl.col("date").is_between(D("2021-11-25"), D("2022-06-30"))).height == 218
    assert _on(chicago, "2021-03-26")["positivity_basis"] == BY_TEST
    assert round(float(str(_on(chicago, "2021-03-26")["positivity_7d"])), 2) == 4.43


def test_january_2022_above_20_percent_and_above_ctus_10_percent_on_the_18th(
    chicago: pl.DataFrame,
) -> None:
    # "more than 23%" reported on 2022-01-05 (Hyde Park Herald); "above 20%" in early January
    jan5 = _on(chicago, "2022-01-05")
    assert isinstance(jan5["positivity_7d"], float)
    assert 20.0 < jan5["positivity_7d"] < 23.0  # a weekly value lags a rising daily one
    # CTU's return condition (below 10%) was not met on 18 January
    jan18 = _on(chicago, "2022-01-18")
    assert isinstance(jan18["positivity_7d"], float)
    assert jan18["positivity_7d"] > 10.0


def test_late_february_2022_near_the_reported_0_8_percent(chicago: pl.DataFrame) -> None:
    for day in ("2022-02-26", "2022-02-28", "2022-03-04"):
        value = _on(chicago, day)["positivity_7d"]
        assert isinstance(value, float)
        assert abs(value - 0.8) < 0.25, (day, value)


def test_the_method_checked_where_both_series_exist(store: str) -> None:
    """Fitted to the weeks before June 2021, the derived value of every day of June to
    November 2021 is within 1 percentage point of the by-test value (mean within 0.3)."""
    engine = make_engine(store)
    try:
        tests = citywide_series(
            engine, BY_TEST, {"positive_tests": "positive", "total_tests": "total"}
        )
        weekly = zip_weekly_positivity(engine)
    finally:
        engine.dispose()
    seven = positivity(tests, 7)
    factor = by_test_factor(weekly, seven)
    assert 1.15 < factor < 1.25
    fitted = by_test_factor(weekly.filter(pl.col("date") < D("2021-06-01")), seven)
    days = seven.filter(pl.col("date").is_between(D("2021-06-01"), LAST_BY_TEST))["date"]
    checked = (
        derived_positivity(weekly, fitted, days.to_list())
        .join(seven.select("date", pl.col("positivity_7d").alias("by_test")), on="date")
        .drop_nulls()
    )
    assert checked.height == days.len()
    error = (checked["positivity_7d"] - checked["by_test"]).abs()
    assert error.max() < 1.0
    assert error.mean() < 0.3


def test_a_day_takes_the_last_complete_week_and_14_days_need_two_weeks() -> None:
    weekly = pl.DataFrame(
        {
            "date": [D("2022-01-02"), D("2022-01-09"), D("2022-01-23")],  # Sundays; 16th missing
            "cases_weekly": [10.0, 30.0, 5.0],
            "tests_weekly": [100.0, 100.0, 50.0],
        }
    )
    days = [D("2022-01-07"), D("2022-01-08"), D("2022-01-14"), D("2022-01-15"), D("2022-01-21")]
    days += [D("2022-01-29"), D("2022-02-04"), D("2022-02-05")]
    out = derived_positivity(weekly, 2.0, days)
    assert out["positivity_7d"].to_list() == [None, 20.0, 20.0, 60.0, 60.0, 20.0, 20.0, None]
    # two consecutive weeks: (10 + 30) / 200; the week of the 23rd has no week before it
    assert out["positivity_14d"].to_list() == [None, None, None, 40.0, 40.0, None, None, None]


def test_a_backtest_covers_january_2022_and_says_which_series_it_used(store: str) -> None:
    from schoolmode.backtest.run import run_backtest
    from schoolmode.backtest.summary import citywide_missing, coverage
    from schoolmode.metrics.frames import district_frame
    from schoolmode.policy.loader import shipped_registry

    start, end = D("2021-11-01"), D("2022-02-28")
    engine = make_engine(store)
    try:
        district = district_frame(engine, start, end)
    finally:
        engine.dispose()
    policy = shipped_registry().get("cdc-indicators-2020-09-15").policy
    backtest = run_backtest([policy], {"district": district}, start, end)
    cover = coverage(backtest).filter(pl.col("series") == "CDPH test positivity").row(0, named=True)
    assert cover["last"] == end  # no end of the series inside the period any more
    assert cover["source"].startswith(f"CDPH daily tests, by test, to {LAST_BY_TEST}; from ")
    assert "2021-11-25 derived from the ZIP weekly" in cover["source"]
    # every day of December 2021 to February 2022 has the positivity the policy reads
    missing = citywide_missing(backtest, policy).filter(pl.col("date") >= D("2021-12-01"))
    assert missing.height == 90
    assert not missing["citywide data missing"].any()
