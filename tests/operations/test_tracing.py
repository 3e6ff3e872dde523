"""Contact tracing: worked examples by the rule in force."""

from __future__ import annotations

import datetime as dt

import polars as pl

from schoolmode.operations.tracing import Rosters, outbreaks, trace, tracing_indicators
from schoolmode.policy.loader import Registry

D = dt.date
CLASSMATES = ["S2", "S3", "S4"]


def _case(person: str, onset: dt.date, report: dt.date, case_id: str = "C1") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "case_id": [case_id],
            "person_id": [person],
            "pathogen": ["sars-cov-2"],
            "specimen_date": [None],
            "onset_date": [onset],
            "report_date": [report],
            "status": ["confirmed"],
            "household_linked": [False],
        },
        schema_overrides={"specimen_date": pl.Date},
    )


def _rosters(
    start: dt.date,
    absences: tuple[tuple[str, dt.date], ...] = (),
    masked: dict[str, bool] | None = None,
) -> Rosters:
    people = ["S1", *CLASSMATES, "S9", "T1", "P1"]
    person = pl.DataFrame(
        {
            "person_id": people,
            "household_id": ["H1", None, None, None, None, None, "H1"],
        }
    )
    enrolment = pl.DataFrame(
        {
            "person_id": ["S1", *CLASSMATES, "S9"],
            "classroom_id": ["3A", "3A", "3A", "3A", "3B"],
            "start_date": [start] * 5,
            "end_date": [None] * 5,
        },
        schema_overrides={"end_date": pl.Date},
    )
    staff = pl.DataFrame(
        {
            "person_id": ["T1"],
            "school_id": ["SCH"],
            "classroom_id": ["3A"],
            "role": ["classroom_teacher"],
            "start_date": [start],
            "end_date": [None],
        },
        schema_overrides={"end_date": pl.Date},
    )
    absence = pl.DataFrame(
        {"person_id": [p for p, _ in absences], "date": [d for _, d in absences]},
        schema={"person_id": pl.String, "date": pl.Date},
    )
    mask = (
        pl.DataFrame({"person_id": list(masked), "masked": list(masked.values())})
        if masked
        else None
    )
    return Rosters(person, enrolment, staff, absence, mask)


def _orders(result: pl.DataFrame) -> dict[tuple[str, str], tuple[dt.date, dt.date]]:
    return {
        (r["person_id"], r["kind"]): (r["start_date"], r["end_date"])
        for r in result.iter_rows(named=True)
    }


def test_december_2020_classmates_quarantine_ten_days(registry: Registry) -> None:
    cases = _case("S1", D(2020, 12, 9), D(2020, 12, 10))
    result = trace(cases, _rosters(D(2020, 9, 1)), registry)
    orders = _orders(result.orders)
    # Day 0 is the last exposure, the report day 2020-12-10; the no-test option ends after day 10.
    for p in [*CLASSMATES, "T1"]:
        assert orders[(p, "quarantine")] == (D(2020, 12, 10), D(2020, 12, 20))
    # the household contact, exposed through the report date
    assert orders[("P1", "quarantine")] == (D(2020, 12, 10), D(2020, 12, 20))
    # the case isolates 10 days from onset (CDC/IDPH of the time)
    assert orders[("S1", "isolation")] == (D(2020, 12, 10), D(2020, 12, 19))
    assert ("S9", "quarantine") not in orders  # another homeroom
    assert set(result.orders["kind"]) == {"quarantine", "isolation"}
    assert result.orders.columns == [
        "order_id",
        "person_id",
        "kind",
        "start_date",
        "end_date",
        "case_id",
        "classroom_id",
    ]
    s2 = result.contacts.filter(pl.col("person_id") == "S2").row(0, named=True)
    assert s2["test_out_may_return"] == D(2020, 12, 18)  # after day 7 with a negative test
    assert s2["setting"] == "homeroom"
    p1 = result.contacts.filter(pl.col("person_id") == "P1").row(0, named=True)
    assert p1["setting"] == "household"
    # follow-up: daily symptom checks through day 14
    s2_checks = result.follow_up.filter(pl.col("person_id") == "S2")
    assert s2_checks["date"].max() == D(2020, 12, 24)
    assert s2_checks["date"].min() == D(2020, 12, 10)


def test_january_2022_five_days(registry: Registry) -> None:
    cases = _case("S1", D(2022, 1, 12), D(2022, 1, 13))
    orders = _orders(trace(cases, _rosters(D(2021, 9, 1)), registry).orders)
    assert orders[("S2", "quarantine")] == (D(2022, 1, 13), D(2022, 1, 18))
    assert orders[("S1", "isolation")] == (D(2022, 1, 13), D(2022, 1, 17))


def test_absent_during_window_not_quarantined(registry: Registry) -> None:
    cases = _case("S1", D(2020, 12, 9), D(2020, 12, 10))
    window = [D(2020, 12, 7) + dt.timedelta(days=i) for i in range(4)]
    rosters = _rosters(D(2020, 9, 1), absences=tuple(("S3", d) for d in window))
    orders = _orders(trace(cases, rosters, registry).orders)
    assert ("S3", "quarantine") not in orders
    assert ("S2", "quarantine") in orders


def test_present_only_early_in_window_counts_from_last_exposure(registry: Registry) -> None:
    cases = _case("S1", D(2020, 12, 9), D(2020, 12, 10))
    late = [D(2020, 12, 8), D(2020, 12, 9), D(2020, 12, 10)]
    rosters = _rosters(D(2020, 9, 1), absences=tuple(("S4", d) for d in late))
    contacts = trace(cases, rosters, registry).contacts
    s4 = contacts.filter(pl.col("person_id") == "S4").row(0, named=True)
    assert s4["last_exposure"] == D(2020, 12, 7)
    assert s4["quarantine_end"] == D(2020, 12, 17)


def test_test_to_stay_when_both_masked(registry: Registry) -> None:
    cases = _case("S1", D(2021, 9, 14), D(2021, 9, 15))
    masked = {"S1": True, "S2": True, "S3": False}
    result = trace(cases, _rosters(D(2021, 8, 30), masked=masked), registry, universal_masking=True)
    attendance = dict(result.contacts.select("person_id", "attendance").iter_rows())
    assert attendance["S2"] == "test_to_stay"
    assert attendance["S3"] == "quarantine"
    assert attendance["P1"] == "quarantine"  # household: always
    orders = _orders(result.orders)
    assert ("S2", "quarantine") not in orders
    tests = result.follow_up.filter(
        (pl.col("person_id") == "S2") & (pl.col("action") == "test_due")
    )["date"].to_list()
    assert tests == [D(2021, 9, 16), D(2021, 9, 18), D(2021, 9, 20), D(2021, 9, 22)]
    # without universal masking nobody stays
    plain = trace(cases, _rosters(D(2021, 8, 30), masked=masked), registry)
    assert set(plain.contacts["attendance"]) == {"quarantine"}


def test_indicators() -> None:
    cases = pl.DataFrame(
        {
            "case_id": ["C1", "C2"],
            "person_id": ["A", "B"],
            "report_date": [D(2021, 1, 4), D(2021, 1, 8)],
        }
    )
    contacts = pl.DataFrame(
        {
            "case_id": ["C1", "C1", "C1", "C2"],
            "person_id": ["B", "X", "Y", "Z"],
            "identified_date": [D(2021, 1, 4), D(2021, 1, 5), D(2021, 1, 7), D(2021, 1, 8)],
            "reached_date": [D(2021, 1, 4), None, D(2021, 1, 7), D(2021, 1, 9)],
        }
    )
    got = tracing_indicators(cases, contacts)
    assert got["identified_within_24h"] == 3 / 4
    assert got["cases_known_as_contacts"] == 1 / 2
    assert got["lost_to_follow_up"] == 1 / 4


def test_outbreak_three_cases_not_household(registry: Registry) -> None:
    rosters = _rosters(D(2021, 9, 1))
    cases = pl.concat(
        [
            _case("S1", D(2021, 11, 1), D(2021, 11, 2), "C1"),
            _case("S2", D(2021, 11, 5), D(2021, 11, 6), "C2"),
            _case("S3", D(2021, 11, 15), D(2021, 11, 16), "C3"),
        ]
    )
    out = outbreaks(cases, rosters, registry)
    last = out.filter(pl.col("date") == D(2021, 11, 15)).row(0, named=True)
    assert last["cases_in_window"] == 3
    assert last["group_size"] == 5
    assert last["meets_definition"] is True
    assert last["lhd_confirmed"] is None
    # two of five (40% >= 10%) already meet prong 1 on 2021-11-05
    second = out.filter(pl.col("date") == D(2021, 11, 5)).row(0, named=True)
    assert second["meets_definition"] is True
    first = out.filter(pl.col("date") == D(2021, 11, 1)).row(0, named=True)
    assert first["meets_definition"] is False
    # household-linked cases do not count
    linked = cases.with_columns(
        pl.col("household_linked").is_in([True]) | (pl.col("case_id") != "C1")
    )
    assert outbreaks(linked, rosters, registry).height == 1
