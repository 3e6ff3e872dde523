"""Staff vaccination scheduling: second doses first, capacity per week and per site-day,
priority order, records respected, and the projection of the condition of return."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolmode.operations import vaccination as v
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry

D = dt.date
MONDAY = D(2021, 2, 8)


def _rules(registry: Registry, **changes: object) -> v.VaccinationRules:
    rules = v.vaccination_rules(registry.get("cps-ctu-2021-02-06").policy, D(2021, 2, 11))
    return dataclasses.replace(rules, **changes)  # type: ignore[arg-type]


def _staff(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"person_id": pl.String, "group": pl.String, "age_years": pl.Int64},
        orient="row",
    )


def test_policy_rules_are_read_from_the_files(registry: Registry) -> None:
    moa = v.vaccination_rules(registry.get("cps-ctu-2021-02-06").policy, D(2021, 3, 1))
    assert moa.first_doses_per_week == 1500
    assert (moa.by_return, moa.by_risk, moa.by_household_unaccommodated) == (True, True, True)
    assert moa.by_hardest_hit_zip is False  # an interpretation, default "no"
    assert moa.dose_interval_days == 28
    assert moa.return_dates["k5"] == D(2021, 2, 22)
    lbfo = v.vaccination_rules(registry.get("cps-lbfo-2021-02-04").policy, D(2021, 3, 1))
    assert (lbfo.by_return, lbfo.by_hardest_hit_zip, lbfo.by_risk) == (False, False, False)
    ctu = v.vaccination_rules(
        registry.get("ctu-demand-2021-02").policy, D(2021, 3, 1), city_supply_increase_pct=20
    )
    assert ctu.first_doses_per_week == 1800
    assert ctu.by_hardest_hit_zip is True
    overridden = v.vaccination_rules(
        registry.get("cps-ctu-2021-02-06").policy,
        D(2021, 3, 1),
        settings={"second_dose_interval_days": "21", "vaccination_priority_hardest_hit_zip": "yes"},
    )
    assert overridden.dose_interval_days == 21
    assert overridden.by_hardest_hit_zip is True


def test_hand_computed_schedule_and_projection(registry: Registry) -> None:
    """One site, 2 appointments a weekday, 3 first doses a week, second dose 7 days later.

    Priority: a (pre-K, 70), e (pre-K, 30), b (K-5, 70), c (K-5, 30), d (6-8, 30).
    Mon 8: firsts a, e.  Tue 9: first b (the week's 3 are given).  Mon 15: seconds a, e fill
    the day.  Tue 16: second b, first c.  Wed 17: first d.  Tue 23: second c.  Wed 24: second d.
    """
    staff = _staff(
        [
            ("c", "k5", 30),
            ("a", "prek_cluster", 70),
            ("d", "g6_8", 30),
            ("b", "k5", 70),
            ("e", "prek_cluster", 30),
        ]
    )
    rules = _rules(registry, first_doses_per_week=3, dose_interval_days=7)
    sites = pl.DataFrame({"site_id": ["S"], "daily_capacity": [2]})
    result = v.schedule(staff, rules, MONDAY, 4, v.site_days(sites, MONDAY, 28))
    got = {
        (r["person_id"], r["dose"]): r["date"] for r in result.appointments.iter_rows(named=True)
    }
    assert got == {
        ("a", 1): D(2021, 2, 8),
        ("e", 1): D(2021, 2, 8),
        ("b", 1): D(2021, 2, 9),
        ("a", 2): D(2021, 2, 15),
        ("e", 2): D(2021, 2, 15),
        ("b", 2): D(2021, 2, 16),
        ("c", 1): D(2021, 2, 16),
        ("d", 1): D(2021, 2, 17),
        ("c", 2): D(2021, 2, 23),
        ("d", 2): D(2021, 2, 24),
    }
    assert result.weekly["first_doses"].to_list() == [3, 2, 0, 0]
    assert result.weekly["second_doses"].to_list() == [0, 3, 2, 0]
    proj = v.projection(result)
    rows = {r["group"]: r for r in proj.iter_rows(named=True)}
    assert rows["prek_cluster"]["all_by"] == D(2021, 2, 15)
    assert rows["prek_cluster"]["all_staff_met"] is False  # returned 2021-02-11
    assert rows["k5"]["all_by"] == D(2021, 2, 23)
    assert rows["k5"]["all_staff_met"] is False  # returned 2021-02-22, one day short
    assert rows["g6_8"]["all_by"] == D(2021, 2, 24)
    assert rows["g6_8"]["all_staff_met"] is True  # returned 2021-03-01


def test_lag_and_scope_of_the_condition(registry: Registry) -> None:
    staff = _staff([("a", "g6_8", 30), ("b", "g6_8", 30)]).with_columns(
        pl.Series("household_high_risk_unaccommodated", [True, False])
    )
    rules = _rules(registry, first_doses_per_week=1, dose_interval_days=7, opportunity_lag_days=14)
    result = v.schedule(staff, rules, MONDAY, 3)
    # a: first Mon 8 (household first), second Mon 15 -> full opportunity Mon 1 Mar
    # b: first Mon 15 (one a week), second Mon 22 -> 8 Mar
    row = v.projection(result).row(0, named=True)
    assert row["covered_staff"] == 1
    assert row["covered_all_by"] == D(2021, 3, 1)
    assert row["condition_met"] is True  # only the household group is covered by default
    assert row["all_by"] == D(2021, 3, 8)
    assert row["all_staff_met"] is False
    everyone = dataclasses.replace(rules, condition_scope="all_staff")
    assert (
        v.projection(v.schedule(staff, everyone, MONDAY, 3)).row(0, named=True)["condition_met"]
        is False
    )


def test_priority_order_keys(registry: Registry) -> None:
    staff = pl.DataFrame(
        {
            "person_id": ["young-hs", "old-hs", "k5-zip", "k5", "hh-hs", "k5-own"],
            "group": ["hs", "hs", "k5", "k5", "hs", "k5"],
            "age_years": [30, 66, 30, 30, 30, 30],
            "own_high_risk": [False, False, False, False, False, True],
            "household_high_risk_unaccommodated": [False, False, False, False, True, False],
            "school_zip": ["60601", "60601", "60623", "60601", "60601", "60601"],
        }
    )
    rules = _rules(registry, by_hardest_hit_zip=True)
    order = v.priority_order(staff, rules, frozenset({"60623"}))["person_id"].to_list()
    assert order == ["hh-hs", "k5-own", "k5-zip", "k5", "old-hs", "young-hs"]
    no_keys = dataclasses.replace(
        rules,
        by_household_unaccommodated=False,
        by_return=False,
        by_risk=False,
        by_hardest_hit_zip=False,
    )
    plain = v.priority_order(staff, no_keys)["person_id"].to_list()
    assert sorted(plain) == sorted(order)
    # the tie-break does not depend on the order of the input rows
    assert v.priority_order(staff.reverse(), no_keys)["person_id"].to_list() == plain


def test_vaccination_records_are_not_rescheduled(registry: Registry) -> None:
    staff = _staff([("done", "k5", 30), ("half", "k5", 30), ("none", "k5", 30), ("jj", "k5", 30)])
    records = pl.DataFrame(
        {
            "person_id": ["done", "done", "half", "jj"],
            "dose": [1, 2, 1, 1],
            "date": [D(2021, 1, 4), D(2021, 2, 1), D(2021, 2, 3), D(2021, 2, 2)],
            "product": ["Moderna", "Moderna", "Moderna", "Janssen"],
        }
    )
    rules = _rules(registry, dose_interval_days=7)
    result = v.schedule(staff, rules, MONDAY, 2, vaccinations=records)
    got = sorted(
        (r["person_id"], r["dose"], r["date"]) for r in result.appointments.iter_rows(named=True)
    )
    assert got == [
        ("half", 2, D(2021, 2, 10)),
        ("none", 1, D(2021, 2, 8)),
        ("none", 2, D(2021, 2, 15)),
    ]
    full = dict(zip(result.people["person_id"], result.people["full_opportunity"], strict=True))
    assert full["done"] == D(2021, 2, 1)
    assert full["jj"] == D(2021, 2, 2)


@st.composite
def _scenarios(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, int, int, int]:
    n = draw(st.integers(1, 40))
    groups = draw(st.lists(st.sampled_from(v.GROUP_ORDER), min_size=n, max_size=n))
    ages = draw(st.lists(st.integers(22, 70), min_size=n, max_size=n))
    staff = pl.DataFrame(
        {"person_id": [f"p{i:02d}" for i in range(n)], "group": groups, "age_years": ages}
    )
    n_sites = draw(st.integers(1, 3))
    weeks = draw(st.integers(1, 6))
    days = 7 * weeks
    caps = draw(st.lists(st.integers(0, 4), min_size=n_sites * days, max_size=n_sites * days))
    capacity = pl.DataFrame(
        {
            "site_id": [f"s{i}" for i in range(n_sites) for _ in range(days)],
            "date": [MONDAY + dt.timedelta(days=d) for _ in range(n_sites) for d in range(days)],
            "capacity": caps,
        }
    )
    return staff, capacity, draw(st.integers(0, 10)), draw(st.integers(1, 10)), weeks


@settings(max_examples=60, deadline=None)
@given(_scenarios())
def test_schedule_respects_every_limit(
    registry: Registry, scenario: tuple[pl.DataFrame, pl.DataFrame, int, int, int]
) -> None:
    staff, capacity, per_week, interval, weeks = scenario
    rules = _rules(registry, first_doses_per_week=per_week, dose_interval_days=interval)
    result = v.schedule(staff, rules, MONDAY, weeks, capacity)
    appts = result.appointments
    # per site and day: never more than the capacity
    used = appts.group_by("site_id", "date").agg(pl.len().alias("n"))
    over = used.join(capacity, on=["site_id", "date"], how="left").filter(
        pl.col("n") > pl.col("capacity").fill_null(0)
    )
    assert over.height == 0
    # per week: never more first doses than the policy's weekly number
    assert (result.weekly["first_doses"] <= per_week).all()
    # one appointment per person and dose; seconds at least the interval after the first
    assert not appts.select("person_id", "dose").is_duplicated().any()
    people = result.people
    both = people.filter(pl.col("second_dose").is_not_null())
    assert ((both["second_dose"] - both["first_dose"]).dt.total_days() >= interval).all()
    assert (
        people.filter(pl.col("second_dose").is_not_null() & pl.col("first_dose").is_null()).height
        == 0
    )
    # first doses follow the priority order
    firsts = people.filter(pl.col("first_dose").is_not_null())
    assert firsts["priority"].to_list() == list(range(1, firsts.height + 1))
    assert firsts["first_dose"].is_sorted()
    # second doses first: on a day with first doses, no second dose due by then is waiting
    first_days = appts.filter(pl.col("dose") == 1)["date"].unique()
    due = both.select(
        (pl.col("first_dose") + pl.duration(days=interval)).alias("due"), "second_dose"
    )
    for day in first_days:
        waiting = due.filter((pl.col("due") <= day) & (pl.col("second_dose") > day))
        assert waiting.height == 0
    waiting_forever = people.filter(
        pl.col("first_dose").is_not_null()
        & pl.col("second_dose").is_null()
        & ((pl.col("first_dose") + pl.duration(days=interval)) <= pl.lit(first_days.max()))
    )
    assert waiting_forever.height == 0 or first_days.len() == 0
    # deterministic, and independent of the order of the input rows
    again = v.schedule(staff.reverse(), rules, MONDAY, weeks, capacity)
    assert again.appointments.equals(appts)


def test_staff_groups_from_rooms_levels_and_fallback() -> None:
    start = D(2020, 9, 1)
    assignments = pl.DataFrame(
        {
            "person_id": ["pk", "k", "t7", "ms-staff", "x-staff", "left", "two"],
            "school_id": ["ES", "ES", "MS", "MS", "NOREC", "ES", "HS"],
            "classroom_id": ["ES-PK", "ES-K", "MS-7", None, None, None, None],
            "start_date": [start] * 7,
            "end_date": [None, None, None, None, None, D(2021, 1, 31), None],
        },
        schema_overrides={"end_date": pl.Date},
    )
    assignments = pl.concat(
        [
            assignments,
            pl.DataFrame(
                {
                    "person_id": ["two"],
                    "school_id": ["ES"],
                    "classroom_id": ["ES-K"],
                    "start_date": [start],
                    "end_date": [None],
                },
                schema=assignments.schema,
            ),
        ]
    )
    classrooms = pl.DataFrame(
        {
            "classroom_id": ["ES-PK", "ES-K", "MS-7", "NR-1", "NR-2", "NR-10"],
            "school_id": ["ES", "ES", "MS", "NOREC", "NOREC", "NOREC"],
            "grade": ["PK", "K", "7", "9", "10", "2"],
        }
    )
    schools = pl.DataFrame(
        {
            "school_id": ["ES", "MS", "HS"],
            "school_year": ["2020-2021"] * 3,
            "level": ["ES", "MS", "HS"],
            "zip": ["60623", "60601", "60614"],
        }
    )
    got = v.staff_groups(assignments, classrooms, schools, D(2021, 2, 11))
    groups = dict(zip(got["person_id"], got["group"], strict=True))
    assert groups == {
        "pk": "prek_cluster",
        "k": "k5",
        "t7": "g6_8",
        "ms-staff": "g6_8",
        "x-staff": "hs",  # no school record: most of its classrooms are high-school grades
        "two": "k5",  # the earlier-returning of two assignments
    }
    zips = dict(zip(got["person_id"], got["school_zip"], strict=True))
    assert zips["pk"] == "60623"
    assert zips["x-staff"] is None


def _zip_weeks(cases: dict[str, tuple[float | None, float]]) -> pl.DataFrame:
    """ZIP weekly cases: for each ZIP, (cases in each January 2021 week, in each February week);
    ``None`` is a suppressed week."""
    rows = []
    for code, (january, february) in cases.items():
        for week in range(9):  # weeks starting 2020-12-27 .. 2021-02-21
            start = D(2020, 12, 27) + dt.timedelta(days=7 * week)
            end = start + dt.timedelta(days=6)
            value = january if end.month == 1 else february
            rows.append(
                {
                    "geography_type": "zip",
                    "geography": code,
                    "date": start,
                    "period_days": 7,
                    "metric": "cases_weekly",
                    "value": value,
                }
            )
    # another metric and another geography are not read
    rows.append({**rows[0], "metric": "tests_weekly", "value": 1e6})
    rows.append({**rows[0], "geography_type": "community_area", "geography": "25", "value": 1e6})
    return pl.DataFrame(rows)


def test_hardest_hit_zips_from_weekly_cases(registry: Registry) -> None:
    indicators = _zip_weeks(
        {
            "60601": (10.0, 90.0),  # quiet in January, hard hit in February
            "60623": (70.0, 10.0),
            "60629": (70.0, 10.0),  # tie with 60623: the lower ZIP code first
            "60632": (50.0, 10.0),
            "60639": (None, 80.0),  # suppressed in January: not ranked
        }
    )
    moa = registry.get("cps-ctu-2021-02-06").policy
    # a schedule from 2021-02-11 ranks the weeks ending in January (the policy's window)
    got = v.hardest_hit_zips(moa, D(2021, 2, 11), indicators, {v.HARDEST_HIT_COUNT: 3})
    assert got.zips["zip"].to_list() == ["60623", "60629", "60632"]
    assert got.codes() == ("60623", "60629", "60632")
    assert (got.first, got.last, got.window) == (
        D(2021, 1, 1),
        D(2021, 1, 31),
        "previous_calendar_month",
    )
    assert got.zips["daily_average_cases"][0] == 10.0  # 70 a week over 7 days
    assert "weeks ending 2021-01-01 .. 2021-01-31" in got.source
    # in March the February weeks decide
    march = v.hardest_hit_zips(moa, D(2021, 3, 1), indicators, {v.HARDEST_HIT_COUNT: 2})
    assert march.codes() == ("60601", "60639")
    # the policy's default count is 10: five ranked ZIP codes are not enough
    with pytest.raises(SchoolmodeError, match="only 4 ZIP codes have weekly cases"):
        v.hardest_hit_zips(moa, D(2021, 2, 11), indicators)
    # CTU's demand gives the priority (a parameter) and the same readings
    demand = registry.get("ctu-demand-2021-02").policy
    assert v.vaccination_rules(demand, D(2021, 2, 11)).by_hardest_hit_zip
    assert v.hardest_hit_zips(
        demand, D(2021, 2, 11), indicators, {v.HARDEST_HIT_COUNT: 1}
    ).codes() == ("60623",)
    # the mayor's offer has no reading for the count: an error, not a made-up number
    offer = registry.get("cps-lbfo-2021-02-04").policy
    with pytest.raises(SchoolmodeError, match="gives no vaccination_hardest_hit_zip_count"):
        v.hardest_hit_zips(offer, D(2021, 2, 11), indicators)


def test_the_derived_zip_list_orders_the_schedule(registry: Registry) -> None:
    staff = pl.DataFrame(
        {
            "person_id": ["a", "b", "c"],
            "group": ["k5", "k5", "k5"],
            "age_years": [30, 30, 30],
            "own_high_risk": [False] * 3,
            "household_high_risk_unaccommodated": [False] * 3,
            "school_zip": ["60601", "60632", "60623"],
        }
    )
    rules = _rules(registry, by_hardest_hit_zip=True, first_doses_per_week=1)
    indicators = _zip_weeks({"60601": (10.0, 10.0), "60623": (70.0, 10.0), "60632": (50.0, 1.0)})
    moa = registry.get("cps-ctu-2021-02-06").policy
    zips = v.hardest_hit_zips(moa, MONDAY, indicators, {v.HARDEST_HIT_COUNT: 1}).codes()
    first = v.schedule(staff, dataclasses.replace(rules, hardest_hit_zips=zips), MONDAY, 1)
    assert first.appointments.filter(pl.col("dose") == 1)["person_id"].to_list() == ["c"]
    two = v.hardest_hit_zips(moa, MONDAY, indicators, {v.HARDEST_HIT_COUNT: 2}).codes()
    assert two == ("60623", "60632")
    # an explicit list overrides the rules' list
    given = v.schedule(
        staff,
        dataclasses.replace(rules, hardest_hit_zips=zips),
        MONDAY,
        1,
        hardest_hit_zips=frozenset({"60632"}),
    )
    assert given.appointments.filter(pl.col("dose") == 1)["person_id"].to_list() == ["b"]


def test_hardest_hit_zips_per_100k_residents(registry: Registry) -> None:
    cases = _zip_weeks({"60601": (70.0, 1.0), "60623": (35.0, 1.0), "60632": (20.0, 1.0)})
    population = pl.DataFrame(
        [
            {
                "geography_type": "zip",
                "geography": code,
                "date": D(2021, 1, 3),
                "period_days": 7,
                "metric": "population",
                "value": pop,
            }
            for code, pop in (("60601", 70_000.0), ("60623", 10_000.0))  # 60632: none
        ]
    )
    indicators = pl.concat([cases, population])
    moa = registry.get("cps-ctu-2021-02-06").policy
    by_count = v.hardest_hit_zips(moa, MONDAY, indicators, {v.HARDEST_HIT_COUNT: 2})
    assert by_count.codes() == ("60601", "60623")
    assert by_count.zips["zip"].to_list() == ["60601", "60623"]
    per = {v.HARDEST_HIT_COUNT: 2, v.HARDEST_HIT_MEASURE: "cases_per_100k"}
    by_rate = v.hardest_hit_zips(moa, MONDAY, indicators, per)
    # 35/7 a day over 10,000 residents (50 per 100k) beats 70/7 over 70,000 (about 14)
    assert by_rate.zips["zip"].to_list() == ["60623", "60601"]
    assert by_rate.zips["daily_cases_per_100k"][0] == 50.0
    assert "per 100,000 residents" in by_rate.source
    # 60632 has no population: it cannot be ranked per resident
    with pytest.raises(SchoolmodeError, match="only 2 ZIP codes have weekly cases"):
        v.hardest_hit_zips(moa, MONDAY, indicators, {**per, v.HARDEST_HIT_COUNT: 3})
