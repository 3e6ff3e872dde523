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
- ``group_size``: the core group that day (its enrolled students and classroom teachers);
  ``core_group_cases``: the group's cases dated by onset, else specimen, else report date;
  ``qualifying_cases``: of those, the ones the outbreak definition counts (not household-linked).

What counts (the reasons, the household links, the people) is a policy's: every function
takes ``rules`` (``policy/counting.py``, a policy's ``counts:``), whose defaults are the
definitions above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import Engine

from schoolmode.metrics.outbreak import cste_rule, meets_definition
from schoolmode.policy.counting import COVID_REASONS as COVID_REASONS
from schoolmode.policy.counting import DEFAULTS, CountingRules
from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES
from schoolmode.store.frames import load_frames

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
CORE_GROUP_METRICS = ("group_size", "core_group_cases", "qualifying_cases")
"""Classroom metrics of the outbreak definition (a homeroom as a core group), counted from the
records only (the simulator's loop keeps the others)."""
CLASSROOM_FRAME_METRICS = CLASSROOM_METRICS + CORE_GROUP_METRICS

FAR = dt.date(9999, 12, 31)


SCHOOL_READS: dict[str, tuple[str, ...]] = {
    "classroom": ("classroom_id", "school_id"),
    "enrolment": ("person_id", "classroom_id", "start_date", "end_date", "learning_choice"),
    "staff_assignment": (
        "person_id",
        "school_id",
        "classroom_id",
        "role",
        "start_date",
        "end_date",
    ),
    "absence": ("person_id", "school_id", "date", "reason"),
    "substitute_coverage": ("absent_person_id", "date", "covered"),
    "quarantine_order": ("person_id", "start_date", "end_date"),
    "case": (
        "case_id",
        "person_id",
        "household_linked",
        "report_date",
        "onset_date",
        "specimen_date",
    ),
}
"""The columns the metrics read, by table: a store read may leave the others out (they
are then blank)."""


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
        for name in (f.name for f in fields(cls)):
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
        return cls.from_frames(**load_frames(engine, [f.name for f in fields(cls)]))


EPOCH = dt.date(1970, 1, 1)
FAR_DAY = (FAR - EPOCH).days
NO_DAY = -(2**40)
"""A blank start date or event date: a membership without a start is open for the membership
counts but holds no event (as a comparison with a blank is never true)."""

Ints = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


def _day(day: dt.date) -> int:
    """Days from 1970-01-01 (a ``pl.Date``'s integer): dates are day numbers below."""
    return (day - EPOCH).days


def _ints(values: pl.Series, blank: int) -> Ints:
    """``values`` as int64 (``blank`` for a blank)."""
    return values.cast(pl.Int64).fill_null(blank).to_numpy().astype(np.int64, copy=False)


def _flags(values: pl.Series) -> Flags:
    """``values`` as bool (a blank is false)."""
    return values.fill_null(False).to_numpy().astype(bool, copy=False)


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

    def rows(self, unit: pl.Series) -> Ints:
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
        return _ints(found, -1)

    def count(self, unit: Ints, date: Ints) -> Ints:
        """Events (unit row, day number) per cell (outside the cells: not counted)."""
        day = date - self.first
        inside = (unit >= 0) & (day >= 0) & (day < self.days)
        index = unit[inside] * self.days + day[inside]
        return np.bincount(index, minlength=self.size).astype(np.int64, copy=False)

    def frame(self, rows: Ints | None = None) -> pl.DataFrame:
        """``unit``, ``date``: one row per cell of the units ``rows`` (default: all), in the
        cells' order."""
        rows = np.arange(self.units.len()) if rows is None else rows
        offsets = np.tile(np.arange(self.days, dtype=np.int32), rows.size)
        return pl.DataFrame(
            {
                "unit": self.units.gather(np.repeat(rows, self.days)),
                "date": pl.Series(offsets + np.int32(self.first)).cast(pl.Date),
            }
        )


class _Spans(NamedTuple):
    """Memberships (or orders) as arrays: ``unit`` (the cells' row; -1: none), ``person`` (a
    code; -1: blank), ``start``, ``end`` (day numbers; a blank start is ``NO_DAY``, a blank
    end ``FAR_DAY``)."""

    unit: Ints
    person: Ints
    start: Ints
    end: Ints

    @classmethod
    def of(cls, unit: Ints, frame: pl.DataFrame) -> _Spans:
        """``unit`` and ``frame``'s ``person_id`` (codes), ``start_date``, ``end_date``."""
        return cls(
            unit,
            _ints(frame.get_column("person_id"), -1),
            _ints(frame.get_column("start_date"), NO_DAY),
            _ints(frame.get_column("end_date"), FAR_DAY),
        )

    def take(self, rows: Ints | Flags) -> _Spans:
        return _Spans(*(a[rows] for a in self))

    def plus(self, other: _Spans) -> _Spans:
        return _Spans(*(np.concatenate(pair) for pair in zip(self, other, strict=True)))


def _active_counts(spans: _Spans, cells: _Cells) -> Ints:
    """People per cell from ``spans`` (a blank start or end is open): overlapping spans of one
    person in one unit are merged first (:func:`_runs`; the blank persons of a unit are one),
    then counted with a difference array (+1 on the first day, -1 after the last)."""
    days, lo, n = cells.days, cells.first, cells.units.len()
    first = np.maximum(spans.start, lo) - lo
    last = np.minimum(spans.end, lo + days - 1) - lo
    keep = (spans.unit >= 0) & (first <= last)
    unit, first, last = _runs(
        spans.unit[keep], spans.person[keep] + 1, first[keep], last[keep], days
    )
    width = days + 1
    delta = np.bincount(unit * width + first, minlength=n * width)
    delta -= np.bincount(unit * width + last + 1, minlength=n * width)
    return np.cumsum(delta.reshape(n, width)[:, :days], axis=1).astype(np.int64, copy=False).ravel()


def _runs(unit: Ints, person: Ints, first: Ints, last: Ints, days: int) -> tuple[Ints, Ints, Ints]:
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
    return (
        np.concatenate([solo[0], unit[at]]),
        np.concatenate([solo[1], first[at]]),
        np.concatenate([solo[2], np.maximum.reduceat(last, at)]),
    )


def _pairs(left: Ints, right: Ints) -> tuple[Ints, Ints]:
    """(left row, right row) of each pair of equal codes (a join on codes >= 0; -1 matches
    nothing): a lookup when each code is on one row of a side at most, else a binary search
    in the sorted right codes."""
    if not (left.size and right.size):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    size = max(int(left.max()), int(right.max())) + 1
    if _unique(right, size):
        return _lookup(left, right, size)
    if _unique(left, size):
        found, rows = _lookup(right, left, size)
        return rows, found
    order = np.argsort(right, kind="stable")
    keys = right[order]
    lo = np.searchsorted(keys, left, "left")
    n = np.where(left >= 0, np.searchsorted(keys, left, "right") - lo, 0)
    rows = np.repeat(np.arange(left.size), n)
    within = np.arange(rows.size) - np.repeat(np.cumsum(n) - n, n)
    return rows, order[np.repeat(lo, n) + within]


def _unique(codes: Ints, size: int) -> bool:
    """Whether each code (>= 0, below ``size``) is on one row at most."""
    return bool(np.bincount(codes[codes >= 0], minlength=size).max(initial=0) <= 1)


def _lookup(left: Ints, right: Ints, size: int) -> tuple[Ints, Ints]:
    """:func:`_pairs` where each right code is on one row at most."""
    known = np.flatnonzero(right >= 0)
    at = np.full(size + 1, -1, dtype=np.int64)  # a blank left code reads at[-1] = -1
    at[right[known]] = known
    found = at[left]
    rows = np.flatnonzero(found >= 0)
    return rows, found[rows]


def _on_day(person: Ints, date: Ints, spans: _Spans) -> tuple[Ints, Ints]:
    """(event, span) of each event (``person``, ``date``) and membership of its person active
    on its date (a membership without a start holds none)."""
    event, span = _pairs(person, spans.person)
    start, day = spans.start[span], date[event]
    on = (start != NO_DAY) & (start <= day) & (day <= spans.end[span])
    return event[on], span[on]


def _under_orders(orders: _Spans, spans: _Spans) -> _Spans:
    """The days of the memberships ``spans`` on which their person is under a quarantine or
    isolation order (``orders``, clipped to the frame's days): a span per membership and order
    that overlap. Counted with :func:`_active_counts` (people, merged), the same as each
    order-day joined with the memberships active that day, counted once per person, unit and
    day."""
    order, span = _pairs(orders.person, spans.person)
    start = np.maximum(orders.start[order], spans.start[span])
    end = np.minimum(orders.end[order], spans.end[span])
    keep = (spans.start[span] != NO_DAY) & (start <= end)
    span = span[keep]
    return _Spans(spans.unit[span], spans.person[span], start[keep], end[keep])


def _first_of_each(*keys: Ints) -> Ints:
    """The rows that are the first of their combination of ``keys``."""
    frame = pl.DataFrame({f"k{i}": k for i, k in enumerate(keys)}).with_row_index("row")
    first = frame.unique([f"k{i}" for i in range(len(keys))], keep="first")
    return np.sort(_ints(first.get_column("row"), -1))


def _window_sums(values: Ints, days: int, window: int) -> Ints:
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


def _case_units(cases: pl.DataFrame, date: str, spans: _Spans) -> tuple[Ints, Ints, Ints]:
    """(unit, day, case row) of each case and membership of its person on the case's ``date``,
    once per unit and case id."""
    day = _ints(cases.get_column(date), NO_DAY)
    case, span = _on_day(_ints(cases.get_column("person_id"), -1), day, spans)
    unit = spans.unit[span]
    first = _first_of_each(unit, _ints(cases.get_column("case"), -1)[case])
    return unit[first], day[case[first]], case[first]


def _covid_absent(covid: pl.DataFrame, spans: _Spans) -> _Spans:
    """A one-day span per absence for a COVID-19 reason and membership of the person at the
    school of the absence (``absent_at``) that day."""
    person, date = _ints(covid.get_column("person_id"), -1), _ints(covid.get_column("date"), NO_DAY)
    event, span = _on_day(person, date, spans)
    at = spans.unit[span] == _ints(covid.get_column("absent_at"), -1)[event]
    event, span = event[at], span[at]
    return _Spans(spans.unit[span], person[event], date[event], date[event])


@dataclass(frozen=True)
class _Members:
    """The tables the metrics read, as integer arrays: person ids as codes
    (:func:`_person_codes` over all the tables), units as rows of the school and room cells,
    dates as day numbers. ``students``: enrolments in a classroom of the table, by room
    (``in_person``: not remote); ``staff``: assignments by school (``staff_room``: their room,
    ``teacher``: a classroom teacher of a classroom); ``covid``: absences for a COVID-19
    reason (``absent_at``: the school's row); ``covered``: absences covered by a substitute;
    ``orders``: clipped to the frame's days; ``cases``: ``case`` (a code of the id),
    ``report`` and ``dated`` (onset, else specimen, else report date)."""

    schools: _Cells
    rooms: _Cells
    classroom: tuple[Ints, Ints]
    """(room, school) of each classroom in the table."""
    students: _Spans
    in_person: Flags
    staff: _Spans
    staff_room: Ints
    teacher: Flags
    covid: pl.DataFrame
    covered: pl.DataFrame
    orders: _Spans
    cases: pl.DataFrame

    @classmethod
    def of(
        cls, data: SchoolData, start: dt.date, end: dt.date, rules: CountingRules = DEFAULTS
    ) -> _Members:
        assign, enrolment, classroom = data.staff_assignment, data.enrolment, data.classroom
        units = pl.concat([classroom.get_column("school_id"), assign.get_column("school_id")])
        schools = _Cells.of(units, start, end)
        rooms = _Cells.of(classroom.get_column("classroom_id"), start, end)
        counted = {*rules.absent_teacher_reasons, *rules.staff_out_reasons}
        covid = data.absence.filter(pl.col("reason").is_in(sorted(counted)))
        covered = data.substitute_coverage.filter(pl.col("covered"))
        orders = data.quarantine_order.select(
            "person_id",
            pl.max_horizontal("start_date", pl.lit(start)).alias("start_date"),
            pl.min_horizontal("end_date", pl.lit(end)).alias("end_date"),
        ).filter(pl.col("start_date") <= pl.col("end_date"))
        people = _person_codes(
            enrolment.get_column("person_id"),
            assign.get_column("person_id"),
            covid.get_column("person_id"),
            covered.get_column("absent_person_id"),
            orders.get_column("person_id"),
            data.case.get_column("person_id"),
        )
        room = rooms.rows(enrolment.get_column("classroom_id"))
        enrolled = room >= 0
        remote = pl.col("learning_choice").fill_null("") == "remote"
        teacher = (pl.col("role") == "classroom_teacher") & pl.col("classroom_id").is_not_null()
        return cls(
            schools=schools,
            rooms=rooms,
            classroom=(
                rooms.rows(classroom.get_column("classroom_id")),
                schools.rows(classroom.get_column("school_id")),
            ),
            students=_Spans.of(room, enrolment.with_columns(people[0])).take(enrolled),
            in_person=~_flags(enrolment.select(remote).to_series())[enrolled],
            staff=_Spans.of(
                schools.rows(assign.get_column("school_id")), assign.with_columns(people[1])
            ),
            staff_room=rooms.rows(assign.get_column("classroom_id")),
            teacher=_flags(assign.select(teacher).to_series()),
            covid=pl.DataFrame(
                [people[2], covid.get_column("date").cast(pl.Int64), covid.get_column("reason")]
            ).with_columns(pl.Series("absent_at", schools.rows(covid.get_column("school_id")))),
            covered=pl.DataFrame(
                [people[3].fill_null(-1), covered.get_column("date").cast(pl.Int64)]
            ).unique(),
            orders=_Spans.of(
                np.zeros(orders.height, dtype=np.int64), orders.with_columns(people[4])
            ),
            cases=data.case.select(
                people[5],
                pl.col("case_id").rank("dense").cast(pl.Int64).alias("case"),
                "household_linked",
                pl.col("report_date").alias("report"),
                pl.coalesce("onset_date", "specimen_date", "report_date").alias("dated"),
            ),
        )

    def students_by_school(self) -> tuple[_Spans, Ints]:
        """The students' spans by school (a room of two schools: in both), and each one's
        student."""
        student, entry = _pairs(self.students.unit, self.classroom[0])
        spans = self.students.take(student)
        return spans._replace(unit=self.classroom[1][entry]), student

    def room_members(self) -> _Spans:
        """The core groups: students and classroom teachers, by room."""
        teachers = self.staff._replace(unit=self.staff_room).take(self.teacher)
        return self.students.plus(teachers)


def _metric_frame(cells: _Cells, metrics: dict[str, Ints]) -> pl.DataFrame:
    return cells.frame().with_columns(
        pl.Series(name, values, dtype=pl.Int64) for name, values in metrics.items()
    )


def _classroom_frame(data: SchoolData, cells: _Cells, metrics: dict[str, Ints]) -> pl.DataFrame:
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
            .select("unit", "parent", "date", *metrics)
        )
    rows = _ints(units.get_column("row"), -1)
    every = rows.size == cells.units.len()
    take = (rows[:, None] * cells.days + np.arange(cells.days)).ravel()
    parent = (
        units.get_column("parent").rechunk().gather(np.repeat(np.arange(rows.size), cells.days))
    )
    return cells.frame(rows).select(
        "unit",
        parent,
        "date",
        *(
            pl.Series(name, metrics[name] if every else metrics[name][take], dtype=pl.Int64)
            for name in metrics
        ),
    )


def classroom_metrics(
    data: SchoolData, start: dt.date, end: dt.date, rules: CountingRules = DEFAULTS
) -> pl.DataFrame:
    """The classroom frame: ``unit`` (homeroom), ``parent`` (school), ``date`` and metrics,
    counted by ``rules`` (default: what the metrics always counted)."""
    members = _Members.of(data, start, end, rules)
    return _classroom_metrics(data, members, CLASSROOM_FRAME_METRICS, rules)


def _classroom_metrics(
    data: SchoolData,
    members: _Members,
    wanted: Collection[str],
    rules: CountingRules = DEFAULTS,
    start: dt.date | None = None,
) -> pl.DataFrame:
    """The classroom frame with the metrics named in ``wanted``, from ``start`` (default: the
    members' first day; a later day leaves the days before out)."""
    cells = members.rooms
    if start is not None and start > cells.start:
        skip = (start - cells.start).days
        cells = _Cells(cells.units, start, max(cells.days - skip, 0))
    compute: dict[str, Callable[[], Ints]] = {
        "enrolled": lambda: _active_counts(members.students, cells),
        "students_quarantine_isolation": lambda: _active_counts(
            _under_orders(members.orders, members.students), cells
        ),
        "positive_cases_reported": lambda: cells.count(
            *_case_units(members.cases, "report", members.room_members())[:2]
        ),
        # the core group (students and classroom teachers) and its cases by onset, else
        # specimen, else report date: all of them, and the ones the outbreak definition counts
        "group_size": lambda: _active_counts(members.room_members(), cells),
        "core_group_cases": lambda: cells.count(
            *_case_units(members.cases, "dated", members.room_members())[:2]
        ),
        "qualifying_cases": lambda: cells.count(
            *_case_units(
                _counted_cases(members.cases, rules.qualifying_household),
                "dated",
                members.room_members(),
            )[:2]
        ),
    }
    names = [n for n in CLASSROOM_FRAME_METRICS if n in wanted]
    return _classroom_frame(data, cells, {name: compute[name]() for name in names})


def _counted_cases(cases: pl.DataFrame, household: str) -> pl.DataFrame:
    """``cases`` less the household-linked ones when ``household`` is ``exclude``."""
    return cases.filter(~pl.col("household_linked")) if household == "exclude" else cases


def _outbreaks(data: SchoolData, members: _Members, household: str) -> Ints:
    """``in_outbreak`` per school cell from homeroom core groups (``household``: whether
    household-linked cases count or are excluded, the definition's own reading)."""
    rule = cste_rule()
    schools = members.schools
    lead = schools.start - dt.timedelta(days=rule.window_days)
    rooms = _Cells(members.rooms.units, lead, schools.days + rule.window_days)
    room = members.room_members()
    qualifying = _counted_cases(members.cases, household)
    unit, day, _case = _case_units(qualifying, "dated", room)
    # a group without a qualifying case in these days is in no outbreak (when the rule asks
    # for cases): only the groups with one are counted
    groups = np.arange(rooms.units.len())
    if rule.min_cases > 0 and (rule.share_min_cases is None or rule.share_min_cases > 0):
        groups = np.unique(unit[(unit >= 0) & (day >= rooms.first)])
    position = np.full(rooms.units.len() + 1, -1, dtype=np.int64)  # position[-1]: none
    position[groups] = np.arange(groups.size)
    cells = _Cells(rooms.units.gather(groups), lead, rooms.days)
    own = (slice(None), slice(rule.window_days, None))  # the schools' days
    daily = cells.count(position[unit], day)
    in_window = _window_sums(daily, cells.days, rule.window_days + 1).reshape(-1, cells.days)
    size = _active_counts(room._replace(unit=position[room.unit]), cells)
    outbreak = meets_definition(in_window[own], size.reshape(-1, cells.days)[own], rule)
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


def school_metrics(
    data: SchoolData, start: dt.date, end: dt.date, rules: CountingRules = DEFAULTS
) -> pl.DataFrame:
    """The school frame: ``unit`` (school id), ``date`` and the metrics of the module doc,
    counted by ``rules`` (default: what the metrics always counted)."""
    return _school_metrics(data, _Members.of(data, start, end, rules), SCHOOL_METRICS, rules)


def _school_metrics(
    data: SchoolData,
    members: _Members,
    wanted: Collection[str],
    rules: CountingRules = DEFAULTS,
) -> pl.DataFrame:
    """The school frame with the metrics named in ``wanted`` (each computed only when asked),
    the event-derived ones counted by ``rules``."""
    cells = members.schools
    students, student = members.students_by_school()
    staff = members.staff
    teachers = staff.take(members.teacher)

    def absences(reasons: tuple[str, ...]) -> pl.DataFrame:
        return members.covid.filter(pl.col("reason").is_in(list(reasons)))

    @cache
    def covid_teachers() -> pl.DataFrame:
        absent = _covid_absent(absences(rules.absent_teacher_reasons), teachers)
        return pl.DataFrame(
            {"unit": absent.unit, "date": absent.start, "person_id": absent.person}
        ).unique()

    def absences_covered() -> Ints:
        covered = covid_teachers().join(members.covered, on=["person_id", "date"], how="semi")
        return cells.count(
            _ints(covered.get_column("unit"), -1), _ints(covered.get_column("date"), NO_DAY)
        )

    @cache
    def cases() -> tuple[Ints, Ints, Flags]:
        people = {"students": students, "staff": staff}
        chosen = [people[p] for p in rules.school_cases_people]
        spans = chosen[0] if len(chosen) == 1 else chosen[0].plus(chosen[1])
        counted = _counted_cases(members.cases, rules.school_cases_household)
        unit, day, case = _case_units(counted, "report", spans)
        return unit, day, _flags(counted.get_column("household_linked"))[case]

    @cache
    def school_cases() -> Ints:
        return cells.count(*cases()[:2])

    @cache
    def household_linked_cases() -> Ints:
        unit, day, linked = cases()
        return cells.count(unit[linked], day[linked])

    compute: dict[str, Callable[[], Ints]] = {
        "classroom_teachers": lambda: _active_counts(teachers, cells),
        "covid_absent_teachers": lambda: cells.count(
            _ints(covid_teachers().get_column("unit"), -1),
            _ints(covid_teachers().get_column("date"), NO_DAY),
        ),
        "absences_covered_by_substitutes": absences_covered,
        "enrolled": lambda: _active_counts(students, cells),
        "in_person_students": lambda: _active_counts(
            students.take(members.in_person[student]), cells
        ),
        "students_quarantine_isolation": lambda: _active_counts(
            _under_orders(members.orders, students), cells
        ),
        "staff_total": lambda: _active_counts(staff, cells),
        # under an order, or absent at the school for a COVID-19 reason (a one-day span)
        "staff_isolation_quarantine": lambda: _active_counts(
            _under_orders(members.orders, staff).plus(
                _covid_absent(absences(rules.staff_out_reasons), staff)
            ),
            cells,
        ),
        "school_cases": school_cases,
        "household_linked_cases": household_linked_cases,
        # 14-day sums over the frame's own days (a window reaching before `start` is partial)
        "school_cases_14d": lambda: _window_sums(school_cases(), cells.days, 14),
        "household_linked_cases_14d": lambda: _window_sums(
            household_linked_cases(), cells.days, 14
        ),
        "in_outbreak": lambda: _outbreaks(data, members, rules.outbreak_household),
    }
    names = [n for n in SCHOOL_METRICS if n in wanted]
    return _metric_frame(cells, {name: compute[name]() for name in names})


def unit_metrics(
    data: SchoolData,
    start: dt.date,
    end: dt.date,
    wanted: Mapping[str, Collection[str]] | None = None,
    classroom_start: dt.date | None = None,
    rules: CountingRules = DEFAULTS,
) -> dict[str, pl.DataFrame]:
    """``{"school": school_metrics(...), "classroom": classroom_metrics(...)}``, the tables
    read once for both. ``wanted``: the metrics to compute, by scope (default: all); the
    others are left out of the frames. ``classroom_start``: a later first day of the
    classroom frame (its rows are the same as the whole frame's from that day). ``rules``: what
    the event-derived metrics count (a policy's :func:`~schoolmode.policy.counting.
    counting_rules`; default: what they always counted)."""
    members = _Members.of(data, start, end, rules)
    wanted = wanted or {"school": SCHOOL_METRICS, "classroom": CLASSROOM_FRAME_METRICS}
    return {
        "school": _school_metrics(data, members, wanted.get("school", ()), rules),
        "classroom": _classroom_metrics(
            data, members, wanted.get("classroom", ()), rules, classroom_start
        ),
    }


def school_frames(engine: Engine, start: dt.date, end: dt.date) -> dict[str, pl.DataFrame]:
    """``{"school": ..., "classroom": ...}`` from the store, for the policy engine."""
    return unit_metrics(SchoolData.load(engine), start, end)
