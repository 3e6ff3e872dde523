"""Data coverage: for each series the store holds, the first and last day it has rows for.

A *series* is one source's metric: a CDPH community indicator (``source`` and ``metric`` of
``community_indicator``, one series per geography type), the CPS school case reports
(``school_case_report``, metric ``cases``) or one kind of a district's own records (absences,
substitute coverage, cases by report date, quarantine orders by first day, tests by specimen
date, the school calendar), whose ``source`` is the record table. Days are the rows' own
dates; a series "covers" a day range when it has a row on some day of it.

The decision path uses :func:`coverage` to say, before deciding, which data end before the day
decided; the reports draw where each series ends with :func:`last_days`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Column, Engine, Select, func, literal, select

from schoolmode.metrics.community import citywide_metrics
from schoolmode.metrics.frames import DISTRICT_COLUMNS
from schoolmode.metrics.school import CLASSROOM_FRAME_METRICS, SCHOOL_METRICS
from schoolmode.store.frames import query_frame
from schoolmode.store.tables import RECORD_TABLES

__all__ = [
    "COVERAGE_SCHEMA",
    "RECORDS",
    "REPORTING",
    "SCHOOL_RECORD_METRICS",
    "SeriesEnd",
    "coverage",
    "describe",
    "last_days",
    "metric_ends",
    "records_span",
    "uncovered",
    "without_records_outside",
]

RECORDS: dict[str, tuple[str, str]] = {
    "absence": ("date", "absences"),
    "substitute_coverage": ("date", "absences covered"),
    "case": ("report_date", "cases"),
    "quarantine_order": ("start_date", "quarantine orders"),
    "test": ("specimen_date", "tests"),
    "calendar_day": ("date", "calendar days"),
}
"""A district's record tables: the date column a row is dated by and the series' metric name."""

COVERAGE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "geography_type": pl.String(),
    "metric": pl.String(),
    "first": pl.Date(),
    "last": pl.Date(),
    "days": pl.Int64(),
}
"""The columns of :func:`coverage`: one row per series, ``days`` the distinct days with rows."""


@dataclass(frozen=True)
class SeriesEnd:
    """Where one series ends: ``last`` is its last day with a row (in the store)."""

    source: str
    geography_type: str
    metric: str
    last: dt.date

    @property
    def label(self) -> str:
        """``source/metric``, with the geography type when it is not the city's."""
        where = "" if self.geography_type in ("city", "") else f" ({self.geography_type})"
        return f"{self.source}/{self.metric}{where}"


def _spans(date: Column[dt.date], start: dt.date | None, end: dt.date | None) -> list[object]:
    where: list[object] = [date.is_not(None)]
    if start is not None:
        where.append(date >= start)
    if end is not None:
        where.append(date <= end)
    return where


def _queries(start: dt.date | None, end: dt.date | None) -> list[Select[tuple[object, ...]]]:
    """One grouped query per table: source, geography type, metric, first, last, days."""
    t = RECORD_TABLES["community_indicator"]
    out: list[Select[tuple[object, ...]]] = [
        select(
            t.c.source,
            t.c.geography_type,
            t.c.metric,
            func.min(t.c.date),
            func.max(t.c.date),
            func.count(func.distinct(t.c.date)),
        )
        .where(*_spans(t.c.date, start, end))  # type: ignore[arg-type]
        .group_by(t.c.source, t.c.geography_type, t.c.metric)
    ]
    r = RECORD_TABLES["school_case_report"]
    out.append(
        select(
            r.c.source,
            literal("school"),
            literal("cases"),
            func.min(r.c.date),
            func.max(r.c.date),
            func.count(func.distinct(r.c.date)),
        )
        .where(*_spans(r.c.date, start, end))  # type: ignore[arg-type]
        .group_by(r.c.source)
    )
    for name, (column, metric) in RECORDS.items():
        table = RECORD_TABLES[name]
        date = table.c[column]
        out.append(
            select(
                literal(name),
                literal("district"),
                literal(metric),
                func.min(date),
                func.max(date),
                func.count(func.distinct(date)),
            )
            .where(*_spans(date, start, end))  # type: ignore[arg-type]
            .having(func.count() > 0)
        )
    return out


def coverage(
    engine: Engine, start: dt.date | None = None, end: dt.date | None = None
) -> pl.DataFrame:
    """Every series' first and last day with rows, and its number of such days, counting the
    rows dated ``start .. end`` (either open). A series without a row in the range has no row
    here; :func:`uncovered` names them. Sorted by source, geography type and metric."""
    if start is not None and end is not None and end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    frames = []
    with engine.connect() as conn:
        for query in _queries(start, end):
            frames.append(query_frame(conn, query, COVERAGE_SCHEMA))
    return pl.concat(frames).sort("source", "geography_type", "metric")


def last_days(engine: Engine) -> list[SeriesEnd]:
    """Where each series the store holds ends (its last day with a row), by source, geography
    type and metric: what a timeline marks as the end of its data."""
    return [
        SeriesEnd(row["source"], row["geography_type"], row["metric"], row["last"])
        for row in coverage(engine).iter_rows(named=True)
    ]


def uncovered(everything: pl.DataFrame, within: pl.DataFrame) -> pl.DataFrame:
    """The series of ``everything`` (:func:`coverage` of the whole store) without a row in the
    range ``within`` (:func:`coverage` of the range) was computed for, with where they end."""
    return everything.join(
        within.select("source", "geography_type", "metric"),
        on=["source", "geography_type", "metric"],
        how="anti",
    )


REPORTING = ("absence", "substitute_coverage", "case", "quarantine_order", "test")
"""The record tables in which a district reports what happened on a day: the days from the
first to the last of their rows are the days its school records cover (the school calendar
and the rosters describe days without reporting on them)."""

SCHOOL_RECORD_METRICS = frozenset(SCHOOL_METRICS) | frozenset(CLASSROOM_FRAME_METRICS)
"""The school and classroom metrics, computed from a district's records."""

DESCRIPTIONS = {
    "positivity_7d_pct": "CDPH 7-day test positivity",
    "positivity_14d_pct": "CDPH 14-day test positivity",
    "cases_per_100k_7d": "CDPH 7-day cases per 100,000",
    "cases_per_100k_14d": "CDPH 14-day cases per 100,000",
}


OPENING = {"enrolment": "start_date", "staff_assignment": "start_date"}
"""The rosters: their first day opens the school records' days (a school year starts with its
rosters, before anything is reported), their later rows do not extend them."""


def records_span(
    engine: Engine, found: pl.DataFrame | None = None
) -> tuple[dt.date, dt.date] | None:
    """The days a district's school records cover: from the rosters' first day or the first
    day of any reporting table (:data:`REPORTING`), whichever is earlier, to the last day any
    reporting table has rows for; None without reported records. ``found``: :func:`coverage`
    of the whole store, read here when not given."""
    found = found if found is not None else coverage(engine)
    rows = found.filter(pl.col("source").is_in(REPORTING))
    first, last = rows["first"].min(), rows["last"].max()
    if not isinstance(first, dt.date) or not isinstance(last, dt.date):
        return None
    with engine.connect() as conn:
        for name, column in OPENING.items():
            opened = _as_date(
                conn.execute(select(func.min(RECORD_TABLES[name].c[column]))).scalar_one()
            )
            if opened is not None and opened < first:
                first = opened
    return first, last


def _as_date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def metric_ends(engine: Engine, found: pl.DataFrame | None = None) -> dict[str, dt.date | None]:
    """Metric name -> the last day the store has data for it (None: none): each citywide
    metric's own last day with a value, and the school records' last day
    (:func:`records_span`) for every school and classroom metric. ``found``: :func:`coverage`
    of the whole store, read here when not given."""
    try:
        citywide = citywide_metrics(engine)
    except LookupError:
        citywide = pl.DataFrame()
    out: dict[str, dt.date | None] = {}
    for column, name in DISTRICT_COLUMNS.items():
        last = (
            citywide.filter(pl.col(column).is_not_null())["date"].max()
            if column in citywide.columns
            else None
        )
        out[name] = last if isinstance(last, dt.date) else None
    span = records_span(engine, found)
    for name in sorted(SCHOOL_RECORD_METRICS):
        if span is None and name == "enrolled":
            continue  # without school records the school profiles give it: no end to name
        out.setdefault(name, None if span is None else span[1])
    return out


def without_records_outside(
    frame: pl.DataFrame, span: tuple[dt.date, dt.date] | None
) -> pl.DataFrame:
    """``frame`` with its school-record metrics blank on the days outside ``span`` (the days
    the school records cover, :func:`records_span`): a count there is no reading, since
    nothing was reported, so a rule reading it has no data that day (the engine decides
    ``no_data``), not a count of zero. Unchanged without a span (no reported records)."""
    if span is None:
        return frame
    names = [c for c in frame.columns if c in SCHOOL_RECORD_METRICS]
    if not names:
        return frame
    outside = (pl.col("date") < span[0]) | (pl.col("date") > span[1])
    return frame.with_columns(
        pl.when(outside).then(None).otherwise(pl.col(c)).alias(c) for c in names
    )


def describe(metric: str) -> str:
    """A metric in words for a message (the CDPH series by name; others as named)."""
    return DESCRIPTIONS.get(metric, metric.replace("_", " "))
