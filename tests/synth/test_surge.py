"""A surge week end to end on a small synthetic district: cases -> tracing -> orders ->
absences -> school metrics -> the January 2022 agreement in the engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.policy.loader import Registry
from schoolmode.synth.district import SynthConfig, SyntheticDistrict, synth_district
from schoolmode.synth.observations import ObservationConfig
from schoolmode.synth.surge import SurgeWeek, surge_week

D = dt.date.fromisoformat
PROFILES = (
    Path(__file__).resolve().parents[1]
    / "fixtures/shared/data/cps-schools"
    / "Chicago_Public_Schools_-_School_Profile_Information_SY2122.csv"
)
WEEK = D("2022-01-24")
SCHOOLS = pl.DataFrame(
    {
        "school_id": ["400001", "400002", "400003", "400004"],
        "grades": ["K,1,2", "K,1,2", "3,4,5", "6,7,8"],
        "enrolment": [66, 150, 72, 210],
        "zip": ["60601", "60601", "60602", "60602"],
    }
)


@pytest.fixture(scope="module")
def district() -> SyntheticDistrict:
    return synth_district(SCHOOLS, SynthConfig(seed=3))


@pytest.fixture(scope="module")
def surge(district: SyntheticDistrict) -> SurgeWeek:
    config = ObservationConfig(staff_case_share=0.5, substitute_fill_rate=0.0)
    return surge_week(district, WEEK, 40, config, Registry())


def _active(orders: pl.DataFrame, days: list[dt.date]) -> pl.DataFrame:
    """``person_id``, ``date``: under an order that day (independent of metrics/school.py)."""
    grid = pl.DataFrame({"date": days})
    return (
        orders.join(grid, how="cross")
        .filter((pl.col("start_date") <= pl.col("date")) & (pl.col("date") <= pl.col("end_date")))
        .select("person_id", "date")
        .unique()
    )


def _under_orders_per_unit(orders: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    """``unit``, ``date``, ``expected``: how many of ``people`` (``person_id``, ``unit``) are
    under an order on each school day of the week."""
    days = [WEEK + dt.timedelta(days=i) for i in range(5)]
    return (
        _active(orders, days)
        .join(people, on="person_id")
        .group_by("unit", "date")
        .agg(pl.len().alias("expected"))
    )


def test_every_stage_is_there(surge: SurgeWeek) -> None:
    summary = surge.summary()
    assert summary["cases"] == 40
    assert summary["exceptions"] == 0
    assert summary["contacts"] > summary["cases"]
    assert summary["isolation_orders"] == surge.cases["person_id"].n_unique()
    assert summary["quarantine_orders"] > 0
    assert summary["classrooms_flipped"] > 0
    assert summary["schools_eligible_for_remote"] > 0
    # the rule in force in late January 2022: CPS's 10 days after day 0, isolation 5 (ISBE)
    rules = set(surge.tracing.contacts["rule"])
    assert rules == {"cps-ctu-2022-01-10.classroom_remote_days (10 days)"}


def test_student_quarantine_counts_equal_the_orders_active_that_day(
    surge: SurgeWeek, district: SyntheticDistrict
) -> None:
    district_rooms = surge.classroom.select(pl.col("unit").alias("classroom_id"), "parent").unique()
    students = (
        district.frames["enrolment"]
        .join(district_rooms, on="classroom_id")
        .select("person_id", pl.col("parent").alias("unit"))
    )
    expected = _under_orders_per_unit(surge.orders, students)
    got = surge.school.select("unit", "date", "students_quarantine_isolation").join(
        expected, on=["unit", "date"], how="left"
    )
    assert got["students_quarantine_isolation"].sum() > 0
    assert got["students_quarantine_isolation"].to_list() == (
        got["expected"].fill_null(0).to_list()
    )


def test_teacher_absences_are_the_teachers_under_orders(
    surge: SurgeWeek, district: SyntheticDistrict
) -> None:
    staff = district.frames["staff_assignment"]
    teachers = staff.filter(pl.col("role") == "classroom_teacher").select(
        "person_id", pl.col("school_id").alias("unit")
    )
    expected = _under_orders_per_unit(surge.orders, teachers)
    got = surge.school.join(expected, on=["unit", "date"], how="left")
    assert got["covid_absent_teachers"].sum() > 0
    assert got["covid_absent_teachers"].to_list() == got["expected"].fill_null(0).to_list()


def test_thirty_percent_of_teachers_two_consecutive_days_makes_a_school_eligible(
    surge: SurgeWeek,
) -> None:
    """With no substitute found (fill rate 0), the teacher rule is met on a day exactly when
    at least 30% of classroom teachers were absent that school day and the one before."""
    metrics = surge.school.sort("unit", "date").with_columns(
        (pl.col("covid_absent_teachers") * 100 >= pl.col("classroom_teachers") * 30).alias("over")
    )
    metrics = metrics.with_columns(
        (pl.col("over") & pl.col("over").shift(1).over("unit").fill_null(False)).alias("expected")
    )
    decided = surge.decisions["school"].join(
        metrics.select("unit", "date", "expected"), on=["unit", "date"]
    )
    assert decided["expected"].any()
    assert decided["trigger.teacher-absences"].to_list() == decided["expected"].to_list()
    eligible = decided.filter(pl.col("expected"))
    assert set(eligible["status"]) == {"eligible_for_remote"}
    shown = surge.eligible_schools()
    assert set(eligible["unit"]) <= set(shown["unit"])


def test_student_share_rule_and_classroom_flips(surge: SurgeWeek) -> None:
    shares = surge.school.with_columns(
        (pl.col("students_quarantine_isolation") * 100 >= pl.col("enrolled") * 40).alias("over")
    )
    decided = surge.decisions["school"].join(
        shares.select("unit", "date", "over"), on=["unit", "date"]
    )
    assert decided["trigger.student-quarantine"].to_list() == decided["over"].to_list()
    # a classroom with a case reported on a day is in temporary remote from the next day
    reported = surge.classroom.filter(pl.col("positive_cases_reported") > 0).select(
        "unit", (pl.col("date") + pl.duration(days=1)).alias("date")
    )
    reported = reported.filter(pl.col("date") <= surge.end)
    flipped = surge.flipped_classrooms()
    assert reported.height > 0
    assert reported.join(flipped, on=["unit", "date"], how="anti").height == 0


def test_each_cases_homeroom_is_quarantined(surge: SurgeWeek, district: SyntheticDistrict) -> None:
    rooms = district.frames["enrolment"].select("person_id", "classroom_id")
    cases = surge.cases.join(rooms, on="person_id")
    classmates = (
        cases.select(
            "case_id", pl.col("person_id").alias("case_person"), "classroom_id", "report_date"
        )
        .join(rooms, on="classroom_id")
        .filter(pl.col("person_id") != pl.col("case_person"))
    )
    covered = classmates.join(
        surge.orders.filter(pl.col("kind") == "quarantine"), on="person_id"
    ).filter(
        (pl.col("start_date") <= pl.col("report_date"))
        & (pl.col("end_date") >= pl.col("report_date") + pl.duration(days=10))
    )
    assert classmates.height > 0
    assert classmates.select("case_id", "person_id").unique().height == (
        covered.select("case_id", "person_id").unique().height
    )


def test_cli_surge_week_on_twelve_schools(tmp_path: Path) -> None:
    args = ["district", "surge", "--week", "2022-01-24", "--cases", "80", "--seed", "3"]
    args += ["--profiles", str(PROFILES), "--out", str(tmp_path)]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "surge week 2022-01-24 .. 2022-01-28" in out.output
    assert "Schools eligible for remote learning" in out.output
    orders = pl.read_csv(tmp_path / "quarantine_order.csv")
    assert orders.height > 80
    assert (tmp_path / "eligible_schools.csv").is_file()
    tuesday = CliRunner().invoke(
        app, [*args[:2], "--week", "2022-01-25", "--profiles", str(PROFILES)]
    )
    assert tuesday.exit_code == 2
    assert "is a Tuesday: give the Monday" in tuesday.output
