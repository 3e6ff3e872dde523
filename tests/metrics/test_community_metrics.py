"""Reproduce the "Key computed values" of policies.md from the real CDPH files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from schoolmode.importers.cdph import DailyCases, DailyTesting
from schoolmode.metrics import cases_per_100k, citywide_metrics, positivity
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import
from tests.conftest import BACKENDS, fresh_db_url

D = dt.date.fromisoformat


FIXTURE_DATA = Path(__file__).resolve().parents[1] / "fixtures" / "shared" / "data"


@pytest.fixture(scope="module", params=BACKENDS)
def chicago(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[pl.DataFrame]:
    """Metrics computed from the store after importing the real CDPH files (once per backend)."""
    with fresh_db_url(request.param, tmp_path_factory.mktemp("metrics")) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            run_import(engine, DailyTesting(), FIXTURE_DATA / DailyTesting.default_files[0])
            run_import(engine, DailyCases(), FIXTURE_DATA / DailyCases.default_files[0])
            yield citywide_metrics(engine)
        finally:
            engine.dispose()


def _series(frame: pl.DataFrame, column: str, first: str, last: str) -> list[float]:
    rows = frame.filter(pl.col("date").is_between(D(first), D(last))).sort("date")
    assert rows.height == (D(last) - D(first)).days + 1
    return [round(v, 2) for v in rows[column].to_list()]


def _at(frame: pl.DataFrame, column: str, day: str) -> float:
    value = frame.filter(pl.col("date") == D(day))[column].item()
    assert isinstance(value, float)
    return value


def test_seven_day_positivity_series(chicago: pl.DataFrame) -> None:
    assert _series(chicago, "positivity_7d", "2021-03-13", "2021-03-26") == [
        2.90, 2.89, 2.90, 2.98, 3.13, 3.22, 3.31, 3.39, 3.44, 3.60, 3.73, 3.93, 4.23, 4.43,
    ]  # fmt: skip
    assert _series(chicago, "positivity_7d", "2020-10-15", "2020-10-29") == [
        6.59, 6.93, 6.99, 7.05, 7.34, 7.60, 7.85, 8.10, 8.19, 8.50, 8.66, 9.09, 9.48, 9.98, 10.41,
    ]  # fmt: skip
    assert _series(chicago, "positivity_7d", "2020-10-30", "2020-11-04") == [
        10.93, 11.10, 11.28, 11.80, 12.33, 12.90,
    ]  # fmt: skip


def test_november_2020_peak(chicago: pl.DataFrame) -> None:
    nov = chicago.filter(pl.col("date").is_between(D("2020-11-01"), D("2020-11-30")))
    peak = nov.sort("positivity_7d", descending=True).row(0, named=True)
    assert (peak["date"], round(peak["positivity_7d"], 2)) == (D("2020-11-12"), 15.89)


@pytest.mark.parametrize(
    ("day", "cases_7d", "positivity_7d"),
    [
        ("2021-02-11", 92.0, 3.64),
        ("2021-03-01", 71.5, 2.76),
        ("2021-03-26", 132.4, 4.43),
        ("2021-04-19", 154.3, 5.06),
        ("2021-06-15", 12.4, 0.79),
        ("2021-07-01", 9.6, 0.67),
        ("2021-08-30", 132.5, 3.81),
    ],
)
def test_cdc_indicators(
    chicago: pl.DataFrame, day: str, cases_7d: float, positivity_7d: float
) -> None:
    assert round(_at(chicago, "cases_per_100k_7d", day), 1) == cases_7d
    assert round(_at(chicago, "positivity_7d", day), 2) == positivity_7d


@pytest.mark.parametrize(
    ("day", "cases_14d", "positivity_14d"),
    [("2021-02-07", 266.8, 4.95), ("2021-03-01", 145.2, 2.89)],
)
def test_fourteen_day_indicators(
    chicago: pl.DataFrame, day: str, cases_14d: float, positivity_14d: float
) -> None:
    assert round(_at(chicago, "cases_per_100k_14d", day), 1) == cases_14d
    assert round(_at(chicago, "positivity_14d", day), 2) == positivity_14d


def test_windows_count_missing_days_as_zero_and_need_a_full_window() -> None:
    tests = pl.DataFrame(
        {
            "unit": ["a"] * 3,
            "date": [D("2021-01-01"), D("2021-01-02"), D("2021-01-04")],
            "positive": [1, 2, 3],
            "total": [10, 10, 20],
        }
    )
    out = positivity(tests, days=3)
    assert out["date"].to_list() == [D(f"2021-01-0{i}") for i in range(1, 5)]
    assert out["positivity_3d"].to_list() == [None, None, 15.0, pytest.approx(5 / 30 * 100)]
    cases = pl.DataFrame(
        {"unit": ["a", "a"], "date": [D("2021-01-01"), D("2021-01-02")], "cases": [5, 5]}
    )
    per = cases_per_100k(cases, pl.DataFrame({"unit": ["a"], "population": [1000]}), days=2)
    assert per["cases_per_100k_2d"].to_list() == [None, 1000.0]


def test_zero_tests_give_no_positivity() -> None:
    tests = pl.DataFrame({"unit": ["a"], "date": [D("2021-01-01")], "positive": [0], "total": [0]})
    assert positivity(tests, days=1)["positivity_1d"].to_list() == [None]
