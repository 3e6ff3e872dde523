"""Weekly screening plans: selection, shares, ZIP list, consent shortfall, policy in force."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schoolmode.draws import draws, id_hash
from schoolmode.operations.screening import (
    ScreeningError,
    screening_policy,
    share_expr,
    share_of,
    top_zips,
    week_monday,
)
from schoolmode.operations.screening_plan import make_plan
from schoolmode.policy.loader import Registry

D = dt.date.fromisoformat
MOA = "cps-ctu-2021-02-06"
JAN22 = "cps-ctu-2022-01-10"
ZIPS = [f"606{i:02d}" for i in range(1, 13)]  # 60601 .. 60612


def weekly_cases(january: dict[str, float], february: dict[str, float]) -> pl.DataFrame:
    """Weekly cases by ZIP: weeks (Sunday start) ending in January and in February 2021."""
    rows = []
    for start, values in (
        (D("2021-01-03"), january),
        (D("2021-01-10"), january),
        (D("2021-01-17"), january),
        (D("2021-01-24"), january),
        (D("2021-01-31"), february),  # ends 2021-02-06: February data
        (D("2021-02-07"), february),
        (D("2021-02-14"), february),
        (D("2021-02-21"), february),
    ):
        for zip_code, value in values.items():
            rows.append(
                {
                    "source": "cdph-zip-weekly",
                    "geography_type": "zip",
                    "geography": zip_code,
                    "date": start,
                    "period_days": 7,
                    "metric": "cases_weekly",
                    "value": value,
                }
            )
    return pl.DataFrame(rows)


# January: 60601 highest ... 60612 lowest; February: the order reversed.
JANUARY = {z: float(100 - 5 * i) for i, z in enumerate(ZIPS)}
FEBRUARY = {z: float(50 + 5 * i) for i, z in enumerate(ZIPS)}


CONSENT = {"person_id": pl.String, "start_date": pl.Date, "end_date": pl.Date}
ENROL = {
    "person_id": pl.String,
    "classroom_id": pl.String,
    "start_date": pl.Date,
    "end_date": pl.Date,
}
ASSIGN = {
    "person_id": pl.String,
    "school_id": pl.String,
    "fte": pl.Float64,
    "start_date": pl.Date,
    "end_date": pl.Date,
}


def district(
    students: dict[str, int],
    staff: dict[str, int],
    consent_share: dict[str, float] | None = None,
    ages: int = 12,
    extra_students: int = 0,
) -> dict[str, pl.DataFrame]:
    """Schools S1 (ZIP 60601), S2 (60612), S3 (60605): students, staff, consent of the first
    share of each school's students (by id order) and of all staff."""
    zips = {"S1": "60601", "S2": "60612", "S3": "60605"}
    school = pl.DataFrame(
        {
            "school_id": list(zips),
            "school_year": ["2020-2021"] * 3,
            "zip": list(zips.values()),
        }
    )
    classroom = pl.DataFrame({"classroom_id": [f"C{s}" for s in zips], "school_id": list(zips)})
    person, enrol, assign, consent = [], [], [], []
    for s, n in students.items():
        share = (consent_share or {}).get(s, 1.0)
        for i in range(n + (extra_students if s == "S1" else 0)):
            pid = f"{s}-st{i:04d}"
            person.append({"person_id": pid, "role": "student", "age_years": ages})
            enrol.append(
                {
                    "person_id": pid,
                    "classroom_id": f"C{s}",
                    "start_date": D("2021-01-04"),
                    "end_date": None,
                }
            )
            if i < share * n:
                consent.append({"person_id": pid, "start_date": D("2021-01-01"), "end_date": None})
    for s, n in staff.items():
        for i in range(n):
            pid = f"{s}-sf{i:04d}"
            person.append({"person_id": pid, "role": "other_staff", "age_years": 40})
            assign.append(
                {
                    "person_id": pid,
                    "school_id": s,
                    "fte": 1.0,
                    "start_date": D("2021-01-04"),
                    "end_date": None,
                }
            )
            consent.append({"person_id": pid, "start_date": D("2021-01-01"), "end_date": None})
    return {
        "school": school,
        "classroom": classroom,
        "person": pl.DataFrame(
            person, schema={"person_id": pl.String, "role": pl.String, "age_years": pl.Int64}
        ),
        "enrolment": pl.DataFrame(enrol, schema=ENROL),
        "staff_assignment": pl.DataFrame(assign, schema=ASSIGN),
        "testing_consent": pl.DataFrame(consent, schema=CONSENT),
        "community_indicator": weekly_cases(JANUARY, FEBRUARY),
    }


@pytest.fixture(scope="module")
def reg() -> Registry:
    return Registry()


def moa(reg: Registry):  # type: ignore[no-untyped-def]
    return reg.get(MOA).policy


def test_week_parsing() -> None:
    assert week_monday("2021-W08") == D("2021-02-22")
    assert week_monday("2021-02-25") == D("2021-02-22")
    with pytest.raises(ScreeningError, match="neither an ISO week"):
        week_monday("next week")


def test_plan_is_reproducible_for_a_seed(reg: Registry) -> None:
    frames = district({"S1": 80, "S2": 80, "S3": 80}, {"S1": 10, "S2": 10, "S3": 10})
    a = make_plan(frames, moa(reg), D("2021-02-22"), 7)
    b = make_plan(frames, moa(reg), D("2021-02-22"), 7)
    c = make_plan(frames, moa(reg), D("2021-02-22"), 8)
    assert a.tests.equals(b.tests)
    assert a.schools.equals(b.schools)
    assert set(a.tests["person_id"]) != set(c.tests["person_id"])
    # the same persons are drawn whatever the input row order
    shuffled = {k: v.sample(fraction=1.0, shuffle=True, seed=3) for k, v in frames.items()}
    assert make_plan(shuffled, moa(reg), D("2021-02-22"), 7).tests.equals(a.tests)


def test_id_hash_is_fnv1a_of_the_utf8_bytes() -> None:
    def fnv(data: bytes) -> int:
        h = 0xCBF29CE484222325
        for byte in data:
            h = ((h ^ byte) * 0x100000001B3) % 2**64
        return h

    ids = pl.Series(["a", "", "é", "P0000001", None])
    assert [int(v) for v in id_hash(ids)] == [fnv((s or "").encode()) for s in ids.to_list()]


def test_draws_are_counter_based() -> None:
    ids = pl.Series(["a", "b", "c", "dd", "é"])
    one = draws(ids, MOA, D("2021-02-22"), 1)
    more = draws(pl.Series(["zz", *ids]), MOA, D("2021-02-22"), 1)
    assert one.to_list() == more.to_list()[1:]
    assert draws(ids, MOA, D("2021-03-01"), 1).to_list() != one.to_list()
    assert draws(ids, JAN22, D("2021-02-22"), 1).to_list() != one.to_list()
    assert len(set(one.to_list())) == 5


def test_adding_a_student_changes_at_most_one_selection(reg: Registry) -> None:
    # S1 (ZIP 60601, top-10 in January): 41 eligible -> ceil(25%) = 11; 42 -> 11 too
    before = make_plan(district({"S1": 41}, {}), moa(reg), D("2021-02-22"), 5)
    after = make_plan(district({"S1": 41}, {}, extra_students=1), moa(reg), D("2021-02-22"), 5)
    old = set(before.tests["person_id"])
    new = set(after.tests["person_id"])
    assert len(old) == len(new) == 11
    added = new - old
    assert added <= {"S1-st0041"}
    assert len(old - new) == len(added) <= 1


def test_shares_follow_the_policy_rounding(reg: Registry) -> None:
    # S1 in a top ZIP (priority under the default reading), S2 (60612) not in January's top 10
    frames = district({"S1": 41, "S2": 41}, {"S1": 61, "S2": 61})
    week = D("2021-02-22")
    plan = make_plan(frames, moa(reg), week, 1)
    rows = {r["school_id"]: r for r in plan.schools.iter_rows(named=True)}
    assert rows["S1"]["staff_target"] == 61  # 100% at priority schools
    assert rows["S2"]["staff_target"] == 31  # 50% of 61, rounded up
    assert rows["S1"]["student_target"] == 11  # 25% of 41 = 10.25, rounded up
    assert rows["S2"]["student_target"] == 0  # not in a top ZIP
    assert rows["S2"]["students_eligible"] == 0
    for rounding, staff, students in (("floor", 30, 10), ("half_up", 31, 10), ("ceil", 31, 11)):
        other = make_plan(frames, moa(reg), week, 1, {"rounding": rounding})
        got = {r["school_id"]: r for r in other.schools.iter_rows(named=True)}
        assert (got["S2"]["staff_target"], got["S1"]["student_target"]) == (staff, students)
    # the shares are parameters: an overlay-style override changes the plan
    half = make_plan(frames, moa(reg), week, 1, {"student_tested_share_top_zip_pct": Decimal(50)})
    assert half.schools.filter(pl.col("school_id") == "S1")["student_target"].item() == 21


@given(
    st.integers(min_value=0, max_value=100_000),
    st.decimals(min_value=0, max_value=100, places=2),
    st.sampled_from(["ceil", "floor", "half_up"]),
)
def test_vectorised_share_equals_the_exact_calculator(n: int, pct: Decimal, rounding: str) -> None:
    got = pl.select(share_expr(pl.lit(n), pct, rounding)).item()
    assert got == share_of(n, pct, rounding)


def test_students_under_the_minimum_age_are_not_eligible(reg: Registry) -> None:
    plan = make_plan(district({"S1": 40}, {}, ages=9), moa(reg), D("2021-02-22"), 1)
    row = plan.schools.row(0, named=True)
    assert (row["students"], row["students_eligible"], row["student_target"]) == (40, 0, 0)


def test_top_ten_zip_codes_from_weekly_cases() -> None:
    cases = weekly_cases(JANUARY, FEBRUARY)
    march = top_zips(cases, D("2021-03-01"), 10, "previous_calendar_month")
    assert march["zip"].to_list() == ZIPS[::-1][:10]  # February: 60612 highest
    february = top_zips(cases, D("2021-02-01"), 10, "previous_calendar_month")
    assert february["zip"].to_list() == ZIPS[:10]
    assert february["daily_average_cases"][0] == pytest.approx(100 / 7)
    assert february["weeks"].to_list() == [4] * 10
    # a suppressed (blank) week is left out, not read as zero
    blank = cases.with_columns(
        pl.when((pl.col("geography") == "60611") & (pl.col("date") == D("2021-01-03")))
        .then(None)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    row = top_zips(blank, D("2021-02-01"), 12, "previous_calendar_month").filter(
        pl.col("zip") == "60611"
    )
    assert row["weeks"].item() == 3
    # ties: lower ZIP first
    tied = weekly_cases(dict.fromkeys(ZIPS, 5.0), FEBRUARY)
    assert (
        top_zips(tied, D("2021-02-01"), 3, "previous_calendar_month")["zip"].to_list() == ZIPS[:3]
    )


def test_zip_list_changes_on_the_first_week_of_a_new_month_only(reg: Registry) -> None:
    frames = district({"S1": 40, "S2": 40}, {"S1": 4, "S2": 4})
    lists = {}
    for monday in ("2021-02-15", "2021-02-22", "2021-03-01", "2021-03-08"):
        plan = make_plan(frames, moa(reg), D(monday), 1)
        lists[monday] = plan.top_zips["zip"].to_list()
        assert plan.settings["zip_data_from"] == (
            "2021-01-01" if monday < "2021-03" else "2021-02-01"
        )
    assert lists["2021-02-15"] == lists["2021-02-22"] == ZIPS[:10]
    assert lists["2021-03-01"] == lists["2021-03-08"] == ZIPS[::-1][:10]
    # S2 (60612) is tested from March, S1 (60601) only until February
    feb = make_plan(frames, moa(reg), D("2021-02-22"), 1).schools
    mar = make_plan(frames, moa(reg), D("2021-03-01"), 1).schools
    assert feb["student_target"].to_list() == [10, 0]
    assert mar["student_target"].to_list() == [0, 10]
    # the other reading: the 28 days before the month
    last28 = make_plan(frames, moa(reg), D("2021-03-01"), 1, {"top_zip_window": "last_28_days"})
    assert last28.settings["zip_data_from"] == "2021-02-01"


def test_missing_zip_data_is_an_error(reg: Registry) -> None:
    frames = district({"S1": 4}, {})
    frames["community_indicator"] = frames["community_indicator"].head(0)
    with pytest.raises(ScreeningError, match="only 0 ZIP codes have weekly cases"):
        make_plan(frames, moa(reg), D("2021-02-22"), 1)


def test_consent_shortfall_is_reported(reg: Registry) -> None:
    frames = district({"S1": 44}, {}, consent_share={"S1": 0.1})  # 5 consented, target 11
    plan = make_plan(frames, moa(reg), D("2021-02-22"), 1)
    row = plan.schools.row(0, named=True)
    assert (row["student_target"], row["students_consented"], row["students_selected"]) == (
        11,
        5,
        5,
    )
    assert row["student_shortfall"] == 6
    assert plan.shortfalls()["school_id"].to_list() == ["S1"]
    consented = set(frames["testing_consent"]["person_id"])
    assert set(plan.tests["person_id"]) <= consented
    # staff: consent required by default; the other reading tests staff without it
    frames = district({"S1": 4}, {"S1": 8})
    frames["testing_consent"] = frames["testing_consent"].filter(
        ~pl.col("person_id").str.contains("sf000[0-3]")
    )
    plan = make_plan(frames, moa(reg), D("2021-02-22"), 1)
    assert plan.schools["staff_shortfall"].item() == 4
    plan = make_plan(frames, moa(reg), D("2021-02-22"), 1, {"staff_testing_requires_consent": "no"})
    assert plan.schools["staff_shortfall"].item() == 0


def test_withdrawn_consent_is_respected(reg: Registry) -> None:
    frames = district({"S1": 4}, {})
    frames["testing_consent"] = frames["testing_consent"].with_columns(
        pl.lit(D("2021-02-01")).alias("end_date")
    )
    plan = make_plan(frames, moa(reg), D("2021-02-22"), 1)
    assert plan.tests.height == 0
    assert plan.schools["student_shortfall"].item() == 1


def test_random_ten_percent_of_consented_students_in_2022(reg: Registry) -> None:
    frames = district({"S1": 1000, "S2": 1000}, {"S1": 5}, consent_share={"S1": 0.3, "S2": 0.08})
    for f in ("enrolment", "staff_assignment", "testing_consent"):
        frames[f] = frames[f].with_columns(pl.lit(D("2021-09-01")).alias("start_date"))
    plan = make_plan(frames, reg.get(JAN22).policy, D("2022-01-24"), 1)
    got = {r["school_id"]: r for r in plan.schools.iter_rows(named=True)}
    assert (got["S1"]["student_target"], got["S1"]["students_selected"]) == (100, 100)
    assert (got["S2"]["students_consented"], got["S2"]["students_selected"]) == (80, 80)
    assert got["S2"]["student_shortfall"] == 20
    assert got["S1"]["staff_target"] == 0  # no staff share in the January 2022 agreement
    # a school that already tested 10% weekly in December 2021 gets no resources
    tests = pl.DataFrame(
        {
            "test_id": [f"t{i}" for i in range(100)],
            "person_id": [f"S1-st{i:04d}" for i in range(100)],
            "specimen_date": [D("2021-12-06")] * 100,
            "screening": [True] * 100,
            "result": ["negative"] * 100,
        }
    )
    frames["test"] = tests
    plan = make_plan(frames, reg.get(JAN22).policy, D("2022-01-24"), 1)
    got = {r["school_id"]: r for r in plan.schools.iter_rows(named=True)}
    assert got["S1"]["resourced"] is False
    assert got["S1"]["student_target"] == 0
    assert got["S2"]["resourced"] is True


def test_pools_group_one_school_and_group(reg: Registry) -> None:
    frames = district({"S1": 80, "S3": 80}, {"S1": 7, "S3": 7})
    plan = make_plan(frames, moa(reg), D("2021-02-22"), 1)
    size = plan.settings["screening_pool_size"]
    pools = plan.tests.group_by("pool_id").agg(
        pl.len(),
        pl.col("school_id").n_unique().alias("schools"),
        pl.col("group").n_unique().alias("groups"),
    )
    assert pools["len"].max() <= size
    assert pools["schools"].max() == 1
    assert pools["groups"].max() == 1
    assert plan.tests["person_id"].is_unique().all()
    assert plan.tests.filter(pl.col("group") == "staff")["pool_id"].str.contains("-T").all()


def test_policy_in_force(reg: Registry) -> None:
    assert screening_policy(reg, D("2021-02-22")).id == MOA
    # the high-school addendum (an overlay of the MOA, in force with it) yields to its base
    assert screening_policy(reg, D("2021-05-03")).id == MOA
    assert screening_policy(reg, D("2021-05-03"), "cps-ctu-2021-04-15-hs").id == (
        "cps-ctu-2021-04-15-hs"
    )
    assert screening_policy(reg, D("2022-01-10")).id == JAN22  # in force from Tuesday 2022-01-11
    with pytest.raises(ScreeningError, match="no screening agreement in force"):
        screening_policy(reg, D("2021-10-04"))
    with pytest.raises(ScreeningError, match="not in force in the week"):
        screening_policy(reg, D("2021-10-04"), MOA)
    with pytest.raises(ScreeningError, match="no screening parameters"):
        screening_policy(reg, D("2021-10-04"), "idph-outbreak-2021-10-15")
