"""Community metrics: test positivity and cases per 100,000 over trailing windows.

Definitions (policies.md, "Method for computed numbers"):

- ``positivity_{N}d`` on day d = Σ positive tests ÷ Σ tests over d−(N−1) … d, by specimen
  date, in percent. Windows are calendar days; a day with no row counts as zero tests.
- ``cases_per_100k_{N}d`` on day d = Σ cases over d−(N−1) … d ÷ population × 100,000.

Values are floats; round only for display. A window with zero tests gives a null positivity.

After the last day of CDPH's daily by-test series (2021-11-24 in the shipped snapshot), the
7- and 14-day positivity are **derived** from the ZIP weekly series (``DERIVED``), which runs to
2024 (:func:`derived_positivity`; ``docs/metrics.md``, "Positivity after the daily series"):
``positivity_basis`` says which series gave each day's value.
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


BY_TEST = "cdph-daily-testing"
"""``positivity_basis`` of a value from CDPH's daily by-test series."""
DERIVED = "derived from cdph-zip-weekly"
"""``positivity_basis`` of a value derived from the ZIP weekly series (:func:`derived_positivity`)."""
FIT_FROM = dt.date(2020, 9, 6)
"""First week of the by-test / by-person fit: from September 2020, when testing was broadly
available (the spring 2020 weeks, with tests rationed to the sick, are left out)."""


def by_test_factor(weekly: pl.DataFrame, daily: pl.DataFrame) -> float:
    """The median, over the weeks both series cover (from ``FIT_FROM``), of the daily series'
    7-day positivity by test on a week's last day over that week's ZIP cases per test.

    The ZIP weekly tests are the daily series' tests (their totals agree within 0.5% a week), but
    its cases count people, not positive tests (repeat positives of one person are one case), so
    cases per test runs below positivity by test: by a factor of 1.04-1.32 a week, median 1.19,
    in the shipped snapshot. ``weekly``: :func:`weekly_positivity_by_person`; ``daily``:
    :func:`positivity` (7 days)."""
    ends = weekly.select(
        (pl.col("date") + pl.duration(days=6)).alias("date"),
        pl.col("positivity_weekly_by_person_pct").alias("by_person"),
    ).filter(pl.col("date") >= FIT_FROM + dt.timedelta(days=6))
    both = ends.join(daily.select("date", "positivity_7d"), on="date").drop_nulls()
    both = both.filter(pl.col("by_person") > 0)
    if both.height == 0:
        raise LookupError("no week that both the daily by-test and the ZIP weekly series cover")
    factor = both.select((pl.col("positivity_7d") / pl.col("by_person")).median()).item()
    return float(factor)


def derived_positivity(weekly: pl.DataFrame, factor: float, days: list[dt.date]) -> pl.DataFrame:
    """The 7- and 14-day positivity by test on ``days``, derived from the ZIP weekly series:
    on day d, the last complete week (Sunday-Saturday) ending on or before d (a lag of 0-6
    days: the value of a Saturday holds through the next Friday), its cases per test
    (``positivity_7d``) and those of it and the week before (``positivity_14d``), times
    ``factor`` (:func:`by_test_factor`). No smoothing beyond the weeks themselves."""
    w = weekly.sort("date").select(
        (pl.col("date") + pl.duration(days=6)).alias("week_end"),
        pl.col("cases_weekly"),
        pl.col("tests_weekly"),
    )
    w = w.with_columns(
        (pl.col("cases_weekly") + pl.col("cases_weekly").shift(1)).alias("cases_2w"),
        (pl.col("tests_weekly") + pl.col("tests_weekly").shift(1)).alias("tests_2w"),
        (pl.col("week_end") - pl.col("week_end").shift(1)).dt.total_days().alias("gap"),
    )

    def ratio(cases: str, tests: str) -> pl.Expr:
        return (
            pl.when(pl.col(tests) > 0)
            .then(pl.col(cases) / pl.col(tests) * 100.0 * factor)
            .otherwise(None)
        )

    w = w.select(
        "week_end",
        ratio("cases_weekly", "tests_weekly").alias("positivity_7d"),
        pl.when(pl.col("gap") == 7)
        .then(ratio("cases_2w", "tests_2w"))
        .otherwise(None)
        .alias("positivity_14d"),
    )
    grid = pl.DataFrame({"date": days}, schema={"date": pl.Date}).sort("date")
    joined = grid.join_asof(w, left_on="date", right_on="week_end", strategy="backward")
    # a week more than 6 days before the day is not "the last complete week": no value
    fresh = (pl.col("date") - pl.col("week_end")).dt.total_days() <= 6
    return joined.select(
        "date",
        pl.when(fresh).then(pl.col("positivity_7d")).alias("positivity_7d"),
        pl.when(fresh).then(pl.col("positivity_14d")).alias("positivity_14d"),
    )


def citywide_metrics(
    engine: Engine,
    *,
    population: int = CHICAGO_POPULATION_2019,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pl.DataFrame:
    """Chicago's daily metric frame from the CDPH imports (:func:`combine_citywide` on the
    store's daily tests, daily cases and, where stored, ZIP weekly series)."""
    tests = citywide_series(engine, BY_TEST, {"positive_tests": "positive", "total_tests": "total"})
    cases = citywide_series(engine, "cdph-daily-cases", {"cases_total": "cases"})
    try:
        weekly = zip_weekly_positivity(engine)
    except LookupError:
        weekly = None
    return combine_citywide(tests, cases, weekly, population=population, start=start, end=end)


def combine_citywide(
    tests: pl.DataFrame,
    cases: pl.DataFrame,
    weekly: pl.DataFrame | None,
    *,
    population: int = CHICAGO_POPULATION_2019,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pl.DataFrame:
    """One row per day: 7- and 14-day positivity (by test, specimen date) and 7- and 14-day
    cases per 100k; after the daily by-test series' last day, the positivity derived from the
    ZIP weekly series (:func:`derived_positivity`, fitted by :func:`by_test_factor`), on the
    days the daily series (tests or cases) have rows.

    ``positivity_basis`` names the series of each day's positivity: :data:`BY_TEST` through the
    daily series' last day, :data:`DERIVED` after it, null on a day without a value. At the
    seam no day has both and none is skipped: the derived value of the first day after the
    daily series is the last complete ZIP week's, whatever the weekday the daily series ends.

    ``tests``: ``unit``, ``date``, ``positive``, ``total`` (daily); ``cases``: ``unit``,
    ``date``, ``cases`` (daily); ``weekly``: :func:`weekly_positivity_by_person`, or None."""
    seven = positivity(tests, 7)
    out = (
        seven.join(positivity(tests, 14), on=["unit", "date"], how="full", coalesce=True)
        .join(cases_per_100k(cases, population, 7), on=["unit", "date"], how="full", coalesce=True)
        .join(cases_per_100k(cases, population, 14), on=["unit", "date"], how="full", coalesce=True)
        .sort("unit", "date")
    )
    last_test_day: dt.date = tests["date"].max()  # type: ignore[assignment]
    out = out.with_columns(
        pl.when(pl.col("positivity_7d").is_not_null())
        .then(pl.lit(BY_TEST))
        .otherwise(None)
        .alias("positivity_basis")
    )
    if weekly is not None and weekly.height:
        after = out.filter(pl.col("date") > last_test_day)["date"].to_list()
        if after:
            derived = derived_positivity(weekly, by_test_factor(weekly, seven), after)
            out = (
                out.join(derived, on="date", how="left", suffix="_derived")
                .with_columns(
                    pl.when(pl.col("date") > last_test_day)
                    .then(pl.col(f"{c}_derived"))
                    .otherwise(pl.col(c))
                    .alias(c)
                    for c in ("positivity_7d", "positivity_14d")
                )
                .with_columns(
                    pl.when(
                        (pl.col("date") > last_test_day) & pl.col("positivity_7d").is_not_null()
                    )
                    .then(pl.lit(DERIVED))
                    .otherwise(pl.col("positivity_basis"))
                    .alias("positivity_basis")
                )
                .drop("positivity_7d_derived", "positivity_14d_derived")
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
