"""Citywide positivity after CDPH's daily by-test series ends, derived from the ZIP weekly
series (metrics/community.py: ``by_test_factor``, ``derived_positivity``), checked against
the by-test series where both exist and against the figures reported at the time."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from schoolmode.metrics.community import (
    BY_TEST,
    DERIVED,
    by_test_factor,
    citywide_metrics,
    citywide_series,
    combine_citywide,
    derived_positivity,
    positivity,
    weekly_positivity_by_person,
    zip_weekly_positivity,
)
from schoolmode.store.db import make_engine
from tests.conftest import shipped_cdph_store

D = dt.date.fromisoformat
LAST_BY_TEST = D("2021-11-24")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shipped snapshot's daily tests, daily cases and ZIP weekly series in a store."""
    return shipped_cdph_store(tmp_path_factory.mktemp("derived") / "store.sqlite")


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


# ---------------------------------------------------------------- the method on small inputs


def _days(first: str, last: str) -> list[dt.date]:
    return pl.date_range(D(first), D(last), eager=True).to_list()


def test_units_percent_in_percent_out_and_the_factor_a_plain_ratio() -> None:
    """ZIP counts in, percent out (5 of 100 is 5.0, not 0.05); the factor is by-test percent
    over by-person percent, so it has no unit and leaves the percent a percent."""
    zip_rows = pl.DataFrame(
        {
            "zip": ["60601", "60602"] * 2,
            "date": [D("2021-10-31")] * 2 + [D("2021-11-07")] * 2,  # Sundays
            "cases": [3.0, 2.0, 8.0, 2.0],
            "tests": [60.0, 40.0, 50.0, 50.0],
        }
    )
    weekly = weekly_positivity_by_person(zip_rows)
    assert weekly["positivity_weekly_by_person_pct"].to_list() == [5.0, 10.0]
    # the daily series' 7-day positivity on each week's Saturday: 6% and 12%
    daily = pl.DataFrame({"date": [D("2021-11-06"), D("2021-11-13")], "positivity_7d": [6.0, 12.0]})
    assert by_test_factor(weekly, daily) == pytest.approx(1.2)
    out = derived_positivity(weekly, 1.2, [D("2021-11-13")])
    assert out["positivity_7d"].to_list() == [pytest.approx(12.0)]
    assert out["positivity_14d"].to_list() == [pytest.approx(1.2 * (5 + 10) / 200 * 100)]


def test_a_week_with_missing_zips_is_the_ratio_over_the_zips_it_has() -> None:
    """A ZIP without a row, or with its tests blank (suppressed), is left out of the week with
    its cases: the week's value is cases over tests of the ZIPs that report both, never a
    sum of cases over a smaller sum of tests, nor a zero for the absent ZIP."""
    zip_rows = pl.DataFrame(
        {
            "zip": ["60601", "60602", "60603", "60601", "60602"],
            "date": [D("2022-01-02")] * 3 + [D("2022-01-09")] * 2,
            "cases": [10.0, 30.0, None, 5.0, 40.0],
            "tests": [100.0, 100.0, 20.0, 100.0, None],  # 60603 absent in week 2, 60602 blank
        }
    )
    weekly = weekly_positivity_by_person(zip_rows)
    rows = weekly.select("date", "cases_weekly", "tests_weekly", "zips").rows()
    # week 1: 60603's blank case count is zero cases of its 20 tests; week 2: 60601 only
    assert rows == [(D("2022-01-02"), 40.0, 220.0, 3), (D("2022-01-09"), 5.0, 100.0, 1)]
    assert weekly["positivity_weekly_by_person_pct"].to_list() == [
        pytest.approx(40 / 220 * 100),
        pytest.approx(5.0),
    ]


def _seam_inputs(last_by_test: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Daily tests to ``last_by_test`` (10% positive: 10 of 100 a day), daily cases to
    2021-12-11 and ZIP weeks from 2021-10-31 to 2021-12-05 with 8% of tests positive by
    person, except the week of 2021-11-14 (4%): the fit gives 10 / 8 = 1.25."""
    days = _days("2021-10-31", last_by_test)
    tests = pl.DataFrame(
        {
            "unit": ["Chicago"] * len(days),
            "date": days,
            "positive": [10] * len(days),
            "total": [100] * len(days),
        }
    )
    case_days = _days("2021-10-31", "2021-12-11")
    cases = pl.DataFrame(
        {"unit": ["Chicago"] * len(case_days), "date": case_days, "cases": [5] * len(case_days)}
    )
    sundays = _days("2021-10-31", "2021-12-05")[::7]
    zip_rows = pl.DataFrame(
        {
            "zip": ["60601"] * len(sundays),
            "date": sundays,
            "cases": [4.0 if d == D("2021-11-14") else 8.0 for d in sundays],
            "tests": [100.0] * len(sundays),
        }
    )
    return tests, cases, weekly_positivity_by_person(zip_rows)


@pytest.mark.parametrize("last_by_test", ["2021-11-24", "2021-11-27", "2021-11-28"])
def test_the_seam_every_day_once_with_one_basis_and_no_gap(last_by_test: str) -> None:
    """Whatever the weekday the daily series ends (a Wednesday, the Saturday that closes a
    week, the Sunday after), every day has one row and one basis: the daily series' value
    through its last day, the derived one from the next day, with no day without a value and
    no day counted in both (the derived day reads the last complete ZIP week only)."""
    tests, cases, weekly = _seam_inputs(last_by_test)
    out = combine_citywide(tests, cases, weekly)
    assert out["date"].n_unique() == out.height
    assert out["date"].to_list() == _days("2021-10-31", "2021-12-11")
    seam = D(last_by_test)
    full = out.filter(pl.col("date") >= D("2021-11-06"))  # the first full 7-day window
    assert full["positivity_7d"].null_count() == 0
    by_test = full.filter(pl.col("date") <= seam)
    derived = full.filter(pl.col("date") > seam)
    assert set(by_test["positivity_basis"]) == {BY_TEST}
    assert set(derived["positivity_basis"]) == {DERIVED}
    assert by_test["positivity_7d"].to_list() == [10.0] * by_test.height  # never replaced
    # from the day after the seam: the last complete week (Sunday-Saturday) ending on or before
    # the day, times the fit; the week of 14 November (4%) shows only through Friday the 26th
    factor = 10.0 / 8.0
    for row in derived.iter_rows(named=True):
        week_end = row["date"] - dt.timedelta(days=(row["date"].weekday() + 2) % 7)
        pct = 4.0 if week_end == D("2021-11-20") else 8.0
        assert row["positivity_7d"] == pytest.approx(pct * factor), row["date"]


def test_without_the_zip_series_the_days_after_the_daily_series_have_no_positivity() -> None:
    tests, cases, _ = _seam_inputs("2021-11-24")
    out = combine_citywide(tests, cases, None)
    after = out.filter(pl.col("date") > D("2021-11-24"))
    assert after.height == 17
    assert after["positivity_7d"].null_count() == 17
    assert after["positivity_basis"].null_count() == 17
