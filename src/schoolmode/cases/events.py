"""A case's raw events into metric frames: the same metrics code as ``decide`` and the backtest
(``metrics/school.py``), counted by the policy's rules under the case's readings.

The events (``policy/case_events.py``) become the data standard's tables (classroom,
enrolment, staff_assignment, absence, substitute_coverage, quarantine_order, case), then the
school and classroom frames over the case's days. A metric whose records the case does not
give (students, staff, cases) is left out of the frames, as a precomputed case leaves out its
column. A bad reference (a person on no roster, a student's classroom that is not listed,
ranges of different lengths) is an :class:`EventProblem` naming the row and field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl
from pydantic import BaseModel

from schoolmode.metrics.school import SchoolData, unit_metrics
from schoolmode.policy.case_events import CaseEvents
from schoolmode.policy.counting import CountingRules
from schoolmode.policy.errors import SchoolmodeError

RANGE = re.compile(r"\{(?:(\d+)\.\.(\d+)|([^{},]+(?:,[^{},]+)+))\}")
MEMBERSHIP_LEAD_DAYS = 60
"""A roster row without ``from`` starts this many days before the frames' first day (the
metrics' own lookbacks, e.g. the outbreak window, read before it)."""
MAX_RANGE = 10_000

NEEDS: dict[str, str] = {
    "classroom_teachers": "staff",
    "covid_absent_teachers": "staff",
    "absences_covered_by_substitutes": "staff",
    "staff_total": "staff",
    "staff_isolation_quarantine": "staff",
    "enrolled": "students",
    "in_person_students": "students",
    "students_quarantine_isolation": "students",
    "school_cases": "cases",
    "household_linked_cases": "cases",
    "school_cases_14d": "cases",
    "household_linked_cases_14d": "cases",
    "in_outbreak": "cases",
    "positive_cases_reported": "cases",
    "core_group_cases": "cases",
    "qualifying_cases": "cases",
    "group_size": "classrooms",
}
"""The events each metric is counted from: without any, the metric is left out."""


class EventProblem(SchoolmodeError):
    """A problem with one event row: ``loc`` within the case (``events``, list, row, field)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        self.message = message
        super().__init__(f"{'.'.join(map(str, loc))}: {message}")


def expand(value: str, loc: tuple[str | int, ...]) -> list[str]:
    """``T{1..3}`` -> T1, T2, T3 (``{01..03}``: zero-padded), ``room-{a,b}`` -> room-a,
    room-b; a value without braces: itself (one range a value)."""
    found = RANGE.search(value)
    if found is None:
        return [value]
    head, tail = value[: found.start()], value[found.end() :]
    if found[3] is not None:
        return [f"{head}{part}{tail}" for part in found[3].split(",")]
    lo, hi = int(found[1]), int(found[2])
    if hi < lo or hi - lo >= MAX_RANGE:
        raise EventProblem(loc, f"the range {found[0]} must count up, at most {MAX_RANGE} values")
    width = len(found[1]) if found[1].startswith("0") else 0
    return [f"{head}{str(i).zfill(width)}{tail}" for i in range(lo, hi + 1)]


def _rows(name: str, items: list[Any], fields: Iterable[str]) -> list[dict[str, Any]]:
    """Each row of ``events.<name>`` as plain values, its ranges expanded (the fields with a
    range in one row must have as many values as each other)."""
    out: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        row = item.model_dump(by_alias=True) if isinstance(item, BaseModel) else dict(item)
        lists = {
            f: expand(row[f], ("events", name, index, f))
            for f in fields
            if isinstance(row.get(f), str)
        }
        sizes = {f: len(v) for f, v in lists.items() if len(v) > 1}
        if len(set(sizes.values())) > 1:
            raise EventProblem(
                ("events", name, index),
                "the ranges of one row must have as many values each: "
                + ", ".join(f"{f} has {n}" for f, n in sizes.items()),
            )
        n = max(sizes.values(), default=1)
        for k in range(n):
            out.append(
                {
                    **row,
                    **{f: v[k] if len(v) > 1 else v[0] for f, v in lists.items()},
                    "_row": index,
                }
            )
    return out


def _frame(
    rows: list[dict[str, Any]], columns: Mapping[str, str], dtypes: Mapping[str, Any]
) -> pl.DataFrame:
    """The standard table: ``columns`` maps a standard column to the event field."""
    return pl.DataFrame(
        {std: [r.get(src) for r in rows] for std, src in columns.items()},
        schema={std: dtypes[std] for std in columns},
    )


class _Roster:
    """Who is where: the schools of the classrooms, students and staff of the events."""

    def __init__(self, events: CaseEvents, lead: dt.date) -> None:
        self.classrooms = _rows("classrooms", events.classrooms, ("classroom",))
        self.students = _rows("students", events.students, ("person", "classroom"))
        self.staff = _rows("staff", events.staff, ("person", "classroom"))
        self.school_of_room = {r["classroom"]: r["school"] for r in self.classrooms}
        for row in self.staff:  # a teacher's classroom not listed: at the teacher's school
            if row.get("classroom") is not None:
                self.school_of_room.setdefault(row["classroom"], row["school"])
        self.school_of: dict[str, str] = {}
        for row in self.students:
            school = self.school_of_room.get(row["classroom"])
            if school is None:
                raise EventProblem(
                    ("events", "students", row["_row"], "classroom"),
                    f"classroom {row['classroom']!r} is not in events.classrooms (add "
                    "{classroom: ..., school: ...})",
                )
            self.school_of.setdefault(row["person"], school)
        for row in self.staff:
            self.school_of.setdefault(row["person"], row["school"])
            if row.get("role") is None:
                row["role"] = "classroom_teacher" if row.get("classroom") else "other_staff"
        for row in (*self.students, *self.staff):
            row["from"] = row.get("from") or lead

    def check(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Every event's person is on a roster."""
        for row in rows:
            if row["person"] not in self.school_of:
                raise EventProblem(
                    ("events", name, row["_row"], "person"),
                    f"{row['person']!r} is on no roster: add them to events.students or "
                    "events.staff",
                )


def _cases(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The case table; a case with a ``household`` is household-linked when an earlier case
    (by onset, else specimen, else report date; then the order written) is in that household,
    unless ``household_linked`` says so directly."""
    frame = pl.DataFrame(
        {
            "case_id": [f"case-{k + 1}" for k in range(len(rows))],
            "person_id": [r["person"] for r in rows],
            "report_date": [r["report"] for r in rows],
            "onset_date": [r.get("onset") for r in rows],
            "specimen_date": [r.get("specimen") for r in rows],
            "household": [r.get("household") for r in rows],
            "said": [r.get("household_linked") for r in rows],
        },
        schema={
            "case_id": pl.String,
            "person_id": pl.String,
            "report_date": pl.Date,
            "onset_date": pl.Date,
            "specimen_date": pl.Date,
            "household": pl.String,
            "said": pl.Boolean,
        },
    ).with_row_index("order")
    dated = pl.coalesce("onset_date", "specimen_date", "report_date")
    first = pl.col("order").sort_by([dated, pl.col("order")]).first().over("household")
    linked = pl.when(pl.col("household").is_null()).then(False).otherwise(pl.col("order") != first)
    return frame.with_columns(
        pl.coalesce("said", linked).alias("household_linked"),
        pl.lit("sars-cov-2").alias("pathogen"),
        pl.lit("confirmed").alias("status"),
    ).drop("order", "household", "said")


def school_data(events: CaseEvents, start: dt.date) -> SchoolData:
    """The events as the standard's tables (memberships without ``from`` open
    :data:`MEMBERSHIP_LEAD_DAYS` before ``start``)."""
    roster = _Roster(events, start - dt.timedelta(days=MEMBERSHIP_LEAD_DAYS))
    absences = _rows("absences", events.absences, ("person",))
    substitutes = _rows("substitutes", events.substitutes, ("person",))
    orders = _rows("orders", events.orders, ("person",))
    cases = _rows("cases", events.cases, ("person",))
    for name, rows in (
        ("absences", absences),
        ("substitutes", substitutes),
        ("orders", orders),
        ("cases", cases),
    ):
        roster.check(name, rows)
    for row in absences:
        row["school"] = row.get("school") or roster.school_of[row["person"]]
    s, d = pl.String, pl.Date
    types = {
        "classroom_id": s,
        "school_id": s,
        "person_id": s,
        "start_date": d,
        "end_date": d,
        "learning_choice": s,
        "role": s,
        "date": d,
        "reason": s,
        "absent_person_id": s,
        "covered": pl.Boolean,
    }
    rooms = [{"classroom": c, "school": sc} for c, sc in roster.school_of_room.items()]
    member = {"person_id": "person", "start_date": "from", "end_date": "through"}
    return SchoolData.from_frames(
        classroom=_frame(rooms, {"classroom_id": "classroom", "school_id": "school"}, types),
        enrolment=_frame(
            roster.students,
            {**member, "classroom_id": "classroom", "learning_choice": "learning_choice"},
            types,
        ),
        staff_assignment=_frame(
            roster.staff,
            {**member, "school_id": "school", "classroom_id": "classroom", "role": "role"},
            types,
        ),
        absence=_frame(
            absences,
            {"person_id": "person", "school_id": "school", "date": "date", "reason": "reason"},
            types,
        ),
        substitute_coverage=_frame(
            substitutes, {"absent_person_id": "person", "date": "date", "covered": "covered"}, types
        ),
        quarantine_order=_frame(orders, member, types),
        case=_cases(cases),
    )


def event_days(events: CaseEvents) -> list[dt.date]:
    """The days the events name."""
    days: list[dt.date] = []
    days += [a.date for a in events.absences] + [s.date for s in events.substitutes]
    for order in events.orders:
        days += [order.from_, order.through]
    for case in events.cases:
        days += [d for d in (case.report, case.onset, case.specimen) if d is not None]
    return days


def event_frames(
    events: CaseEvents, rules: CountingRules, days: Iterable[dt.date]
) -> dict[str, pl.DataFrame]:
    """The school and classroom frames of ``events`` over ``events.from .. events.through``
    (default: the earliest to the latest of the events' days and ``days``), counted by
    ``rules``; the metrics whose events the case lacks are left out."""
    known = [*event_days(events), *days]
    if events.from_ is None and events.through is None and not known:
        raise EventProblem(("events",), "no day: give events.from and events.through")
    start = events.from_ or min(known)
    end = events.through or max(known)
    if end < start:
        raise EventProblem(("events", "through"), f"{end} is before the first day {start}")
    data = school_data(events, start)
    given = {
        "staff": bool(events.staff),
        "students": bool(events.students),
        "cases": bool(events.cases),
        "classrooms": bool(events.students or events.staff),
    }
    keep = [m for m, need in NEEDS.items() if given[need]]
    frames = unit_metrics(data, start, end, {"school": keep, "classroom": keep}, rules=rules)
    return {
        scope: frame
        for scope, frame in frames.items()
        if frame.height and set(frame.columns) - {"unit", "parent", "date"}
    }
