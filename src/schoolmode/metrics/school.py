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


EPOCH = dt.date(1970, 1, 1)
FAR_DAY = (FAR - EPOCH).days


def _day(day: dt.date) -> int:
    """Days from 1970-01-01 (a ``pl.Date``'s integer): dates are day numbers below."""
    return (day - EPOCH).days


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

    @property
    def first(self) -> int:
        """The first day's number."""
        return _day(self.start)

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
        """Each (``unit`` row, ``date`` day number) row's cell (-1: outside the cells)."""
        rows = _ints(frame.get_column("unit"), -1)
        day = _ints(frame.get_column("date"), self.first - 1) - self.first
        inside = (rows >= 0) & (day >= 0) & (day < self.days)
        return np.where(inside, rows * self.days + day, -1)

    def frame(self) -> pl.DataFrame:
        """``unit``, ``date``: one row per cell, in the cells' order."""
        return self.unit_frame(self.units, np.arange(self.units.len()))

    def unit_frame(self, units: pl.Series, rows: npt.NDArray[np.int64]) -> pl.DataFrame:
        """``unit`` (each of ``units``, a unit of row ``rows``, every day), ``date``."""
        offsets = np.tile(np.arange(self.days, dtype=np.int32), len(rows))
        return pl.DataFrame(
            {
                "unit": units.gather(np.repeat(np.arange(len(rows)), self.days)),
                "date": pl.Series(offsets + np.int32(self.first)).cast(pl.Date),
            }
        )


def _ints(values: pl.Series, blank: int) -> npt.NDArray[np.int64]:
    """``values`` as int64 (``blank`` for a blank)."""
    return values.cast(pl.Int64).fill_null(blank).to_numpy().astype(np.int64, copy=False)


def _active_counts(spans: pl.DataFrame, cells: _Cells) -> npt.NDArray[np.int64]:
    """People per cell from ``spans`` (``unit``: the cells' row, -1 none; ``person_id``: a code;
    ``start_date``, ``end_date``: day numbers, blank = open): overlapping spans of one person in
    one unit are merged first (:func:`_runs`), then counted with a difference array (+1 on the
    first day, -1 after the last)."""
    days, lo, n = cells.days, cells.first, cells.units.len()
    unit = _ints(spans.get_column("unit"), -1)
    person = _ints(spans.get_column("person_id"), -1) + 1  # the blanks of a unit: one person
    first = np.maximum(_ints(spans.get_column("start_date"), lo), lo) - lo
    last = np.minimum(_ints(spans.get_column("end_date"), FAR_DAY), lo + days - 1) - lo
    keep = (unit >= 0) & (first <= last)
    unit, first, last = _runs(unit[keep], person[keep], first[keep], last[keep], days)
    width = days + 1
    delta = np.bincount(unit * width + first, minlength=n * width)
    delta -= np.bincount(unit * width + last + 1, minlength=n * width)
    return np.cumsum(delta.reshape(n, width)[:, :days], axis=1).astype(np.int64).ravel()


def _runs(
    unit: npt.NDArray[np.int64],
    person: npt.NDArray[np.int64],
    first: npt.NDArray[np.int64],
    last: npt.NDArray[np.int64],
    days: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(unit, first, last) of the runs of days a person is in a unit: the spans (days ``0 ..
    days - 1``, ``person`` codes >= 0) of one person in one unit that overlap or touch merged.
    A person with one span has it as the run; the others' spans are sorted by unit, person and
    first day."""
    single = np.bincount(person)[person] == 1 if person.size else np.ones(0, dtype=bool)
    if single.all():
        return unit, first, last
    solo = (unit[single], first[single], last[single])
    unit, person, first, last = (a[~single] for a in (unit, person, first, last))
    people = int(person.max()) + 1
    if (int(unit.max()) + 1) * people * days < 2**62:  # one int64 key: (unit, person, first)
        order = np.argsort((unit * people + person) * days + first)
    else:
        order = np.lexsort((first, person, unit))
    unit, person, first, last = unit[order], person[order], first[order], last[order]
    new = np.ones(unit.size, dtype=bool)
    new[1:] = (unit[1:] != unit[:-1]) | (person[1:] != person[:-1])
    # a running maximum of the last day within each (unit, person): the groups are sorted,
    # so an offset per group keeps one group's maximum from reaching the next
    shift = (np.cumsum(new) - 1) * (days + 2)
    reach = np.maximum.accumulate(last + shift) - shift
    heads = new.copy()
    heads[1:] |= first[1:] > reach[:-1] + 1
    at = np.flatnonzero(heads)
    merged = (unit[at], first[at], np.maximum.reduceat(last, at))
    return (
        np.concatenate([solo[0], merged[0]]),
        np.concatenate([solo[1], merged[1]]),
        np.concatenate([solo[2], merged[2]]),
    )


def _on_day(events: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """``events`` (``person_id``, ``date``, ...) joined with the memberships (``person_id``,
    ``unit``, ``start_date``, ``end_date``) active on the event's date."""
    return events.join(spans, on="person_id", how="inner").filter(
        (pl.col("start_date") <= pl.col("date"))
        & (pl.col("date") <= pl.col("end_date").fill_null(FAR_DAY))
    )


def _under_orders(orders: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """The days of the memberships ``spans`` on which their person is under a quarantine or
    isolation order (``orders``: ``person_id``, ``start_date``, ``end_date``, clipped to the
    frame's days): a span per membership and order that overlap. Counted with
    :func:`_active_counts` (people, merged), the same as each order-day joined with the
    memberships active that day, counted once per person, unit and day."""
    met = orders.rename({"start_date": "from", "end_date": "to"}).join(
        spans.filter(pl.col("start_date").is_not_null()), on="person_id", how="inner"
    )
    return met.select(
        "unit",
        "person_id",
        pl.max_horizontal("from", "start_date").alias("start_date"),
        pl.min_horizontal("to", pl.col("end_date").fill_null(FAR_DAY)).alias("end_date"),
    ).filter(pl.col("start_date") <= pl.col("end_date"))


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


def _person_codes(*ids: pl.Series) -> list[pl.Series]:
    """Each series of person ids as integer codes, one dictionary for all (blank stays blank):
    joins and sorts on people compare integers, not strings."""
    codes = pl.concat([s.rename("person_id") for s in ids]).rank("dense").cast(pl.Int64)
    out, at = [], 0
    for s in ids:
        out.append(codes.slice(at, s.len()))
        at += s.len()
    return out


def _days(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Int32)


@dataclass(frozen=True)
class _Members:
    """The tables the metrics read, with integer keys: ``person_id`` a code
    (:func:`_person_codes` over all the tables), units as rows of the school and room cells
    (``school``, ``room``, ``absent_at``; -1: none), dates as day numbers. ``students``
    (enrolments in a classroom of the table), ``staff`` (``teacher``: a classroom teacher of a
    classroom), ``covid`` (absences for a COVID-19 reason), ``covered`` (absences a substitute
    covered), ``orders`` (clipped to the frame's days), ``cases`` (``dated``: onset, else
    specimen, else report date)."""

    schools: _Cells
    rooms: _Cells
    students: pl.DataFrame
    staff: pl.DataFrame
    covid: pl.DataFrame
    covered: pl.DataFrame
    orders: pl.DataFrame
    cases: pl.DataFrame

    @classmethod
    def of(cls, data: SchoolData, start: dt.date, end: dt.date) -> _Members:
        assign = data.staff_assignment
        units = pl.concat([data.classroom.get_column("school_id"), assign.get_column("school_id")])
        schools = _Cells.of(units, start, end)
        rooms = _Cells.of(data.classroom.get_column("classroom_id"), start, end)
        covid = data.absence.filter(pl.col("reason").is_in(COVID_REASONS))
        covered = data.substitute_coverage.filter(pl.col("covered"))
        lo, hi = _day(start), _day(end)
        orders = data.quarantine_order.select(
            "person_id",
            pl.max_horizontal(_days("start_date"), pl.lit(lo, pl.Int32)).alias("start_date"),
            pl.min_horizontal(_days("end_date"), pl.lit(hi, pl.Int32)).alias("end_date"),
        ).filter(pl.col("start_date") <= pl.col("end_date"))
        people = _person_codes(
            data.enrolment.get_column("person_id"),
            assign.get_column("person_id"),
            covid.get_column("person_id"),
            covered.get_column("absent_person_id"),
            orders.get_column("person_id"),
            data.case.get_column("person_id"),
        )
        index = data.classroom.select("classroom_id").with_columns(
            pl.Series("room", rooms.rows(data.classroom.get_column("classroom_id"))),
            pl.Series("school", schools.rows(data.classroom.get_column("school_id"))),
        )
        dates = (_days("start_date"), _days("end_date"))
        students = (
            data.enrolment.with_columns(people[0])
            .join(index, on="classroom_id", how="inner")
            .select(
                "person_id",
                "room",
                "school",
                *dates,
                (pl.col("learning_choice").fill_null("") != "remote").alias("in_person"),
            )
        )
        teacher = (pl.col("role") == "classroom_teacher") & pl.col("classroom_id").is_not_null()
        staff = assign.with_columns(
            people[1],
            pl.Series("school", schools.rows(assign.get_column("school_id"))),
            pl.Series("room", rooms.rows(assign.get_column("classroom_id"))),
        ).select("person_id", "school", "room", teacher.fill_null(False).alias("teacher"), *dates)
        return cls(
            schools=schools,
            rooms=rooms,
            students=students,
            staff=staff,
            covid=covid.select(
                people[2],
                _days("date"),
                pl.Series("absent_at", schools.rows(covid.get_column("school_id"))),
            ),
            covered=covered.select(people[3], _days("date")).unique(),
            orders=orders.with_columns(people[4]),
            cases=data.case.select(
                people[5],
                "case_id",
                "household_linked",
                _days("report_date"),
                pl.coalesce("onset_date", "specimen_date", "report_date")
                .cast(pl.Int32)
                .alias("dated"),
            ),
        )


def _span(frame: pl.DataFrame, unit: str) -> pl.DataFrame:
    return frame.select(pl.col(unit).alias("unit"), "person_id", "start_date", "end_date")


def _metric_frame(cells: _Cells, metrics: dict[str, npt.NDArray[np.int64]]) -> pl.DataFrame:
    return cells.frame().with_columns(
        pl.Series(name, values, dtype=pl.Int64) for name, values in metrics.items()
    )


def _classroom_frame(
    data: SchoolData, cells: _Cells, metrics: dict[str, npt.NDArray[np.int64]]
) -> pl.DataFrame:
    """The classroom frame: the cells with their homeroom's school (``parent``; a homeroom not
    in the classroom table has none and no rows)."""
    parents = data.classroom.select(
        pl.col("classroom_id").alias("unit"), pl.col("school_id").alias("parent")
    )
    units = (
        cells.units.to_frame("unit")
        .with_row_index("row")
        .join(parents, on="unit", how="inner", maintain_order="left")
    )
    if units.get_column("row").is_duplicated().any():  # a homeroom of two schools: rows per pair
        return (
            _metric_frame(cells, metrics)
            .join(parents, on="unit", how="inner", maintain_order="left")
            .select("unit", "parent", "date", *CLASSROOM_METRICS)
        )
    rows = units.get_column("row").to_numpy().astype(np.int64)
    take = (rows[:, None] * cells.days + np.arange(cells.days)).ravel()
    frame = cells.unit_frame(units.get_column("unit"), rows)
    parent = units.get_column("parent").gather(np.repeat(np.arange(len(rows)), cells.days))
    return frame.select(
        "unit",
        parent,
        "date",
        *(pl.Series(name, metrics[name][take], dtype=pl.Int64) for name in CLASSROOM_METRICS),
    )


def classroom_metrics(data: SchoolData, start: dt.date, end: dt.date) -> pl.DataFrame:
    """The classroom frame: ``unit`` (homeroom), ``parent`` (school), ``date`` and metrics."""
    members = _Members.of(data, start, end)
    cells = members.rooms
    students = _span(members.students, "room")
    room = pl.concat([students, _span(members.staff.filter("teacher"), "room")])
    reported = members.cases.select("person_id", "case_id", pl.col("report_date").alias("date"))
    metrics = {
        "enrolled": _active_counts(students, cells),
        "students_quarantine_isolation": _active_counts(
            _under_orders(members.orders, students), cells
        ),
        "positive_cases_reported": _count(
            _on_day(reported, room).unique(["unit", "case_id"]), cells, distinct=False
        ),
    }
    return _classroom_frame(data, cells, metrics)


def _outbreaks(data: SchoolData, members: _Members) -> npt.NDArray[np.int64]:
    """``in_outbreak`` per school cell from homeroom core groups."""
    rule = cste_rule()
    schools = members.schools
    lead = schools.start - dt.timedelta(days=rule.window_days)
    rooms = _Cells(members.rooms.units, lead, schools.days + rule.window_days)
    room = pl.concat(
        [_span(members.students, "room"), _span(members.staff.filter("teacher"), "room")]
    )
    dated = members.cases.filter(~pl.col("household_linked")).select(
        "person_id", "case_id", pl.col("dated").alias("date")
    )
    daily = _count(_on_day(dated, room).unique(["unit", "case_id"]), rooms, distinct=False)
    own = (slice(None), slice(rule.window_days, None))  # the schools' days
    in_window = _window_sums(daily, rooms.days, rule.window_days + 1).reshape(-1, rooms.days)
    # a group with no qualifying case in any window is in no outbreak (when the rule asks for
    # cases): only the others' sizes are counted
    groups = np.arange(rooms.units.len())
    if rule.min_cases > 0 and (rule.share_min_cases is None or rule.share_min_cases > 0):
        groups = np.flatnonzero(in_window[own].any(axis=1))
    position = np.full(rooms.units.len(), -1, dtype=np.int64)
    position[groups] = np.arange(groups.size)
    unit = _ints(room.get_column("unit"), -1)
    spans = room.with_columns(pl.Series("unit", np.where(unit >= 0, position[unit], -1)))
    size = _active_counts(spans, _Cells(rooms.units.gather(groups), lead, rooms.days))
    outbreak = meets_definition(in_window[groups][own], size.reshape(-1, rooms.days)[own], rule)
    school_of = (
        rooms.units.to_frame("classroom_id")
        .join(data.classroom, on="classroom_id", how="left", maintain_order="left")
        .get_column("school_id")
    )
    row = schools.rows(school_of)[groups]
    known = row >= 0
    result = np.zeros((schools.units.len(), schools.days), dtype=np.int64)
    hit, day = np.nonzero(outbreak[known])
    result[row[known][hit], day] = 1
    return result.ravel()


def school_metrics(data: SchoolData, start: dt.date, end: dt.date) -> pl.DataFrame:
    """The school frame: ``unit`` (school id), ``date`` and the metrics of the module doc."""
    members = _Members.of(data, start, end)
    cells = members.schools
    students = _span(members.students, "school")
    staff = _span(members.staff, "school")
    teachers = _span(members.staff.filter("teacher"), "school")
    covid_teachers = _on_day(members.covid, teachers).filter(pl.col("unit") == pl.col("absent_at"))
    covid_staff = (
        _on_day(members.covid, staff)
        .filter(pl.col("unit") == pl.col("absent_at"))
        .select(
            "unit",
            "person_id",
            pl.col("date").alias("start_date"),
            pl.col("date").alias("end_date"),
        )
    )
    reported = members.cases.select(
        "person_id", "case_id", "household_linked", pl.col("report_date").alias("date")
    )
    at_school = _on_day(reported, pl.concat([students, staff])).unique(["unit", "case_id"])
    metrics = {
        "classroom_teachers": _active_counts(teachers, cells),
        "covid_absent_teachers": _count(covid_teachers, cells),
        "absences_covered_by_substitutes": _count(
            covid_teachers.join(members.covered, on=["person_id", "date"], how="semi"), cells
        ),
        "enrolled": _active_counts(students, cells),
        "in_person_students": _active_counts(
            _span(members.students.filter("in_person"), "school"), cells
        ),
        "students_quarantine_isolation": _active_counts(
            _under_orders(members.orders, students), cells
        ),
        "staff_total": _active_counts(staff, cells),
        # under an order, or absent at the school for a COVID-19 reason (a one-day span)
        "staff_isolation_quarantine": _active_counts(
            pl.concat([_under_orders(members.orders, staff), covid_staff]), cells
        ),
        "school_cases": _count(at_school, cells, distinct=False),
        "household_linked_cases": _count(
            at_school.filter(pl.col("household_linked")), cells, distinct=False
        ),
    }
    # 14-day sums over the frame's own days (a window reaching before `start` is partial)
    for name in ("school_cases", "household_linked_cases"):
        metrics[f"{name}_14d"] = _window_sums(metrics[name], cells.days, 14)
    metrics["in_outbreak"] = _outbreaks(data, members)
    return _metric_frame(cells, metrics).select("unit", "date", *SCHOOL_METRICS)


def school_frames(engine: Engine, start: dt.date, end: dt.date) -> dict[str, pl.DataFrame]:
    """``{"school": ..., "classroom": ...}`` from the store, for the policy engine."""
    data = SchoolData.load(engine)
    return {
        "school": school_metrics(data, start, end),
        "classroom": classroom_metrics(data, start, end),
    }
