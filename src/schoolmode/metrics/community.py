"""Community metrics: test positivity and cases per 100,000 over trailing windows.

Definitions (policies.md, "Method for computed numbers"):

- ``positivity_{N}d`` on day d = Σ positive tests ÷ Σ tests over d−(N−1) … d, by specimen
  date, in percent. Windows are calendar days; a day with no row counts as zero tests.
- ``cases_per_100k_{N}d`` on day d = Σ cases over d−(N−1) … d ÷ population × 100,000.

Values are floats; round only for display. A window with zero tests gives a null positivity.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Engine, select

from schoolmode.store.frames import query_frame
from schoolmode.store.tables import RECORD_TABLES

CHICAGO_POPULATION_2019 = 2_693_959
"""Citywide population used by CDPH for 2020-2021 rates (ACS 2019)."""


def _daily(frame: pl.DataFrame, value_cols: list[str]) -> pl.DataFrame:
    """One row per unit and calendar day from the first to the last date of each unit,
    missing days filled with zero."""
    spans = frame.group_by("unit").agg(
        pl.col("date").min().alias("lo"), pl.col("date").max().alias("hi")
    )
    grid = spans.select("unit", pl.date_ranges("lo", "hi", interval="1d").alias("date")).explode(
        "date"
    )
    return (
        grid.join(frame, on=["unit", "date"], how="left")
        .with_columns(pl.col(c).fill_null(0) for c in value_cols)
        .sort("unit", "date")
    )


def _window_sum(col: str, days: int) -> pl.Expr:
    return pl.col(col).rolling_sum(window_size=days, min_samples=days).over("unit")


def positivity(tests: pl.DataFrame, days: int = 7) -> pl.DataFrame:
    """``tests`` has ``unit``, ``date``, ``positive``, ``total``; returns ``positivity_{days}d`` (%)."""
    daily = _daily(tests.select("unit", "date", "positive", "total"), ["positive", "total"])
    pos = _window_sum("positive", days)
    tot = _window_sum("total", days)
    name = f"positivity_{days}d"
    return daily.select(
        "unit",
        "date",
        pos.alias(f"positive_{days}d"),
        tot.alias(f"tests_{days}d"),
        pl.when(tot > 0).then(pos / tot * 100.0).otherwise(None).alias(name),
    )


def cases_per_100k(
    cases: pl.DataFrame, population: int | pl.DataFrame, days: int = 7
) -> pl.DataFrame:
    """``cases`` has ``unit``, ``date``, ``cases``; ``population`` a number or a frame
    ``unit``, ``population``. Returns ``cases_{days}d`` and ``cases_per_100k_{days}d``."""
    daily = _daily(cases.select("unit", "date", "cases"), ["cases"])
    if isinstance(population, int):
        daily = daily.with_columns(pl.lit(population, dtype=pl.Int64).alias("population"))
    else:
        daily = daily.join(population.select("unit", "population"), on="unit", how="left")
    total = _window_sum("cases", days)
    return daily.select(
        "unit",
        "date",
        total.alias(f"cases_{days}d"),
        (total / pl.col("population") * 100_000.0).alias(f"cases_per_100k_{days}d"),
    )


def citywide_series(engine: Engine, source: str, metrics: dict[str, str]) -> pl.DataFrame:
    """Citywide daily values from the store: ``{store metric: column name}`` -> frame
    ``unit``, ``date`` and the named columns (wide)."""
    t = RECORD_TABLES["community_indicator"]
    query = select(t.c.date, t.c.metric, t.c.value).where(
        t.c.source == source,
        t.c.geography_type == "city",
        t.c.period_days == 1,
        t.c.metric.in_(list(metrics)),
    )
    with engine.connect() as conn:
        long = query_frame(conn, query, {"date": pl.Date, "metric": pl.String, "value": pl.Float64})
    if long.height == 0:
        raise LookupError(
            f"no citywide rows of {sorted(metrics)} from source {source}; import it first"
        )
    wide = long.pivot(on="metric", index="date", values="value")
    for m in metrics:
        if m not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(m))
    return wide.select(
        pl.lit("Chicago").alias("unit"), "date", *(pl.col(m).alias(c) for m, c in metrics.items())
    ).sort("date")


def citywide_metrics(
    engine: Engine,
    *,
    population: int = CHICAGO_POPULATION_2019,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pl.DataFrame:
    """Chicago's daily metric frame from the CDPH imports: 7- and 14-day positivity (by test,
    specimen date) and 7- and 14-day cases per 100k."""
    tests = citywide_series(
        engine, "cdph-daily-testing", {"positive_tests": "positive", "total_tests": "total"}
    )
    cases = citywide_series(engine, "cdph-daily-cases", {"cases_total": "cases"})
    out = (
        positivity(tests, 7)
        .join(positivity(tests, 14), on=["unit", "date"], how="full", coalesce=True)
        .join(cases_per_100k(cases, population, 7), on=["unit", "date"], how="full", coalesce=True)
        .join(cases_per_100k(cases, population, 14), on=["unit", "date"], how="full", coalesce=True)
        .sort("unit", "date")
    )
    if start is not None:
        out = out.filter(pl.col("date") >= start)
    if end is not None:
        out = out.filter(pl.col("date") <= end)
    return out


def weekly_positivity_by_person(zip_weekly: pl.DataFrame) -> pl.DataFrame:
    """Citywide weekly by-person positivity from ZIP rows (policies.md: Σ ZIP weekly cases ÷
    Σ ZIP weekly tests, ZIP rows with blank tests dropped).

    ``zip_weekly`` has ``zip``, ``date`` (week start, Sunday), ``cases`` and ``tests`` (weekly,
    blank = suppressed). Returns ``unit`` (Chicago), ``date``, ``cases_weekly``,
    ``tests_weekly``, ``zips`` (rows kept) and ``positivity_weekly_by_person_pct``; every ZIP
    value the source has is kept, ``Unknown`` included. A blank case count in a kept row
    counts as zero.
    """
    kept = zip_weekly.filter(pl.col("tests").is_not_null())
    weekly = kept.group_by("date").agg(
        pl.col("cases").fill_null(0).sum().alias("cases_weekly"),
        pl.col("tests").sum().alias("tests_weekly"),
        pl.len().alias("zips"),
    )
    return weekly.select(
        pl.lit("Chicago").alias("unit"),
        "date",
        "cases_weekly",
        "tests_weekly",
        "zips",
        pl.when(pl.col("tests_weekly") > 0)
        .then(pl.col("cases_weekly") / pl.col("tests_weekly") * 100.0)
        .otherwise(None)
        .alias("positivity_weekly_by_person_pct"),
    ).sort("date")


def zip_weekly_positivity(engine: Engine, source: str = "cdph-zip-weekly") -> pl.DataFrame:
    """:func:`weekly_positivity_by_person` from the ZIP-weekly import in the store."""
    t = RECORD_TABLES["community_indicator"]
    query = select(t.c.geography, t.c.date, t.c.metric, t.c.value).where(
        t.c.source == source,
        t.c.geography_type == "zip",
        t.c.period_days == 7,
        t.c.metric.in_(["cases_weekly", "tests_weekly"]),
    )
    schema = {"zip": pl.String, "date": pl.Date, "metric": pl.String, "value": pl.Float64}
    with engine.connect() as conn:
        long = query_frame(conn, query, schema)
    if long.height == 0:
        raise LookupError(f"no weekly ZIP cases/tests from source {source}; import it first")
    wide = long.pivot(on="metric", index=["zip", "date"], values="value")
    return weekly_positivity_by_person(
        wide.select(
            "zip",
            "date",
            pl.col("cases_weekly").alias("cases"),
            pl.col("tests_weekly").alias("tests"),
        )
    )
