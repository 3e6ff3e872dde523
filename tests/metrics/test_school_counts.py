"""The school and classroom counts against a straightforward reference on small random
districts: every membership and quarantine order exploded into one row per day, joined on
person and day, made unique and counted. ``metrics/school.py`` counts the same without a row
per day (spans intersected, merged and counted with a difference array; joins on integer
person codes), so its frames must agree cell by cell."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schoolmode.metrics.school import (
    COVID_REASONS,
    SchoolData,
    classroom_metrics,
    school_metrics,
)

D0 = dt.date(2022, 1, 3)
START, END = D0 + dt.timedelta(days=3), D0 + dt.timedelta(days=12)
CLASSROOMS = {"R1": "S1", "R2": "S1", "R3": "S2"}  # R4: enrolled in, not in the table
PEOPLE = [f"P{k}" for k in range(6)]
FAST = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

days = st.integers(0, 16).map(lambda k: D0 + dt.timedelta(days=k))
people = st.sampled_from(PEOPLE)
rooms = st.sampled_from([*CLASSROOMS, "R4"])
schools = st.sampled_from(["S1", "S2", "S3"])


def _frame(rows: list[tuple[Any, ...]], columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=columns, orient="row")


@st.composite
def districts(draw: st.DrawFn) -> SchoolData:
    """A few people in a few rooms, overlapping and open memberships, repeated orders, people
    who are both students and staff, absences and cases."""
    choice = st.none() | st.sampled_from(["remote", "in_person"])
    role = st.sampled_from(["classroom_teacher", "other_staff"])
    reason = st.sampled_from([*COVID_REASONS, "personal"])
    open_end = st.none() | days
    enrolment = draw(st.lists(st.tuples(people, rooms, days, open_end, choice), max_size=12))
    staff = draw(
        st.lists(st.tuples(people, schools, st.none() | rooms, role, days, open_end), max_size=8)
    )
    absence = draw(st.lists(st.tuples(people, schools, days, reason), max_size=8))
    orders = draw(st.lists(st.tuples(people, days, days), max_size=10))
    cases = draw(st.lists(st.tuples(people, days, st.booleans()), max_size=6))
    return SchoolData.from_frames(
        classroom=_frame(
            [(r, s, "2021-2022", "3") for r, s in CLASSROOMS.items()],
            ["classroom_id", "school_id", "school_year", "grade"],
        ),
        enrolment=_frame(
            enrolment, ["person_id", "classroom_id", "start_date", "end_date", "learning_choice"]
        ),
        staff_assignment=_frame(
            staff, ["person_id", "school_id", "classroom_id", "role", "start_date", "end_date"]
        ),
        absence=_frame(absence, ["person_id", "school_id", "date", "reason"]),
        quarantine_order=_frame(
            [(f"q{k}", *o) for k, o in enumerate(orders)],
            ["order_id", "person_id", "start_date", "end_date"],
        ),
        case=_frame(
            [(f"c{k}", *c) for k, c in enumerate(cases)],
            ["case_id", "person_id", "report_date", "household_linked"],
        ),
    )


def _member_days(spans: pl.DataFrame, unit: str) -> pl.DataFrame:
    """``unit``, ``person_id``, ``date``: a row per day of the window a membership holds (a
    blank end is open)."""
    return (
        spans.select(
            pl.col(unit).alias("unit"),
            "person_id",
            pl.max_horizontal("start_date", pl.lit(START)).alias("s"),
            pl.min_horizontal(pl.col("end_date").fill_null(END), pl.lit(END)).alias("e"),
        )
        .filter(pl.col("s") <= pl.col("e"))
        .select("unit", "person_id", pl.date_ranges("s", "e").alias("date"))
        .explode("date")
        .unique()
    )


def _order_days(data: SchoolData) -> pl.DataFrame:
    """``person_id``, ``date``: a row per person and day of the window under an order."""
    days = _member_days(data.quarantine_order.with_columns(pl.lit("-").alias("u")), "u")
    return days.select("person_id", "date").unique()


def _counts(rows: pl.DataFrame) -> dict[tuple[str, dt.date], int]:
    """Rows per (unit, date)."""
    counted = rows.group_by("unit", "date").len()
    return {(u, d): n for u, d, n in counted.iter_rows()}


def _cells(frame: pl.DataFrame, column: str) -> dict[tuple[str, dt.date], int]:
    """The frame's non-zero cells of ``column``."""
    return {(u, d): n for u, d, n in frame.select("unit", "date", column).iter_rows() if n}


def _cases(data: SchoolData, members: pl.DataFrame) -> pl.DataFrame:
    """``unit``, ``date``: a row per case and unit its person is a member of on the report
    date."""
    reported = data.case.select("case_id", "person_id", pl.col("report_date").alias("date"))
    return reported.join(members, on=["person_id", "date"]).unique(["unit", "case_id"])


def _school_reference(data: SchoolData) -> dict[str, dict[tuple[str, dt.date], int]]:
    students = data.enrolment.join(
        data.classroom.select("classroom_id", "school_id"), on="classroom_id"
    )
    enrolled = _member_days(students, "school_id")
    staff = _member_days(data.staff_assignment, "school_id")
    teachers = data.staff_assignment.filter(
        (pl.col("role") == "classroom_teacher") & pl.col("classroom_id").is_not_null()
    )
    covid = data.absence.filter(pl.col("reason").is_in(COVID_REASONS)).select(
        pl.col("school_id").alias("unit"), "person_id", "date"
    )
    ordered = _order_days(data)
    absent = staff.join(covid, on=["unit", "person_id", "date"], how="semi")
    out = pl.concat([staff.join(ordered, on=["person_id", "date"], how="semi"), absent])
    remote = pl.col("learning_choice").fill_null("") == "remote"
    return {
        "enrolled": _counts(enrolled),
        "in_person_students": _counts(_member_days(students.filter(~remote), "school_id")),
        "students_quarantine_isolation": _counts(
            enrolled.join(ordered, on=["person_id", "date"], how="semi")
        ),
        "staff_total": _counts(staff),
        "classroom_teachers": _counts(_member_days(teachers, "school_id")),
        "covid_absent_teachers": _counts(
            _member_days(teachers, "school_id").join(
                covid, on=["unit", "person_id", "date"], how="semi"
            )
        ),
        "staff_isolation_quarantine": _counts(out.unique()),
        "school_cases": _counts(_cases(data, pl.concat([enrolled, staff]))),
    }


def _classroom_reference(data: SchoolData) -> dict[str, dict[tuple[str, dt.date], int]]:
    students = data.enrolment.join(data.classroom.select("classroom_id"), on="classroom_id")
    enrolled = _member_days(students, "classroom_id")
    teachers = data.staff_assignment.filter(
        (pl.col("role") == "classroom_teacher") & pl.col("classroom_id").is_not_null()
    )
    core = pl.concat([enrolled, _member_days(teachers, "classroom_id")])
    return {
        "enrolled": _counts(enrolled),
        "students_quarantine_isolation": _counts(
            enrolled.join(_order_days(data), on=["person_id", "date"], how="semi")
        ),
        "positive_cases_reported": _counts(_cases(data, core)),
    }


def _within(counts: dict[tuple[str, dt.date], int], units: set[str]) -> dict[Any, int]:
    return {cell: n for cell, n in counts.items() if cell[0] in units}


@FAST
@given(districts())
def test_school_counts_match_exploded_days(data: SchoolData) -> None:
    frame = school_metrics(data, START, END)
    units = {"S1", "S2", *data.staff_assignment["school_id"]}
    assert set(frame["unit"]) == units
    for column, expected in _school_reference(data).items():
        assert _cells(frame, column) == _within(expected, units), column


@FAST
@given(districts())
def test_classroom_counts_match_exploded_days(data: SchoolData) -> None:
    frame = classroom_metrics(data, START, END)
    assert set(frame["unit"]) == set(CLASSROOMS)  # a room not in the table (R4) has no rows
    for column, expected in _classroom_reference(data).items():
        assert _cells(frame, column) == _within(expected, set(CLASSROOMS)), column
