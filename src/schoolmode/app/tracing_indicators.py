"""Contact-tracing indicators for the health department, week by week: the cases reported,
how many of them a trace run has traced and how many wait for a person (an exception), the close
contacts found per traced case, and what the contacts were told (quarantine, test to stay,
exempt). Counts, no person; within the reader's scope (a case's school: its classroom's on the
day it was reported, or its staff assignment's).

Weeks run Monday to Sunday by the case's report date; a case counts as traced when any trace
run recorded a contact, an order or an exception for it (the latest run's rows are the ones
that stand, but a case once traced stays traced)."""

from __future__ import annotations

import datetime as dt

import polars as pl
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table

from schoolmode.access.roles import Principal
from schoolmode.app.context import Context
from schoolmode.store.frames import table_frame
from schoolmode.store.tables import RECORD_TABLES, trace_exception, traced_contact, traced_order


class WeekIndicators(BaseModel):
    """One week's tracing, for the cases reported that week."""

    model_config = ConfigDict(frozen=True)

    week_start: dt.date
    """The Monday."""
    cases: int
    traced: int
    """Cases a trace run traced (contacts, orders or an exception recorded)."""
    waiting: int
    """Of the traced, those with an exception waiting for a person."""
    not_traced: int
    contacts: int
    """Close contacts found (a person counted once per case)."""
    contacts_per_case: float | None
    """Contacts per traced case (None: none traced)."""
    quarantined: int
    test_to_stay: int
    exempt: int
    isolation_orders: int


def _case_schools(ctx: Context, cases: pl.DataFrame) -> pl.DataFrame:
    """(case_id, school_id): the school of each case's person on its report day."""
    enrolment = table_frame(
        ctx.engine,
        RECORD_TABLES["enrolment"],
        {
            "person_id": pl.String,
            "classroom_id": pl.String,
            "start_date": pl.Date,
            "end_date": pl.Date,
        },
    )
    rooms = table_frame(
        ctx.engine,
        RECORD_TABLES["classroom"],
        {"classroom_id": pl.String, "school_id": pl.String},
    ).unique("classroom_id")
    staff = table_frame(
        ctx.engine,
        RECORD_TABLES["staff_assignment"],
        {
            "person_id": pl.String,
            "school_id": pl.String,
            "start_date": pl.Date,
            "end_date": pl.Date,
        },
    )

    def on_day(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(
            (pl.col("start_date") <= pl.col("report_date"))
            & (pl.col("end_date").is_null() | (pl.col("end_date") >= pl.col("report_date")))
        )

    keyed = cases.select("case_id", "person_id", "report_date")
    students = on_day(keyed.join(enrolment, on="person_id")).join(rooms, on="classroom_id")
    adults = on_day(keyed.join(staff, on="person_id"))
    return pl.concat(
        [students.select("case_id", "school_id"), adults.select("case_id", "school_id")]
    ).unique()


def tracing_indicators(
    ctx: Context, who: Principal, first: dt.date, last: dt.date
) -> list[WeekIndicators]:
    """The weeks (Mondays) from ``first``'s to ``last``'s, newest first, for the cases reported
    in them within ``who``'s scope."""
    cases = table_frame(
        ctx.engine,
        RECORD_TABLES["case"],
        {"case_id": pl.String, "person_id": pl.String, "report_date": pl.Date},
        (RECORD_TABLES["case"].c.report_date >= first)
        & (RECORD_TABLES["case"].c.report_date <= last),
    )
    if who.scope.kind.value != "district" and cases.height:
        where = _case_schools(ctx, cases)
        covered = [s for s in where.get_column("school_id").unique() if who.scope.covers_school(s)]
        mine = where.filter(pl.col("school_id").is_in(covered))
        cases = cases.join(mine.select("case_id").unique(), on="case_id", how="semi")
    ids = cases.get_column("case_id").to_list()
    contacts = _rows(
        ctx,
        traced_contact,
        ids,
        {"case_id": pl.String, "person_id": pl.String, "attendance": pl.String},
    )
    orders = _rows(
        ctx, traced_order, ids, {"case_id": pl.String, "order_id": pl.String, "kind": pl.String}
    )
    waiting = _rows(ctx, trace_exception, ids, {"case_id": pl.String})
    traced = pl.concat(
        [contacts.select("case_id"), orders.select("case_id"), waiting.select("case_id")]
    ).unique()
    week = pl.col("report_date").dt.truncate("1w").alias("week_start")
    per_case = (
        cases.with_columns(week)
        .join(traced.with_columns(pl.lit(True).alias("traced")), on="case_id", how="left")
        .join(
            waiting.unique().with_columns(pl.lit(True).alias("waiting")), on="case_id", how="left"
        )
    )
    seen = contacts.unique(["case_id", "person_id"])
    by_contact = (
        seen.join(per_case.select("case_id", "week_start"), on="case_id")
        .group_by("week_start")
        .agg(
            pl.len().alias("contacts"),
            (pl.col("attendance") == "quarantine").sum().alias("quarantined"),
            (pl.col("attendance") == "test_to_stay").sum().alias("test_to_stay"),
            (pl.col("attendance") == "exempt").sum().alias("exempt"),
        )
    )
    isolations = (
        orders.filter(pl.col("kind") == "isolation")
        .unique("order_id")
        .join(per_case.select("case_id", "week_start"), on="case_id")
        .group_by("week_start")
        .agg(pl.len().alias("isolation_orders"))
    )
    weeks = (
        per_case.group_by("week_start")
        .agg(
            pl.len().alias("cases"),
            pl.col("traced").fill_null(False).sum().alias("traced"),
            pl.col("waiting").fill_null(False).sum().alias("waiting"),
        )
        .join(by_contact, on="week_start", how="left")
        .join(isolations, on="week_start", how="left")
        .fill_null(0)
        .sort("week_start", descending=True)
    )
    return [
        WeekIndicators(
            week_start=r["week_start"],
            cases=r["cases"],
            traced=r["traced"],
            waiting=r["waiting"],
            not_traced=r["cases"] - r["traced"],
            contacts=r["contacts"],
            contacts_per_case=round(r["contacts"] / r["traced"], 2) if r["traced"] else None,
            quarantined=r["quarantined"],
            test_to_stay=r["test_to_stay"],
            exempt=r["exempt"],
            isolation_orders=r["isolation_orders"],
        )
        for r in weeks.iter_rows(named=True)
    ]


def _rows(
    ctx: Context, table: Table, case_ids: list[str], schema: dict[str, type[pl.DataType]]
) -> pl.DataFrame:
    """The rows of a tracing table for ``case_ids`` (in slices: an IN list has limits)."""
    parts = [pl.DataFrame(schema=schema)]
    for start in range(0, len(case_ids), 5000):
        chunk = case_ids[start : start + 5000]
        parts.append(table_frame(ctx.engine, table, schema, table.c.case_id.in_(chunk)))
    return pl.concat(parts)
