"""The public school and district release (``app.metrics.school_release``): a table that
cannot be protected is published coarser, with a note, never refused."""

from __future__ import annotations

import datetime as dt

import polars as pl

from schoolmode.app.metrics import SCHOOL_COUNTS, school_release
from schoolmode.disclosure import rule_on

DAY = dt.date(2022, 1, 10)
RULE = rule_on(DAY)
BASE = {
    "enrolled": 300,
    "students_quarantine_isolation": 20,
    "classroom_teachers": 30,
    "covid_absent_teachers": 12,
    "staff_total": 50,
    "staff_isolation_quarantine": 15,
    "school_cases_14d": 30,
}


def _tables(cases: dict[str, int]) -> dict[str, pl.DataFrame]:
    """One day of schools (``cases``: each school's cases that day) and their district."""
    school = pl.DataFrame(
        [
            {
                "unit": u,
                "date": DAY,
                "in_outbreak": 0,
                **BASE,
                "school_cases": n,
                "parent": "district",
            }
            for u, n in cases.items()
        ]
    )
    district = school.group_by("date").agg(
        pl.col("in_outbreak").sum(), *(pl.col(c).sum() for c in SCHOOL_COUNTS)
    )
    return {"school": school, "district": district.with_columns(pl.lit("district").alias("unit"))}


def test_a_day_is_released_with_its_small_counts_hidden() -> None:
    out, notes = school_release(_tables({"A": 5, "B": 0, "C": 20}), RULE, history=False)
    assert notes == []
    a = out["school"].filter(pl.col("unit") == "A").row(0, named=True)
    assert a["school_cases"] is None
    assert "school_cases" in a["suppressed"]
    shown = out["school"].select(SCHOOL_COUNTS).to_numpy()
    assert not ((shown >= 1) & (shown <= 10)).any()


def test_a_school_table_that_cannot_be_protected_is_withheld_and_the_district_published() -> None:
    # school A's 5 cases are the only unknown of the district's cases (25 = 5 + 0 + 20); the
    # district's 25 and school C's 20 went out in an earlier release and B's is a zero: no
    # complement is left. Withholding the school counts protects A's through B's.
    tables = _tables({"A": 5, "B": 0, "C": 20})
    earlier = {
        "district": tables["district"].select("unit", "date", "school_cases"),
        "school": tables["school"]
        .filter(pl.col("unit") == "C")
        .select("unit", "date", "school_cases"),
    }
    out, notes = school_release(tables, RULE, history=False, earlier=earlier)
    assert len(notes) == 1
    assert notes[0].startswith("school counts withheld")
    assert out["school"].height == 3
    assert all(out["school"][c].is_null().all() for c in SCHOOL_COUNTS)
    assert out["school"]["suppressed"].to_list() == [",".join(SCHOOL_COUNTS)] * 3
    district = out["district"].row(0, named=True)
    assert district["school_cases"] == 25
    assert district["enrolled"] == 900


def test_a_small_count_that_went_out_before_withholds_everything_with_a_note() -> None:
    tables = _tables({"A": 5, "B": 0, "C": 20})
    earlier = {
        "school": tables["school"]
        .filter(pl.col("unit") == "A")
        .select("unit", "date", "school_cases")
    }
    out, notes = school_release(tables, RULE, history=False, earlier=earlier)
    assert notes[0].startswith("school counts withheld")
    assert notes[-1].startswith("all counts withheld")
    assert all(out[t][c].is_null().all() for t in ("school", "district") for c in SCHOOL_COUNTS)
