"""Observations over the synthetic district: determinism, real counts, quarantine periods,
and the January 2022 agreement's rules firing on a tiny derived district."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from schoolmode.backtest.run import run_backtest
from schoolmode.importers.cps import SchoolCovidCases
from schoolmode.importers.standard import StandardLayout
from schoolmode.metrics.frames import unit_frames
from schoolmode.metrics.school import SchoolData, classroom_metrics, school_metrics
from schoolmode.policy.loader import Registry
from schoolmode.store.service import run_import
from schoolmode.synth.district import SynthConfig, synth_district, write_standard_files
from schoolmode.synth.observations import (
    ObservationConfig,
    Observations,
    derive_observations,
    merge_into,
    periods_from_policies,
    trace_district,
)

D = dt.date.fromisoformat
REPORTS = (
    Path(__file__).resolve().parents[1] / "fixtures/cps-school-covid-cases/allCpsCovidData.csv"
)
SCHOOLS = pl.DataFrame(
    {
        "school_id": ["400001", "400002", "400003"],
        "grades": ["K,1,2", "K,1,2", "3,4,5"],
        "enrolment": [66, 60, 72],
        "zip": ["60601", "60601", "60602"],
    }
)


def _zip_weekly(cases: float) -> pl.DataFrame:
    weeks = pl.date_range(D("2020-08-30"), D("2022-06-12"), interval="1w", eager=True)
    return pl.DataFrame(
        {
            "zip": ["60601"] * len(weeks) + ["60602"] * len(weeks),
            "week_start": pl.concat([weeks, weeks]),
            "cases": [cases] * (2 * len(weeks)),
            "population": [10_000.0] * (2 * len(weeks)),
        }
    )


@pytest.fixture(scope="module")
def reports() -> pl.DataFrame:
    return SchoolCovidCases().parse(REPORTS).frame


def _derive(
    reports: pl.DataFrame, config: ObservationConfig, cases: float = 500.0
) -> tuple[Observations, dict[str, pl.DataFrame]]:
    district = synth_district(SCHOOLS, SynthConfig(seed=3))
    observed = derive_observations(district, SCHOOLS, reports, _zip_weekly(cases), config)
    return observed, merge_into(district, observed)


def test_same_seed_identical_rows_other_seed_different(reports: pl.DataFrame) -> None:
    config = ObservationConfig(start=D("2020-09-08"), end=D("2022-02-28"))
    a, _ = _derive(reports, config)
    b, _ = _derive(reports, config)
    c, _ = _derive(reports, replace(config, seed=config.seed + 1))
    for name, frame in a.frames.items():
        assert frame.equals(b.frames[name]), name
    assert not a.frames["case"].equals(c.frames["case"])
    assert a.frames["case"].height > 50


def test_weekly_counts_are_the_real_cps_reports_where_they_exist(reports: pl.DataFrame) -> None:
    observed, frames = _derive(
        reports, ObservationConfig(start=D("2020-09-08"), end=D("2020-11-30"))
    )
    weekly = observed.weekly
    real = weekly.filter(pl.col("origin") == "real")
    # the fixture's reports (Saturdays 2020-10-03 .. 10-31) cover the weeks of 09-28 .. 10-26
    got = {
        (s, w.isoformat()): n for s, w, n in real.select("school_id", "week", "cases").iter_rows()
    }
    assert got == {
        ("400001", "2020-09-28"): 1,
        ("400001", "2020-10-05"): 3,
        ("400001", "2020-10-12"): 0,
        ("400001", "2020-10-19"): 5,
        ("400002", "2020-09-28"): 0,
        ("400002", "2020-10-05"): 0,
        ("400002", "2020-10-12"): 2,
        ("400002", "2020-10-19"): 2,
    }
    # school 400003 is not in the reports: its weeks are drawn from the ZIP rate
    assert set(weekly.filter(pl.col("school_id") == "400003")["origin"]) == {"zip"}
    # and the derived cases of each reported week are exactly the report's count, on school days
    cases = (
        frames["case"]
        .join(
            frames["enrolment"]
            .join(frames["classroom"], on="classroom_id")
            .select("person_id", "school_id", "start_date", "end_date")
            .vstack(
                frames["staff_assignment"].select(
                    "person_id", "school_id", "start_date", "end_date"
                )
            ),
            on="person_id",
        )
        .filter(pl.col("report_date").is_between(pl.col("start_date"), pl.col("end_date")))
    )
    per_week = cases.group_by(
        "school_id",
        (pl.col("report_date") - pl.duration(days=pl.col("report_date").dt.weekday() - 1)).alias(
            "week"
        ),
    ).agg(pl.len().alias("n"))
    for (school, week), n in got.items():
        row = per_week.filter((pl.col("school_id") == school) & (pl.col("week") == D(week)))
        assert (row["n"].item() if row.height else 0) == n
    assert cases["report_date"].dt.weekday().max() <= 5


def test_periods_come_from_the_policy_files() -> None:
    isolation, quarantine = periods_from_policies(Registry())
    assert [isolation.at(D(d)) for d in ("2020-10-15", "2022-01-10", "2022-01-11")] == [10, 10, 5]
    assert [quarantine.at(D(d)) for d in ("2020-10-15", "2022-01-11", "2022-02-01")] == [14, 10, 5]


def test_a_cases_homeroom_quarantines_for_the_period_in_force(reports: pl.DataFrame) -> None:
    """Orders come from contact tracing with the rules in force (CDC, then CPS's own rule):
    each issued order runs from the report date to day 0 + the period (day 0 = the report
    date, the case's last school day), and the stored (merged) orders cover it."""
    config = ObservationConfig(start=D("2020-09-08"), end=D("2022-03-31"))
    district = synth_district(SCHOOLS, SynthConfig(seed=3))
    observed = derive_observations(district, SCHOOLS, reports, _zip_weekly(500.0), config)
    frames = merge_into(district, observed)
    issued = trace_district(district, frames["case"], config).issued.with_columns(
        (pl.col("end_date") - pl.col("start_date")).dt.total_days().alias("days")
    )
    merged = frames["quarantine_order"]
    cases = frames["case"].join(
        frames["enrolment"].select("person_id", "classroom_id").unique(), on="person_id"
    )
    rooms = frames["enrolment"].select("person_id", "classroom_id").unique()
    checked = {"oct-2020": 0, "feb-2022": 0}
    for case_id, person, room, day in cases.select(
        "case_id", "person_id", "classroom_id", "report_date"
    ).iter_rows():
        if D("2020-10-01") <= day <= D("2020-10-31"):
            label, days, iso = "oct-2020", 14, 10
        elif day >= D("2022-02-01"):
            label, days, iso = "feb-2022", 5, 5
        else:
            continue
        mine = issued.filter(pl.col("case_id") == case_id)
        # classmates (a sibling in the homeroom is a household contact) and household members
        q = mine.filter(pl.col("kind") == "quarantine")
        students = set(rooms.filter(pl.col("classroom_id") == room)["person_id"]) - {person}
        assert students <= set(q["person_id"])
        assert set(q["days"]) == {days}
        assert set(q["start_date"]) == {day}
        isolation = mine.filter(pl.col("kind") == "isolation")
        assert isolation["person_id"].to_list() == [person]
        assert isolation["days"].to_list() == [iso]
        # the stored orders (merged per person and kind) cover every issued one
        end = day + dt.timedelta(days=days)
        covering = merged.filter(
            (pl.col("kind") == "quarantine")
            & (pl.col("start_date") <= day)
            & (pl.col("end_date") >= end)
        )
        assert students <= set(covering["person_id"])
        checked[label] += 1
    assert checked["oct-2020"] > 0
    assert checked["feb-2022"] > 0
    # merged: no two stored orders of a person and kind overlap
    overlaps = (
        merged.sort("person_id", "kind", "start_date")
        .with_columns(pl.col("end_date").shift(1).over("person_id", "kind").alias("previous_end"))
        .filter(pl.col("start_date") <= pl.col("previous_end"))
    )
    assert overlaps.height == 0


def test_january_2022_rules_fire_on_a_tiny_derived_district(registry: Registry) -> None:
    config = ObservationConfig(
        start=D("2022-01-12"),
        end=D("2022-02-25"),
        staff_case_share=0.5,
        substitute_fill_rate=0.0,
    )
    empty = pl.DataFrame(schema={"school_id": pl.String, "date": pl.Date, "cases": pl.Int64})
    _, frames = _derive(empty, config, cases=400.0)
    data = SchoolData.from_frames(**frames)
    start, end = D("2022-01-12"), D("2022-02-25")
    school = school_metrics(data, start, end)
    room = classroom_metrics(data, start, end)
    assert school["covid_absent_teachers"].sum() > 0
    policy = registry.get("cps-ctu-2022-01-10").policy
    result = run_backtest([policy], {"school": school, "classroom": room}, start, end)
    run = result.runs[0]
    schools_out = run.results["school"]
    assert schools_out["trigger.teacher-absences"].any()
    fired = schools_out.filter(pl.col("trigger.teacher-absences"))
    assert set(fired["mode"]) <= {"remote", "in_person"}
    rooms_out = run.results["classroom"]
    flipped = rooms_out.filter(pl.col("mode") == "temporary_remote")
    assert flipped.height > 0
    first = room.filter(pl.col("positive_cases_reported") > 0).sort("date").row(0, named=True)
    # the engine's default notice: the class flips from the day after the report
    next_day = first["date"] + dt.timedelta(days=1)
    on_day = rooms_out.filter((pl.col("unit") == first["unit"]) & (pl.col("date") == next_day))
    assert on_day["mode"].item() == "temporary_remote"
    assert on_day["rule"].item() == "flip-to-remote"


def test_store_frames_carry_school_and_classroom_metrics(store: Engine, tmp_path: Path) -> None:
    config = ObservationConfig(start=D("2022-01-12"), end=D("2022-01-31"))
    empty = pl.DataFrame(schema={"school_id": pl.String, "date": pl.Date, "cases": pl.Int64})
    days = pl.date_range(D("2022-01-12"), D("2022-01-31"), interval="1d", eager=True)
    district = pl.DataFrame({"unit": "chicago", "date": days, "positivity_7d_pct": 5.0})
    school_list = pl.DataFrame(
        {"unit": SCHOOLS["school_id"], "grade_band": "ES", "enrolled": SCHOOLS["enrolment"]}
    )
    district_columns = ["positivity_14d_pct", "cases_per_100k_7d", "cases_per_100k_14d"]
    district = district.with_columns(pl.lit(1.0).alias(c) for c in district_columns)
    before = unit_frames(store, district, school_list)
    assert set(before) == {"school"}
    _, frames = _derive(empty, config, cases=400.0)
    for path in write_standard_files(frames, tmp_path):
        run_import(store, StandardLayout("synthetic-district"), path)
    after = unit_frames(store, district, school_list)
    assert set(after) == {"school", "classroom"}
    school = after["school"]
    assert set(school["unit"]) == set(SCHOOLS["school_id"])
    assert school.height == before["school"].height
    assert school["school_cases"].sum() == frames["case"].height
    assert {"positivity_7d_pct", "covid_absent_teachers", "in_outbreak"} <= set(school.columns)
    assert set(after["classroom"]["parent"]) <= set(SCHOOLS["school_id"])


def test_a_flipped_classroom_is_explained(registry: Registry) -> None:
    from schoolmode.engine.evaluate import evaluate
    from schoolmode.engine.explain import explain
    from schoolmode.engine.trace import trace

    config = ObservationConfig(start=D("2022-01-12"), end=D("2022-02-25"))
    empty = pl.DataFrame(schema={"school_id": pl.String, "date": pl.Date, "cases": pl.Int64})
    _, frames = _derive(empty, config, cases=400.0)
    data = SchoolData.from_frames(**frames)
    start, end = D("2022-01-12"), D("2022-02-25")
    room = classroom_metrics(data, start, end)
    policy = registry.get("cps-ctu-2022-01-10").policy
    evaluation = evaluate(
        policy, {"classroom": room, "school": school_metrics(data, start, end)}, keep=True
    )
    first = room.filter(pl.col("positive_cases_reported") > 0).sort("date").row(0, named=True)
    reported = explain(trace(evaluation, "classroom", first["unit"], first["date"]))
    assert f"the mode for classroom {first['unit']} is" in reported
    assert "positive cases reported in the class" in reported
    assert "Flip-to-remote protocol" in reported
    later = explain(
        trace(evaluation, "classroom", first["unit"], first["date"] + dt.timedelta(days=3))
    )
    assert '"Temporary remote (classroom flipped to remote)"' in later
    assert "because a rule took effect on" in later
