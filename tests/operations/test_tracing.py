"""Contact tracing: worked examples by the rule in force."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import polars as pl
from ruamel.yaml import YAML

from schoolmode.operations.tracing import (
    CPS_QUARANTINE,
    Rosters,
    days_before_onset,
    outbreaks,
    trace,
    tracing_indicators,
)
from schoolmode.operations.tracing_orders import merge_orders
from schoolmode.pathogen import load_pathogen
from schoolmode.policy.loader import Registry
from tests.conftest import FIXTURES, POLICIES

D = dt.date
CLASSMATES = ["S2", "S3", "S4"]


def _case(person: str, onset: dt.date | None, report: dt.date, case_id: str = "C1") -> pl.DataFrame:
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
        schema_overrides={"specimen_date": pl.Date, "onset_date": pl.Date},
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


# ------------------------------------------------------------------ merged orders, exceptions


def test_a_sibling_in_the_homeroom_is_a_household_contact(registry: Registry) -> None:
    """Exposed at home and at school: the household setting (the stricter) wins."""
    rosters = _rosters(D(2021, 9, 1))
    person = rosters.person.with_columns(
        pl.when(pl.col("person_id") == "S2")
        .then(pl.lit("H1"))
        .otherwise("household_id")
        .alias("household_id")
    )
    sibling = Rosters(person, rosters.enrolment, rosters.staff_assignment)
    contacts = trace(_case("S1", D(2021, 11, 1), D(2021, 11, 2)), sibling, registry).contacts
    s2 = contacts.filter(pl.col("person_id") == "S2").row(0, named=True)
    assert s2["setting"] == "household"
    assert contacts.filter(pl.col("person_id") == "S2").height == 1


def test_overlapping_orders_merge_latest_end_wins_history_kept() -> None:
    def order(oid: str, person: str, start: dt.date, end: dt.date, case: str) -> dict[str, object]:
        return {
            "order_id": oid,
            "person_id": person,
            "kind": "quarantine",
            "start_date": start,
            "end_date": end,
            "case_id": case,
            "classroom_id": "3A",
            "rule": f"rule of {case}",
        }

    issued = pl.DataFrame(
        [
            order("O1", "A", D(2022, 1, 3), D(2022, 1, 13), "C1"),
            order("O2", "A", D(2022, 1, 10), D(2022, 1, 20), "C2"),  # overlaps O1
            order("O3", "A", D(2022, 1, 21), D(2022, 1, 25), "C3"),  # touches the merged end
            order("O4", "A", D(2022, 2, 1), D(2022, 2, 5), "C4"),  # a gap: a new order
            order("O5", "B", D(2022, 1, 5), D(2022, 1, 15), "C1"),
            order("O6", "B", D(2022, 1, 6), D(2022, 1, 9), "C2"),  # inside O5: O5's end stays
        ]
    )
    merged, history = merge_orders(issued)
    got = {
        r["order_id"]: (r["person_id"], r["start_date"], r["end_date"], r["case_id"])
        for r in merged.iter_rows(named=True)
    }
    assert got == {
        "O1": ("A", D(2022, 1, 3), D(2022, 1, 25), "C3"),
        "O4": ("A", D(2022, 2, 1), D(2022, 2, 5), "C4"),
        "O5": ("B", D(2022, 1, 5), D(2022, 1, 15), "C1"),
    }
    assert merged.columns == list(issued.drop("rule").columns)
    into = dict(history.select("order_id", "merged_into").iter_rows())
    assert into == {"O1": "O1", "O2": "O1", "O3": "O1", "O4": "O4", "O5": "O5", "O6": "O5"}
    assert history["rule"].to_list() == [
        "rule of C1",
        "rule of C2",
        "rule of C3",
        "rule of C4",
        "rule of C1",
        "rule of C2",
    ]


def test_two_cases_in_a_homeroom_give_one_order_per_classmate(registry: Registry) -> None:
    cases = pl.concat(
        [
            _case("S1", D(2020, 12, 9), D(2020, 12, 10), "C1"),
            _case("S2", D(2020, 12, 14), D(2020, 12, 15), "C2"),
        ]
    )
    result = trace(cases, _rosters(D(2020, 9, 1)), registry)
    s3 = result.orders.filter((pl.col("person_id") == "S3") & (pl.col("kind") == "quarantine"))
    assert s3.rows() == [
        ("T-C1-quarantine-S3", "S3", "quarantine", D(2020, 12, 10), D(2020, 12, 25), "C2", "3A")
    ]
    issued = result.issued.filter(pl.col("person_id") == "S3")
    assert issued["order_id"].to_list() == ["T-C1-quarantine-S3", "T-C2-quarantine-S3"]
    assert set(issued["merged_into"]) == {"T-C1-quarantine-S3"}
    # S2 is a contact of C1 and later a case: both its orders are kept, one per kind
    assert set(result.orders.filter(pl.col("person_id") == "S2")["kind"]) == {
        "quarantine",
        "isolation",
    }


def test_a_case_on_no_roster_is_an_exception_naming_case_and_person(registry: Registry) -> None:
    cases = pl.concat(
        [
            _case("S1", D(2020, 12, 9), D(2020, 12, 10), "C1"),
            _case("NOBODY", D(2020, 12, 9), D(2020, 12, 10), "C9"),
        ]
    )
    result = trace(cases, _rosters(D(2020, 9, 1)), registry)
    assert result.exceptions.select("case_id", "person_id").rows() == [("C9", "NOBODY")]
    reason = result.exceptions["reason"][0]
    assert "case C9" in reason
    assert "person NOBODY" in reason
    assert "no roster" in reason
    assert "C9" not in set(result.orders["case_id"]) | set(result.issued["case_id"])
    assert ("S2", "quarantine") in _orders(result.orders)  # the other case is traced


def test_durations_are_policy_parameters_not_constants(tmp_path: Path) -> None:
    """Change the ISBE quarantine and the CDC isolation in a copy of the policies: the
    orders follow (no duration is a constant in the code)."""
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    isbe = copy / "isbe-idph-isolation-2022-01-11" / "policy.yaml"
    text = isbe.read_text(encoding="utf-8")
    assert "        value: 5\n        clause: Quarantine of close contacts" in text
    isbe.write_text(
        text.replace(
            "        value: 5\n        clause: Quarantine of close contacts",
            "        value: 7\n        clause: Quarantine of close contacts",
        ),
        encoding="utf-8",
    )
    cdc = copy / "cdc-quarantine-2020-12-02" / "policy.yaml"
    cdc.write_text(
        cdc.read_text(encoding="utf-8").replace(
            "{from: 2020-12-02, value: 10, clause: Isolation of cases",
            "{from: 2020-12-02, value: 12, clause: Isolation of cases",
        ),
        encoding="utf-8",
    )
    changed = Registry(copy)
    jan = _orders(
        trace(_case("S1", D(2022, 1, 12), D(2022, 1, 13)), _rosters(D(2021, 9, 1)), changed).orders
    )
    assert jan[("S2", "quarantine")] == (D(2022, 1, 13), D(2022, 1, 20))  # day 0 + 7
    dec = _orders(
        trace(_case("S1", D(2020, 12, 9), D(2020, 12, 10)), _rosters(D(2020, 9, 1)), changed).orders
    )
    assert dec[("S1", "isolation")] == (D(2020, 12, 10), D(2020, 12, 21))  # onset + 12


def test_the_district_rule_replaces_the_guidance_from_its_first_value(registry: Registry) -> None:
    cases = _case("S1", D(2022, 1, 12), D(2022, 1, 13))
    cps = _orders(trace(cases, _rosters(D(2021, 9, 1)), registry, local=CPS_QUARANTINE).orders)
    assert cps[("S2", "quarantine")] == (D(2022, 1, 13), D(2022, 1, 23))  # CPS: 10 days
    feb = _case("S1", D(2022, 2, 2), D(2022, 2, 3))
    cps = _orders(trace(feb, _rosters(D(2021, 9, 1)), registry, local=CPS_QUARANTINE).orders)
    assert cps[("S2", "quarantine")] == (D(2022, 2, 3), D(2022, 2, 8))  # CPS: 5 from 02-01


def test_pathogen_window_days_before_onset() -> None:
    assert days_before_onset(load_pathogen("covid-ancestral")) >= 2
    wider = days_before_onset(load_pathogen("covid-ancestral"), quantile=0.99)
    assert wider >= days_before_onset(load_pathogen("covid-ancestral"), quantile=0.5)


# ----------------------------------------- the shared worked cases, through the operations


def _shared(case_id: str) -> dict[str, Any]:
    cases = YAML(typ="safe").load((FIXTURES / "shared_cases.yaml").read_text(encoding="utf-8"))
    found: dict[str, Any] = next(c for c in cases["cases"] if c["id"] == case_id)
    return found


def test_shared_cdc_quarantine_options_through_tracing(registry: Registry) -> None:
    """cdc-quarantine-dec-2020-options: day 0 2020-12-07; the test-out return is 2020-12-15,
    otherwise after day 10: may return 2020-12-18 (the order ends 2020-12-17)."""
    case = _shared("cdc-quarantine-dec-2020-options")
    test_out, no_test, _ = case["expected"]
    # a classmate's last exposure is the case's report day, 2020-12-07
    result = trace(_case("S1", D(2020, 12, 6), D(2020, 12, 7)), _rosters(D(2020, 9, 1)), registry)
    s2 = result.contacts.filter(pl.col("person_id") == "S2").row(0, named=True)
    assert s2["last_exposure"] == D(2020, 12, 7)
    assert s2["test_out_may_return"] == test_out["may_return"]
    assert s2["quarantine_end"] + dt.timedelta(days=1) == no_test["may_return"]
    assert (s2["quarantine_end"] - s2["last_exposure"]).days == no_test["quarantine_ends_after_day"]
    # symptom monitoring through day 14
    assert s2["monitor_symptoms_through"] == D(2020, 12, 21)


def test_shared_isbe_isolation_through_tracing(registry: Registry) -> None:
    """isbe-isolation-jan-2022: positive test 2022-01-12, no symptoms: may return 2022-01-18."""
    case = _shared("isbe-isolation-jan-2022")
    tested = case["input"]["positive_test_date"]
    cases = _case("S1", None, tested).with_columns(pl.lit(tested).alias("specimen_date"))
    orders = _orders(trace(cases, _rosters(D(2021, 9, 1)), registry).orders)
    start, end = orders[("S1", "isolation")]
    assert start == tested
    assert end + dt.timedelta(days=1) == case["expected"]["may_return"]


def test_shared_test_to_stay_through_tracing(registry: Registry) -> None:
    """idph-test-to-stay: both masked under universal masking -> the classmate stays, tested
    on days 1, 3, 5, 7; the index case unmasked -> quarantine, not eligible."""
    case = _shared("idph-test-to-stay")
    masked, unmasked = case["input"]
    day0 = masked["exposure_day0"]
    cases = _case("S1", day0 - dt.timedelta(days=1), day0)
    both = {"S1": masked["index_masked"], "S2": masked["contact_masked"]}
    result = trace(cases, _rosters(D(2021, 8, 30), masked=both), registry, universal_masking=True)
    s2 = result.contacts.filter(pl.col("person_id") == "S2").row(0, named=True)
    assert s2["attendance"] == "test_to_stay"  # stays_in_school pending its tests
    tests = result.follow_up.filter(
        (pl.col("person_id") == "S2") & (pl.col("action") == "test_due")
    )["date"].to_list()
    assert tests == [day0 + dt.timedelta(days=d) for d in (1, 3, 5, 7)]
    index_bare = {"S1": unmasked["index_masked"], "S2": unmasked["contact_masked"]}
    other = trace(
        cases, _rosters(D(2021, 8, 30), masked=index_bare), registry, universal_masking=True
    )
    s2 = other.contacts.filter(pl.col("person_id") == "S2").row(0, named=True)
    assert s2["attendance"] == case["expected"][1]["attendance"] == "quarantine"
    assert ("S2", "quarantine") in _orders(other.orders)


def _group(prefix: str, size: int, start: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    people = [f"{prefix}{i:02d}" for i in range(size)]
    enrolment = pl.DataFrame(
        {
            "person_id": people,
            "classroom_id": [prefix] * size,
            "start_date": [start] * size,
            "end_date": [None] * size,
        },
        schema_overrides={"end_date": pl.Date},
    )
    return pl.DataFrame({"person_id": people, "household_id": [None] * size}), enrolment


def _groups_rosters(groups: list[tuple[str, int]], start: dt.date) -> Rosters:
    built = [_group(p, n, start) for p, n in groups]
    staff = pl.DataFrame(
        schema={
            "person_id": pl.String,
            "school_id": pl.String,
            "classroom_id": pl.String,
            "role": pl.String,
            "start_date": pl.Date,
            "end_date": pl.Date,
        }
    )
    person = pl.concat([b[0] for b in built], how="vertical_relaxed")
    return Rosters(person, pl.concat([b[1] for b in built]), staff)


def test_shared_outbreak_three_within_14_through_outbreaks(registry: Registry) -> None:
    """idph-outbreak-three-within-14: onsets 11-01, 11-06, 11-14 in a group of 25 is an
    outbreak; 11-01, 11-06, 11-16 is not (prong 2 needs the three within 14 days)."""
    case = _shared("idph-outbreak-three-within-14")
    rosters = _groups_rosters([("A", 25), ("B", 25)], D(2021, 9, 1))
    rows = []
    for prefix, group in zip(("A", "B"), case["input"], strict=True):
        assert group["core_group"]["size"] == 25
        for i, c in enumerate(group["cases"]):
            rows.append(_case(f"{prefix}{i:02d}", c["onset"], c["onset"], f"{prefix}{i}"))
    out = outbreaks(pl.concat(rows), rosters, registry)
    met = out.group_by("classroom_id").agg(pl.col("meets_definition").any())
    got = dict(met.iter_rows())
    assert case["expected"] == ["outbreak", "not_outbreak_prong2"]
    assert got == {"A": True, "B": False}
    last_b = out.filter(pl.col("classroom_id") == "B").sort("date").row(-1, named=True)
    assert last_b["cases_in_window"] == 2  # 11-01 is 15 days before 11-16


def test_shared_outbreak_before_after_cste_through_outbreaks(registry: Registry) -> None:
    """idph-outbreak-before-after-2021-10-15: two cases in groups of 18 and 25 are two
    outbreaks before 2021-10-15, and one (2/18 = 11% >= 10%) after."""
    case = _shared("idph-outbreak-before-after-2021-10-15")
    sizes = [g["core_group_size"] for g in case["input"]]
    rosters = _groups_rosters([("A", sizes[0]), ("B", sizes[1])], D(2021, 8, 1))
    expected = {
        D(2021, 9, 1): case["expected"]["before_2021-10-15"],
        D(2021, 11, 1): case["expected"]["idph-outbreak-2021-10-15"],
    }
    for day, want in expected.items():
        rows = [
            _case(
                f"{p}{i:02d}",
                day + dt.timedelta(days=3 * i),
                day + dt.timedelta(days=3 * i),
                f"{p}{i}",
            )
            for p in ("A", "B")
            for i in range(2)
        ]
        out = outbreaks(pl.concat(rows), rosters, registry)
        met = dict(out.group_by("classroom_id").agg(pl.col("meets_definition").any()).iter_rows())
        assert [("outbreak" if met[g] else "not_outbreak") for g in ("A", "B")] == want, day
