"""School- and classroom-level metrics from the store, as the policy engine's frames.

Every frame has ``unit``, ``date`` and one integer column per metric, one row per unit and
calendar day from ``start`` to ``end``; the classroom frame also has ``parent`` (the school id).
Definitions (also in ``docs/metrics.md``):

School frame (``unit`` = school id):

- ``classroom_teachers``: people with a ``classroom_teacher`` staff assignment at the school
  active that day (each person once).
- ``covid_absent_teachers``: those classroom teachers with an absence at the school that day
  whose reason is ``documented_positive`` or ``directed_quarantine_isolation``.
- ``absences_covered_by_substitutes``: of those absences, the ones with a substitute coverage
  record (``covered`` true) for the absent teacher and day.
- ``enrolled``: students with an enrolment that day in a classroom of the school.
- ``in_person_students``: of those, the ones whose ``learning_choice`` is not ``remote``
  (blank counts as in person).
- ``students_quarantine_isolation``: enrolled students with a quarantine or isolation order
  active that day.
- ``staff_total``: people with any staff assignment at the school active that day.
- ``staff_isolation_quarantine``: of those, the ones with an active quarantine or isolation
  order, or an absence that day with a COVID-19 reason (documented positive or directed
  quarantine/isolation): "staff in isolation or quarantine" / "out because of COVID-19 cases or
  exposures".
- ``school_cases``: new cases reported that day (``report_date``) among the school's students
  and staff on that day; ``household_linked_cases``: of those, the household-linked ones. The
  policies sum both over their own window (e.g. 14 days) and subtract; the 14-day sums are
  given too as ``school_cases_14d`` and ``household_linked_cases_14d`` (days d-13 .. d).
- ``in_outbreak``: 1 when a core group (a homeroom: its enrolled students and classroom
  teachers) meets the IDPH/CSTE outbreak definition that day, else 0. Qualifying cases are the
  group's cases that are not household-linked, dated by onset, else specimen, else report date,
  within 14 calendar days of each other (days d-14 .. d, the policy's default reading);
  outbreak when there are at least 3 of them, or at least 2 and at least 10% of the group
  (``metrics/outbreak.py``: the CSTE definition's numbers from ``idph-outbreak-2021-10-15``).

Classroom frame (``unit`` = homeroom id, ``parent`` = school id):

- ``enrolled``: students enrolled in the homeroom that day.
- ``students_quarantine_isolation``: of those, the ones with an active order that day.
- ``positive_cases_reported``: cases reported that day among the homeroom's students and
  classroom teachers (membership on the report date).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from sqlalchemy import Engine

from schoolmode.metrics.outbreak import cste_rule, meets_definition
from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES
from schoolmode.store.frames import load_frames

COVID_REASONS = ("documented_positive", "directed_quarantine_isolation")

SCHOOL_METRICS = (
    "classroom_teachers",
    "covid_absent_teachers",
    "absences_covered_by_substitutes",
    "enrolled",
    "in_person_students",
    "students_quarantine_isolation",
    "staff_total",
    "staff_isolation_quarantine",
    "school_cases",
    "household_linked_cases",
    "school_cases_14d",
    "household_linked_cases_14d",
    "in_outbreak",
)
CLASSROOM_METRICS = ("enrolled", "students_quarantine_isolation", "positive_cases_reported")

FAR = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class SchoolData:
    """The store's tables the school metrics read, as frames (standard columns)."""

    classroom: pl.DataFrame
    enrolment: pl.DataFrame
    staff_assignment: pl.DataFrame
    absence: pl.DataFrame
    substitute_coverage: pl.DataFrame
    quarantine_order: pl.DataFrame
    case: pl.DataFrame

    @classmethod
    def from_frames(cls, **frames: pl.DataFrame) -> SchoolData:
        """Frames by record type; missing frames are empty, missing columns blank, and columns
        are cast to the standard's types."""
        out = {}
        for name in cls.__dataclass_fields__:
            schema = frame_schema(RECORD_TYPES[name])
            frame = frames.get(name, pl.DataFrame(schema=schema))
            out[name] = frame.select(
                *(
                    (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
                    for c, t in schema.items()
                )
            )
        return cls(**out)

    @classmethod
    def load(cls, engine: Engine) -> SchoolData:
        return cls.from_frames(**load_frames(engine, list(cls.__dataclass_fields__)))


def _days(start: dt.date, end: dt.date) -> pl.DataFrame:
    return pl.DataFrame({"date": pl.date_range(start, end, interval="1d", eager=True)})


def _grid(units: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    return units.join(_days(start, end), how="cross").sort("unit", "date")


def _active_counts(
    spans: pl.DataFrame, grid: pl.DataFrame, start: dt.date, end: dt.date, name: str
) -> pl.DataFrame:
    """People per unit and day from ``spans`` (``unit``, ``person_id``, ``start_date``,
    ``end_date`` with blank = open): overlapping spans of one person in one unit are merged
    first, then counted with a difference array (+1 on the first day, -1 after the last)."""
    keys = ["unit", "person_id"]
    iv = (
        spans.select(
            *keys,
            pl.max_horizontal("start_date", pl.lit(start)).alias("s"),
            pl.min_horizontal(pl.col("end_date").fill_null(FAR), pl.lit(end)).alias("e"),
        )
        .filter(pl.col("s") <= pl.col("e"))
        .sort(*keys, "s")
    )
    units = grid.get_column("unit").unique().sort()
    days = (end - start).days + 1
    counts = np.zeros((units.len(), days + 1), dtype=np.int64)
    if iv.height:
        first = _day_offsets(iv.get_column("s"), start)
        last = _day_offsets(iv.get_column("e"), start)
        group = iv.select(pl.struct(keys).rle_id()).to_series().to_numpy().astype(np.int64)
        # a running maximum of the last day within each (unit, person): the groups are sorted,
        # so an offset per group keeps one group's maximum from reaching the next
        reach = np.maximum.accumulate(last + group * (days + 2)) - group * (days + 2)
        starts_run = np.ones(iv.height, dtype=bool)
        starts_run[1:] = (group[1:] != group[:-1]) | (first[1:] > reach[:-1] + 1)
        heads = np.flatnonzero(starts_run)
        run_first = first[heads]
        run_last = np.maximum.reduceat(last, heads)
        index = pl.DataFrame({"unit": units, "row": np.arange(units.len(), dtype=np.int64)})
        where = (
            iv.select(pl.col("unit").gather(heads))
            .join(index, on="unit", how="left", maintain_order="left")
            .get_column("row")
        )
        known = where.is_not_null().to_numpy()
        rows = where.fill_null(0).to_numpy()[known]
        np.add.at(counts, (rows, run_first[known]), 1)
        np.add.at(counts, (rows, run_last[known] + 1), -1)
    active = np.cumsum(counts[:, :days], axis=1)
    table = pl.DataFrame(
        {
            "unit": units.gather(np.repeat(np.arange(units.len()), days)),
            "date": np.tile(np.arange(days), units.len()),
            name: active.ravel(),
        }
    ).with_columns((pl.lit(start) + pl.duration(days=pl.col("date"))).alias("date"))
    return (
        grid.select("unit", "date")
        .join(table, on=["unit", "date"], how="left")
        .sort("unit", "date")
    )


def _day_offsets(dates: pl.Series, start: dt.date) -> np.ndarray:
    """Days from ``start`` of each date (as int64)."""
    return (dates.cast(pl.Int64) - (start - dt.date(1970, 1, 1)).days).to_numpy()


def _on_day(events: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """``events`` (``person_id``, ``date``, ...) joined with the memberships (``person_id``,
    ``unit``, ``start_date``, ``end_date``) active on the event's date."""
    return events.join(spans, on="person_id", how="inner").filter(
        (pl.col("start_date") <= pl.col("date"))
        & (pl.col("date") <= pl.col("end_date").fill_null(FAR))
    )


def _count(
    events: pl.DataFrame, grid: pl.DataFrame, name: str, distinct: bool = True
) -> pl.DataFrame:
    """Events (``unit``, ``date``, ``person_id``) per unit and day of the grid."""
    if distinct:
        events = events.unique(["unit", "date", "person_id"])
    counts = events.group_by("unit", "date").agg(pl.len().cast(pl.Int64).alias(name))
    return (
        grid.select("unit", "date")
        .join(counts, on=["unit", "date"], how="left")
        .select("unit", "date", pl.col(name).fill_null(0))
    )


def _order_days(orders: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """One row per person and day under a quarantine or isolation order (within the span)."""
    clipped = orders.select(
        "person_id",
        pl.max_horizontal("start_date", pl.lit(start)).alias("s"),
        pl.min_horizontal("end_date", pl.lit(end)).alias("e"),
    ).filter(pl.col("s") <= pl.col("e"))
    return (
        clipped.select("person_id", pl.date_ranges("s", "e").alias("date")).explode("date").unique()
    )


def _memberships(data: SchoolData) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(students by homeroom with school, staff by school, classroom teachers by homeroom)."""
    students = data.enrolment.join(
        data.classroom.select("classroom_id", "school_id"), on="classroom_id", how="inner"
    )
    staff = data.staff_assignment
    teachers = staff.filter(
        (pl.col("role") == "classroom_teacher") & pl.col("classroom_id").is_not_null()
    )
    return students, staff, teachers


def _span(frame: pl.DataFrame, unit: str) -> pl.DataFrame:
    return frame.select(pl.col(unit).alias("unit"), "person_id", "start_date", "end_date")


def classroom_metrics(data: SchoolData, start: dt.date, end: dt.date) -> pl.DataFrame:
    """The classroom frame: ``unit`` (homeroom), ``parent`` (school), ``date`` and metrics."""
    students, _staff, teachers = _memberships(data)
    units = data.classroom.select(
        pl.col("classroom_id").alias("unit"), pl.col("school_id").alias("parent")
    )
    grid = _grid(units, start, end)
    room_students = _span(students, "classroom_id")
    enrolled = _active_counts(room_students, grid, start, end, "enrolled")
    orders = _order_days(data.quarantine_order, start, end)
    quarantined = _count(_on_day(orders, room_students), grid, "students_quarantine_isolation")
    reported = data.case.select("person_id", pl.col("report_date").alias("date"), "case_id")
    members = pl.concat([room_students, _span(teachers, "classroom_id")])
    cases = _count(
        _on_day(reported, members).unique(["unit", "case_id"]),
        grid,
        "positive_cases_reported",
        distinct=False,
    )
    return (
        grid.join(enrolled, on=["unit", "date"])
        .join(quarantined, on=["unit", "date"])
        .join(cases, on=["unit", "date"])
        .select("unit", "parent", "date", *CLASSROOM_METRICS)
        .sort("unit", "date")
    )


def _outbreaks(
    data: SchoolData, students: pl.DataFrame, teachers: pl.DataFrame, start: dt.date, end: dt.date
) -> pl.DataFrame:
    """``unit`` (school), ``date``, ``in_outbreak`` from homeroom core groups."""
    rule = cste_rule()
    lead = start - dt.timedelta(days=rule.window_days)
    rooms = data.classroom.select(pl.col("classroom_id").alias("unit"))
    grid = _grid(rooms, lead, end)
    members = pl.concat([_span(students, "classroom_id"), _span(teachers, "classroom_id")])
    size = _active_counts(members, grid, lead, end, "size")
    dated = data.case.filter(~pl.col("household_linked")).select(
        "person_id",
        "case_id",
        pl.coalesce("onset_date", "specimen_date", "report_date").alias("date"),
    )
    daily = _count(
        _on_day(dated, members).unique(["unit", "case_id"]), grid, "cases", distinct=False
    )
    window = (
        daily.sort("unit", "date")
        .with_columns(
            pl.col("cases")
            .rolling_sum(window_size=rule.window_days + 1, min_samples=1)
            .over("unit")
            .alias("in_window")
        )
        .join(size, on=["unit", "date"])
        .filter(pl.col("date") >= start)
    )
    outbreak = meets_definition(window["in_window"].to_numpy(), window["size"].to_numpy(), rule)
    school_of = data.classroom.select(pl.col("classroom_id").alias("unit"), "school_id")
    return (
        window.with_columns(pl.Series("in_outbreak", outbreak).cast(pl.Int64))
        .join(school_of, on="unit")
        .group_by("school_id", "date")
        .agg(pl.col("in_outbreak").max())
        .rename({"school_id": "unit"})
    )


def school_metrics(data: SchoolData, start: dt.date, end: dt.date) -> pl.DataFrame:
    """The school frame: ``unit`` (school id), ``date`` and the metrics of the module doc."""
    students, staff, teachers = _memberships(data)
    units = (
        pl.concat([data.classroom.select("school_id"), staff.select("school_id")])
        .unique()
        .rename({"school_id": "unit"})
    )
    grid = _grid(units, start, end)
    school_students = _span(students, "school_id")
    school_staff = _span(staff, "school_id")
    school_teachers = _span(teachers, "school_id")
    parts = [
        _active_counts(school_teachers, grid, start, end, "classroom_teachers"),
        _active_counts(school_students, grid, start, end, "enrolled"),
        _active_counts(
            _span(
                students.filter(pl.col("learning_choice").fill_null("") != "remote"), "school_id"
            ),
            grid,
            start,
            end,
            "in_person_students",
        ),
        _active_counts(school_staff, grid, start, end, "staff_total"),
    ]
    covid = data.absence.filter(pl.col("reason").is_in(COVID_REASONS)).select(
        "person_id", "date", pl.col("school_id").alias("absent_at")
    )
    covid_teachers = _on_day(covid, school_teachers).filter(pl.col("unit") == pl.col("absent_at"))
    parts.append(_count(covid_teachers, grid, "covid_absent_teachers"))
    covered = data.substitute_coverage.filter(pl.col("covered")).select(
        pl.col("absent_person_id").alias("person_id"), "date"
    )
    parts.append(
        _count(
            covid_teachers.join(covered.unique(), on=["person_id", "date"], how="semi"),
            grid,
            "absences_covered_by_substitutes",
        )
    )
    orders = _order_days(data.quarantine_order, start, end)
    parts.append(_count(_on_day(orders, school_students), grid, "students_quarantine_isolation"))
    staff_out = pl.concat(
        [
            _on_day(orders, school_staff).select("unit", "date", "person_id"),
            _on_day(covid, school_staff)
            .filter(pl.col("unit") == pl.col("absent_at"))
            .select("unit", "date", "person_id"),
        ]
    )
    parts.append(_count(staff_out, grid, "staff_isolation_quarantine"))
    reported = data.case.select(
        "person_id", "case_id", "household_linked", pl.col("report_date").alias("date")
    )
    at_school = _on_day(reported, pl.concat([school_students, school_staff])).unique(
        ["unit", "case_id"]
    )
    parts.append(_count(at_school, grid, "school_cases", distinct=False))
    parts.append(
        _count(
            at_school.filter(pl.col("household_linked")),
            grid,
            "household_linked_cases",
            distinct=False,
        )
    )
    parts.append(_outbreaks(data, students, teachers, start, end))
    out = grid
    for part in parts:
        out = out.join(part, on=["unit", "date"], how="left")
    out = out.with_columns(pl.col("in_outbreak").fill_null(0)).sort("unit", "date")
    # 14-day sums over the frame's own days (a window reaching before `start` is partial)
    out = out.with_columns(
        pl.col(c).rolling_sum(window_size=14, min_samples=1).over("unit").alias(f"{c}_14d")
        for c in ("school_cases", "household_linked_cases")
    )
    return out.select("unit", "date", *SCHOOL_METRICS)


def school_frames(engine: Engine, start: dt.date, end: dt.date) -> dict[str, pl.DataFrame]:
    """``{"school": ..., "classroom": ...}`` from the store, for the policy engine."""
    data = SchoolData.load(engine)
    return {
        "school": school_metrics(data, start, end),
        "classroom": classroom_metrics(data, start, end),
    }
