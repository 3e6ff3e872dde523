"""Data coverage: each series' first and last day with rows, over the whole store or a range,
read from the store on both backends and checked against the source files and records it was
imported from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from schoolmode.app.context import Context
from schoolmode.app.coverage import CoverageRequest, data_coverage, series_ends
from schoolmode.metrics.coverage import COVERAGE_SCHEMA, coverage, last_days, uncovered
from schoolmode.settings import AppSettings
from tests.conftest import FIXTURE_DATA, import_frames, standard_frame

TESTING_CSV = FIXTURE_DATA / "chicago-daily-testing" / "COVID-19_Daily_Testing_-_By_Test.csv"


def _testing_days() -> pl.Series:
    """The days of CDPH's daily by-test fixture file, read straight from the CSV (its one row
    without a date, which the importer skips, left out)."""
    return (
        pl.read_csv(TESTING_CSV, columns=["Date"])
        .select(pl.col("Date").str.strptime(pl.Date, "%m/%d/%Y"))
        .to_series()
        .drop_nulls()
    )


def _row(frame: pl.DataFrame, source: str, metric: str) -> dict[str, object]:
    rows = frame.filter((pl.col("source") == source) & (pl.col("metric") == metric))
    assert rows.height == 1, f"{source}/{metric}: {rows.height} rows"
    return rows.row(0, named=True)


def test_whole_store_spans_match_the_source_file(history_store: Engine) -> None:
    days = _testing_days()
    got = coverage(history_store)
    assert got.schema == pl.Schema(COVERAGE_SCHEMA)
    row = _row(got, "cdph-daily-testing", "positive_tests")
    assert (row["first"], row["last"], row["days"]) == (days.min(), days.max(), days.n_unique())
    assert row["geography_type"] == "city"
    ends = {(e.source, e.metric): e.last for e in last_days(history_store)}
    assert ends[("cdph-daily-testing", "total_tests")] == days.max()
    # the school profiles have no dated rows: no series
    assert not any(source == "cps-school-profiles" for source, _ in ends)


def test_a_range_after_a_series_ends_names_it_with_its_end(history_store: Engine) -> None:
    end = _testing_days().max()
    assert isinstance(end, dt.date)
    day = end + dt.timedelta(days=3)
    whole = coverage(history_store)
    within = coverage(history_store, day, day)
    assert within.filter(pl.col("source") == "cdph-daily-testing").height == 0
    missing = uncovered(whole, within)
    row = _row(missing, "cdph-daily-testing", "positive_tests")
    assert row["last"] == end
    # a range that straddles the end: rows up to the end only
    straddle = coverage(history_store, end - dt.timedelta(days=1), day)
    row = _row(straddle, "cdph-daily-testing", "positive_tests")
    assert (row["first"], row["last"], row["days"]) == (end - dt.timedelta(days=1), end, 2)


def _absences(days: list[tuple[str, dt.date]]) -> dict[str, pl.DataFrame]:
    people = sorted({p for p, _ in days})
    return {
        "person": standard_frame("person", [{"person_id": p, "role": "student"} for p in people]),
        "absence": standard_frame(
            "absence",
            [
                {"person_id": p, "school_id": "SCH", "date": d, "reason": "personal"}
                for p, d in days
            ],
        ),
    }


def test_district_records_count_distinct_days_with_gaps(store: Engine, tmp_path: Path) -> None:
    days = [dt.date(2021, 9, 1), dt.date(2021, 9, 2), dt.date(2021, 9, 7), dt.date(2021, 9, 20)]
    twice = ("P2", days[2])  # a day of two absences
    import_frames(store, _absences([*(("P1", d) for d in days), twice]), tmp_path)
    row = _row(coverage(store), "absence", "absences")
    assert (row["first"], row["last"], row["days"]) == (days[0], days[-1], 4)
    # a range inside a gap has no absence rows; one across it counts the days it holds
    assert coverage(store, dt.date(2021, 9, 3), dt.date(2021, 9, 6)).height == 0
    row = _row(coverage(store, dt.date(2021, 9, 2), dt.date(2021, 9, 19)), "absence", "absences")
    assert (row["first"], row["last"], row["days"]) == (days[1], days[2], 2)


def test_an_empty_store_has_no_series_and_a_reversed_range_is_refused(store: Engine) -> None:
    assert coverage(store).height == 0
    assert last_days(store) == []
    with pytest.raises(ValueError, match=r"ends \(2021-01-01\) before it starts \(2021-02-01\)"):
        coverage(store, dt.date(2021, 2, 1), dt.date(2021, 1, 1))


def test_use_case_splits_series_by_rows_in_the_range(history_store: Engine) -> None:
    end = _testing_days().max()
    assert isinstance(end, dt.date)
    ctx = Context(AppSettings.load(db_url=history_store.url.render_as_string(False)))
    try:
        _use_case(ctx, end)
    finally:
        ctx.close()


def _use_case(ctx: Context, end: dt.date) -> None:
    result = data_coverage(
        ctx, CoverageRequest(first=end - dt.timedelta(days=1), last=end + dt.timedelta(days=1))
    )
    assert result.days == 3
    testing = [s for s in result.series if s.source == "cdph-daily-testing"]
    assert testing
    assert all(s in result.partial() for s in testing)
    assert all(
        (s.first, s.last, s.days, s.ends) == (end - dt.timedelta(days=1), end, 2, end)
        for s in testing
    )
    after = data_coverage(ctx, CoverageRequest(first=end + dt.timedelta(days=1)))
    assert {s.source for s in after.without_rows()} >= {"cdph-daily-testing"}
    ends = {(e.source, e.metric): e for e in series_ends(ctx)}
    assert ends[("cdph-daily-testing", "positive_tests")].last == end
    assert (
        ends[("cdph-daily-testing", "positive_tests")].label == "cdph-daily-testing/positive_tests"
    )
    with pytest.raises(ValueError, match="before the first day"):
        CoverageRequest(first=end, last=end - dt.timedelta(days=1))
