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
import numpy.typing as npt
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


@dataclass(frozen=True)
class _Cells:
    """The unit-days of a frame: every unit (sorted) on every day ``start .. start + days - 1``,
    unit by unit; a metric is one int64 array over these cells, in this order."""

    units: pl.Series
    start: dt.date
    days: int

    @classmethod
    def of(cls, units: pl.Series, start: dt.date, end: dt.date) -> _Cells:
        return cls(units.unique().sort(), start, (end - start).days + 1)

    @property
    def size(self) -> int:
        return self.units.len() * self.days

    def rows(self, unit: pl.Series) -> npt.NDArray[np.int64]:
        """Each value's unit row (-1: not a unit of the cells)."""
        index = pl.DataFrame(
            {"unit": self.units, "row": np.arange(self.units.len(), dtype=np.int64)}
        )
        found = (
            unit.rename("unit")
            .to_frame()
            .join(index, on="unit", how="left", maintain_order="left")
            .get_column("row")
        )
        return found.fill_null(-1).to_numpy().astype(np.int64)

    def index(self, frame: pl.DataFrame) -> npt.NDArray[np.int64]:
        """Each (``unit``, ``date``) row's cell (-1: outside the cells)."""
        rows = self.rows(frame.get_column("unit"))
        day = _day_offsets(frame.get_column("date"), self.start)
        inside = (rows >= 0) & (day >= 0) & (day < self.days)
        return np.where(inside, rows * self.days + day, -1)

    def frame(self) -> pl.DataFrame:
        """``unit``, ``date``: one row per cell, in the cells' order."""
        offsets = np.tile(np.arange(self.days, dtype=np.int32), self.units.len())
        epoch = (self.start - dt.date(1970, 1, 1)).days
        return pl.DataFrame(
            {
                "unit": self.units.gather(np.repeat(np.arange(self.units.len()), self.days)),
                "date": pl.Series(offsets + np.int32(epoch)).cast(pl.Date),
            }
        )


def _active_counts(spans: pl.DataFrame, cells: _Cells) -> npt.NDArray[np.int64]:
    """People per cell from ``spans`` (``unit``, ``person_id``, ``start_date``, ``end_date``
    with blank = open): overlapping spans of one person in one unit are merged first, then
    counted with a difference array (+1 on the first day, -1 after the last)."""
    keys = ["unit", "person_id"]
    end = cells.start + dt.timedelta(days=cells.days - 1)
    iv = (
        spans.select(
            *keys,
            pl.max_horizontal("start_date", pl.lit(cells.start)).alias("s"),
            pl.min_horizontal(pl.col("end_date").fill_null(FAR), pl.lit(end)).alias("e"),
        )
        .filter(pl.col("s") <= pl.col("e"))
        .sort(*keys, "s")
    )
    days = cells.days
    counts = np.zeros((cells.units.len(), days + 1), dtype=np.int64)
    if iv.height:
        first = _day_offsets(iv.get_column("s"), cells.start)
        last = _day_offsets(iv.get_column("e"), cells.start)
        group = iv.select(pl.struct(keys).rle_id()).to_series().to_numpy().astype(np.int64)
        # a running maximum of the last day within each (unit, person): the groups are sorted,
        # so an offset per group keeps one group's maximum from reaching the next
        reach = np.maximum.accumulate(last + group * (days + 2)) - group * (days + 2)
        starts_run = np.ones(iv.height, dtype=bool)
        starts_run[1:] = (group[1:] != group[:-1]) | (first[1:] > reach[:-1] + 1)
        heads = np.flatnonzero(starts_run)
        rows = cells.rows(iv.get_column("unit").gather(heads))
        known = rows >= 0
        np.add.at(counts, (rows[known], first[heads][known]), 1)
        np.add.at(counts, (rows[known], np.maximum.reduceat(last, heads)[known] + 1), -1)
    return np.cumsum(counts[:, :days], axis=1).ravel()


def _day_offsets(dates: pl.Series, start: dt.date) -> npt.NDArray[np.int64]:
    """Days from ``start`` of each date (as int64)."""
    offsets = dates.cast(pl.Int64) - (start - dt.date(1970, 1, 1)).days
    return offsets.to_numpy().astype(np.int64)


def _on_day(events: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """``events`` (``person_id``, ``date``, ...) joined with the memberships (``person_id``,
    ``unit``, ``start_date``, ``end_date``) active on the event's date."""
    return events.join(spans, on="person_id", how="inner").filter(
        (pl.col("start_date") <= pl.col("date"))
        & (pl.col("date") <= pl.col("end_date").fill_null(FAR))
    )


def _count(events: pl.DataFrame, cells: _Cells, distinct: bool = True) -> npt.NDArray[np.int64]:
    """Events (``unit``, ``date``, ``person_id``) per cell."""
    if distinct:
        events = events.unique(["unit", "date", "person_id"])
    index = cells.index(events)
    return np.bincount(index[index >= 0], minlength=cells.size).astype(np.int64)


def _window_sums(values: npt.NDArray[np.int64], days: int, window: int) -> npt.NDArray[np.int64]:
    """Each cell's sum over its unit's last ``window`` days (fewer at the start)."""
    matrix = values.reshape(-1, days)
    total = np.cumsum(matrix, axis=1)
    out = total.copy()
    out[:, window:] -= total[:, :-window]
    return out.ravel()


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


def _metric_frame(cells: _Cells, metrics: dict[str, npt.NDArray[np.int64]]) -> pl.DataFrame:
    return cells.frame().with_columns(
        pl.Series(name, values, dtype=pl.Int64) for name, values in metrics.items()
    )


def classroom_metrics(data: SchoolData, start: dt.date, end: dt.date) -> pl.DataFrame:
    """The classroom frame: ``unit`` (homeroom), ``parent`` (school), ``date`` and metrics."""
    students, _staff, teachers = _memberships(data)
    cells = _Cells.of(data.classroom.get_column("classroom_id"), start, end)
    room_students = _span(students, "classroom_id")
    orders = _order_days(data.quarantine_order, start, end)
    reported = data.case.select("person_id", pl.col("report_date").alias("date"), "case_id")
    members = pl.concat([room_students, _span(teachers, "classroom_id")])
    metrics = {
        "enrolled": _active_counts(room_students, cells),
        "students_quarantine_isolation": _count(_on_day(orders, room_students), cells),
        "positive_cases_reported": _count(
            _on_day(reported, members).unique(["unit", "case_id"]), cells, distinct=False
        ),
    }
    parents = data.classroom.select(
        pl.col("classroom_id").alias("unit"), pl.col("school_id").alias("parent")
    )
    return (
        _metric_frame(cells, metrics)
        .join(parents, on="unit", how="inner", maintain_order="left")
        .select("unit", "parent", "date", *CLASSROOM_METRICS)
    )


def _outbreaks(
    data: SchoolData,
    students: pl.DataFrame,
    teachers: pl.DataFrame,
    schools: _Cells,
) -> npt.NDArray[np.int64]:
    """``in_outbreak`` per school cell from homeroom core groups."""
    rule = cste_rule()
    lead = schools.start - dt.timedelta(days=rule.window_days)
    end = schools.start + dt.timedelta(days=schools.days - 1)
    rooms = _Cells.of(data.classroom.get_column("classroom_id"), lead, end)
    members = pl.concat([_span(students, "classroom_id"), _span(teachers, "classroom_id")])
    size = _active_counts(members, rooms)
    dated = data.case.filter(~pl.col("household_linked")).select(
        "person_id",
        "case_id",
        pl.coalesce("onset_date", "specimen_date", "report_date").alias("date"),
    )
    daily = _count(_on_day(dated, members).unique(["unit", "case_id"]), rooms, distinct=False)
    in_window = _window_sums(daily, rooms.days, rule.window_days + 1)
    keep = np.tile(np.arange(rooms.days) >= rule.window_days, rooms.units.len())
    outbreak = meets_definition(in_window[keep], size[keep], rule).reshape(-1, schools.days)
    school_of = (
        rooms.units.to_frame("classroom_id")
        .join(data.classroom, on="classroom_id", how="left", maintain_order="left")
        .get_column("school_id")
    )
    row = schools.rows(school_of)
    known = row >= 0
    result = np.zeros((schools.units.len(), schools.days), dtype=np.int64)
    np.maximum.at(result, row[known], outbreak[known].astype(np.int64))
    return result.ravel()


def school_metrics(data: SchoolData, start: dt.date, end: dt.date) -> pl.DataFrame:
    """The school frame: ``unit`` (school id), ``date`` and the metrics of the module doc."""
    students, staff, teachers = _memberships(data)
    units = pl.concat([data.classroom.get_column("school_id"), staff.get_column("school_id")])
    cells = _Cells.of(units, start, end)
    school_students = _span(students, "school_id")
    school_staff = _span(staff, "school_id")
    school_teachers = _span(teachers, "school_id")
    in_person = students.filter(pl.col("learning_choice").fill_null("") != "remote")
    covid = data.absence.filter(pl.col("reason").is_in(COVID_REASONS)).select(
        "person_id", "date", pl.col("school_id").alias("absent_at")
    )
    covid_teachers = _on_day(covid, school_teachers).filter(pl.col("unit") == pl.col("absent_at"))
    covered = data.substitute_coverage.filter(pl.col("covered")).select(
        pl.col("absent_person_id").alias("person_id"), "date"
    )
    orders = _order_days(data.quarantine_order, start, end)
    staff_out = pl.concat(
        [
            _on_day(orders, school_staff).select("unit", "date", "person_id"),
            _on_day(covid, school_staff)
            .filter(pl.col("unit") == pl.col("absent_at"))
            .select("unit", "date", "person_id"),
        ]
    )
    reported = data.case.select(
        "person_id", "case_id", "household_linked", pl.col("report_date").alias("date")
    )
    at_school = _on_day(reported, pl.concat([school_students, school_staff])).unique(
        ["unit", "case_id"]
    )
    metrics = {
        "classroom_teachers": _active_counts(school_teachers, cells),
        "covid_absent_teachers": _count(covid_teachers, cells),
        "absences_covered_by_substitutes": _count(
            covid_teachers.join(covered.unique(), on=["person_id", "date"], how="semi"), cells
        ),
        "enrolled": _active_counts(school_students, cells),
        "in_person_students": _active_counts(_span(in_person, "school_id"), cells),
        "students_quarantine_isolation": _count(_on_day(orders, school_students), cells),
        "staff_total": _active_counts(school_staff, cells),
        "staff_isolation_quarantine": _count(staff_out, cells),
        "school_cases": _count(at_school, cells, distinct=False),
        "household_linked_cases": _count(
            at_school.filter(pl.col("household_linked")), cells, distinct=False
        ),
    }
    # 14-day sums over the frame's own days (a window reaching before `start` is partial)
    for name in ("school_cases", "household_linked_cases"):
        metrics[f"{name}_14d"] = _window_sums(metrics[name], cells.days, 14)
    metrics["in_outbreak"] = _outbreaks(data, students, teachers, cells)
    return _metric_frame(cells, metrics).select("unit", "date", *SCHOOL_METRICS)


def school_frames(engine: Engine, start: dt.date, end: dt.date) -> dict[str, pl.DataFrame]:
    """``{"school": ..., "classroom": ...}`` from the store, for the policy engine."""
    data = SchoolData.load(engine)
    return {
        "school": school_metrics(data, start, end),
        "classroom": classroom_metrics(data, start, end),
    }
