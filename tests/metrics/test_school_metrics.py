"""School and classroom metrics on a small hand-checkable district, in memory and from the
store (SQLite and PostgreSQL), and the weekly by-person positivity from the ZIP data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from schoolmode.importers.cdph import ZipWeekly
from schoolmode.importers.standard import StandardLayout
from schoolmode.metrics import (
    SchoolData,
    classroom_metrics,
    school_frames,
    school_metrics,
    zip_weekly_positivity,
)
from schoolmode.store.service import run_import
from schoolmode.synth.district import write_standard_files

D = dt.date.fromisoformat
START, END = D("2022-01-03"), D("2022-01-07")
YEAR = (D("2021-08-30"), D("2022-06-14"))
OMICRON = Path(__file__).resolve().parents[1] / "fixtures" / "zip-weekly-omicron"


def _district() -> dict[str, pl.DataFrame]:
    """S1: 40 homerooms R01..R40 of 10 students, 40 classroom teachers, 10 other staff.
    S2: one homeroom Q1 of 30 students and its teacher."""
    rooms = [(f"R{i:02d}", "S1") for i in range(1, 41)] + [("Q1", "S2")]
    classroom = pl.DataFrame(
        {
            "classroom_id": [r for r, _ in rooms],
            "school_id": [s for _, s in rooms],
            "school_year": ["2021-2022"] * len(rooms),
            "grade": ["3"] * len(rooms),
        }
    )
    enrol = []
    for room, _school in rooms:
        n = 30 if room == "Q1" else 10
        enrol += [(f"{room}-s{k}", room, YEAR[0], YEAR[1], "in_person") for k in range(n)]
    enrol[0] = (*enrol[0][:4], "remote")  # R01-s0 learns remotely
    # R02-s1 moves from R02 to R03 after 2022-01-05 (same school)
    enrol = [e for e in enrol if e[0] != "R02-s1"]
    enrol += [
        ("R02-s1", "R02", YEAR[0], D("2022-01-05"), None),
        ("R02-s1", "R03", D("2022-01-06"), YEAR[1], None),
    ]
    enrolment = pl.DataFrame(
        enrol,
        schema=["person_id", "classroom_id", "start_date", "end_date", "learning_choice"],
        orient="row",
    )
    assign = [(f"T-{r}", s, r, "classroom_teacher", YEAR[0], None) for r, s in rooms]
    # a second, overlapping assignment of the same teacher counts once
    assign.append(("T-R05", "S1", "R05", "classroom_teacher", D("2022-01-01"), D("2022-01-31")))
    assign += [(f"O{k}", "S1", None, "other_staff", YEAR[0], YEAR[1]) for k in range(10)]
    staff_assignment = pl.DataFrame(
        assign,
        schema=["person_id", "school_id", "classroom_id", "role", "start_date", "end_date"],
        orient="row",
    )
    day = D("2022-01-04")
    absences = [(f"T-R{i:02d}", "S1", day, "documented_positive") for i in range(1, 8)]
    absences += [(f"T-R{i:02d}", "S1", day, "directed_quarantine_isolation") for i in range(8, 13)]
    absences += [(f"T-R{i:02d}", "S1", day, "personal") for i in range(13, 16)]
    absences += [("R01-s5", "S1", day, "documented_positive")]  # a student: not a teacher
    absence = pl.DataFrame(
        absences, schema=["person_id", "school_id", "date", "reason"], orient="row"
    )
    covered = [(f"R{i:02d}", day, f"T-R{i:02d}", True) for i in range(1, 9)]
    covered += [("R09", day, "T-R09", False)]
    covered += [(f"R{i:02d}", day, f"T-R{i:02d}", True) for i in (13, 14)]  # personal
    substitute_coverage = pl.DataFrame(
        covered, schema=["classroom_id", "date", "absent_person_id", "covered"], orient="row"
    )
    orders = [
        (f"q{k}", f"R01-s{k}", "quarantine", D("2022-01-03"), D("2022-01-05")) for k in range(5)
    ]
    orders += [("q9", "O1", "isolation", D("2021-12-30"), D("2022-01-04"))]
    orders += [("q10", "T-R01", "isolation", D("2022-01-04"), D("2022-01-08"))]  # also absent
    quarantine_order = pl.DataFrame(
        orders, schema=["order_id", "person_id", "kind", "start_date", "end_date"], orient="row"
    )
    cases = [
        # S1 / R10: two unrelated cases, group of 11 -> prong 1 (>= 10%) on 2022-01-05
        ("c1", "R10-s1", D("2022-01-04"), D("2022-01-05"), False),
        ("c2", "R10-s2", D("2022-01-05"), D("2022-01-06"), False),
        # S1: the R20 teacher
        ("c3", "T-R20", D("2022-01-06"), D("2022-01-06"), False),
        # S2 / Q1 (group of 31): A, B (household-linked to A), C, D
        ("A", "Q1-s1", D("2022-01-03"), D("2022-01-04"), False),
        ("B", "Q1-s2", D("2022-01-04"), D("2022-01-05"), True),
        ("C", "Q1-s3", D("2022-01-05"), D("2022-01-06"), False),
        ("D", "Q1-s4", D("2022-01-06"), D("2022-01-07"), False),
    ]
    case = pl.DataFrame(
        [(c, p, "sars-cov-2", on, rep, "confirmed", hh) for c, p, on, rep, hh in cases],
        schema=[
            "case_id",
            "person_id",
            "pathogen",
            "onset_date",
            "report_date",
            "status",
            "household_linked",
        ],
        orient="row",
    )
    return {
        "classroom": classroom,
        "enrolment": enrolment,
        "staff_assignment": staff_assignment,
        "absence": absence,
        "substitute_coverage": substitute_coverage,
        "quarantine_order": quarantine_order,
        "case": case,
    }


def _by_day(frame: pl.DataFrame, unit: str, column: str) -> list[int]:
    return frame.filter(pl.col("unit") == unit).sort("date")[column].to_list()


def _check(school: pl.DataFrame, room: pl.DataFrame) -> None:
    assert school.height == 2 * 5
    s1 = {c: _by_day(school, "S1", c) for c in school.columns[2:]}
    assert s1["classroom_teachers"] == [40] * 5
    assert s1["covid_absent_teachers"] == [0, 12, 0, 0, 0]
    assert s1["absences_covered_by_substitutes"] == [0, 8, 0, 0, 0]
    assert s1["enrolled"] == [400] * 5
    assert s1["in_person_students"] == [399] * 5
    assert s1["students_quarantine_isolation"] == [5, 5, 5, 0, 0]
    assert s1["staff_total"] == [50] * 5
    # O1 (order to 01-04), 12 COVID-absent teachers (T-R01 also under an order: once)
    assert s1["staff_isolation_quarantine"] == [1, 13, 1, 1, 1]
    assert s1["school_cases"] == [0, 0, 1, 2, 0]
    assert s1["household_linked_cases"] == [0] * 5
    assert s1["school_cases_14d"] == [0, 0, 1, 3, 3]
    assert s1["in_outbreak"] == [0, 0, 1, 1, 1]
    s2 = {c: _by_day(school, "S2", c) for c in school.columns[2:]}
    assert s2["enrolled"] == [30] * 5
    assert s2["classroom_teachers"] == s2["staff_total"] == [1] * 5
    assert s2["school_cases"] == [0, 1, 1, 1, 1]
    assert s2["household_linked_cases"] == [0, 0, 1, 0, 0]
    assert s2["household_linked_cases_14d"] == [0, 0, 1, 1, 1]
    # A, C qualify by 01-05 (2 of 31 < 10%); D makes 3 on 01-06; B is household-linked
    assert s2["in_outbreak"] == [0, 0, 0, 1, 1]

    assert room.columns[:3] == ["unit", "parent", "date"]
    assert room.height == 41 * 5
    assert _by_day(room, "R01", "students_quarantine_isolation") == [5, 5, 5, 0, 0]
    assert _by_day(room, "R02", "enrolled") == [10, 10, 10, 9, 9]
    assert _by_day(room, "R03", "enrolled") == [10, 10, 10, 11, 11]
    assert _by_day(room, "R10", "positive_cases_reported") == [0, 0, 1, 1, 0]
    assert _by_day(room, "R20", "positive_cases_reported") == [0, 0, 0, 1, 0]
    assert set(room.filter(pl.col("unit") == "Q1")["parent"]) == {"S2"}
    assert room["positive_cases_reported"].sum() == 3 + 4


def test_school_and_classroom_metrics_by_hand() -> None:
    data = SchoolData.from_frames(**_district())
    _check(school_metrics(data, START, END), classroom_metrics(data, START, END))


def test_metrics_from_the_store_match(store: Engine, tmp_path: Path) -> None:
    frames = SchoolData.from_frames(**_district())
    files = write_standard_files(
        {name: getattr(frames, name) for name in frames.__dataclass_fields__}, tmp_path
    )
    for path in files:
        run_import(store, StandardLayout("fixture"), path)
    out = school_frames(store, START, END)
    _check(out["school"], out["classroom"])


def test_weekly_by_person_positivity_reproduces_policies_md(store: Engine) -> None:
    run_import(store, ZipWeekly(), OMICRON / ZipWeekly.default_files[0].split("/")[1])
    weekly = zip_weekly_positivity(store)
    values = {
        d.isoformat(): round(v, 1)
        for d, v in weekly.select("date", "positivity_weekly_by_person_pct").iter_rows()
    }
    assert values == {"2021-12-26": 17.9, "2022-01-02": 15.7}
    first = weekly.row(0, named=True)
    assert (first["cases_weekly"], first["tests_weekly"], first["zips"]) == (48290, 270429, 58)


def test_weekly_positivity_drops_rows_with_blank_tests() -> None:
    from schoolmode.metrics import weekly_positivity_by_person

    rows = pl.DataFrame(
        {
            "zip": ["60601", "60602", "60603", "60601"],
            "date": [D("2022-01-02")] * 3 + [D("2022-01-09")],
            "cases": [10, 50, None, 0],
            "tests": [100, None, 100, 0],
        }
    )
    out = weekly_positivity_by_person(rows)
    assert out["positivity_weekly_by_person_pct"].to_list() == [5.0, None]
    assert out["zips"].to_list() == [2, 1]


@pytest.mark.parametrize("column", ["covid_absent_teachers", "classroom_teachers"])
def test_metric_columns_are_integers(column: str) -> None:
    data = SchoolData.from_frames(**_district())
    assert school_metrics(data, START, END).schema[column] == pl.Int64
