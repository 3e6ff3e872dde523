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

from schoolmode.store.frames import query_frame
from schoolmode.store.tables import RECORD_TABLES

__all__ = ["COVERAGE_SCHEMA", "RECORDS", "SeriesEnd", "coverage", "last_days", "uncovered"]

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
