"""Pooled screening results: deconvolution, bad input, exceptions queue, store round trip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from schoolmode.operations.screening import ScreeningError
from schoolmode.operations.screening_plan import make_plan, plan_week
from schoolmode.operations.screening_results import (
    check_results,
    positivity_of_tests,
    read_results,
)
from schoolmode.operations.screening_store import (
    ingest_results,
    list_exceptions,
    load_plan,
    plan_id_for,
    plan_outcome,
    resolve_exception,
    save_plan,
)
from schoolmode.policy.loader import Registry
from tests.operations.test_screening_plan import MOA, district

D = dt.date.fromisoformat
WEEK = D("2021-02-22")
TODAY = D("2021-02-26")


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    frames = district({"S1": 40}, {"S1": 10})
    return make_plan(frames, Registry().get(MOA).policy, WEEK, 3)


def _csv(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def test_plan_week_deconvolves_with_invalid_and_inconclusive(plan) -> None:  # type: ignore[no-untyped-def]
    frames = district({"S1": 40}, {"S1": 10})
    policy = Registry().get(MOA).policy
    pools = sorted(set(plan.tests["pool_id"]))
    # P1 negative, P2 positive, P3 invalid, P4 inconclusive, the rest not yet tested
    results = pl.DataFrame(
        {
            "pool_id": pools[:4],
            "result": ["negative", "positive", "invalid", "inconclusive"],
            "specimen_date": [WEEK] * 4,
        }
    )
    p2 = plan.tests.filter(pl.col("pool_id") == pools[1])["person_id"].to_list()
    retests = pl.DataFrame(
        {
            "person_id": p2,
            "result": ["positive", "invalid"] + ["negative"] * (len(p2) - 2),
            "specimen_date": [WEEK + dt.timedelta(days=1)] * len(p2),
        }
    )
    week = plan_week(frames, policy, WEEK, 3, pool_results=results, individual_results=retests)
    c = week.outcome.counts
    n = {p: plan.tests.filter(pl.col("pool_id") == p).height for p in pools}
    assert c["negative"] == n[pools[0]] + len(p2) - 2
    assert c["positive"] == 1
    # invalid retest, invalid pool, inconclusive pool: queued, never negative, never dropped
    assert c["retest_queued"] == 1 + n[pools[2]] + n[pools[3]]
    assert c["pending"] == plan.tests.height - sum(n[p] for p in pools[:4])
    reasons = week.outcome.retest_queue.group_by("reason").len().sort("reason")
    assert dict(reasons.iter_rows()) == {
        "individual_invalid": 1,
        "pool_inconclusive": n[pools[3]],
        "pool_invalid": n[pools[2]],
    }
    by_test = week.positivity["by_test"]
    assert (by_test["positive"], by_test["denominator"]) == (2, 2 + len(p2) - 1)
    assert (by_test["excluded_invalid"], by_test["excluded_inconclusive"]) == (2, 1)
    by_person = week.positivity["by_person"]
    assert (by_person["positive"], by_person["denominator"]) == (1, c["negative"] + 1)


def test_plan_week_simulates_a_perfect_test() -> None:
    frames = district({"S1": 200, "S3": 200}, {"S1": 20, "S3": 20})
    policy = Registry().get(MOA).policy
    planned = make_plan(frames, policy, WEEK, 9)
    infected = planned.tests["person_id"].head(3)
    week = plan_week(frames, policy, WEEK, 9, infected=infected)
    assert set(week.outcome.persons.filter(pl.col("status") == "positive")["person_id"]) == set(
        infected
    )
    assert week.outcome.counts["pending"] == 0
    assert week.outcome.counts["retest_queued"] == 0
    noisy = plan_week(frames, policy, WEEK, 9, infected=infected, invalid_share=0.2)
    assert noisy.outcome.counts["pools_invalid"] > 0
    assert noisy.positivity["by_test"]["excluded_invalid"] > 0
    again = plan_week(frames, policy, WEEK, 9, infected=infected, invalid_share=0.2)
    assert again.pool_results.equals(noisy.pool_results)


def _rows(plan, tmp_path: Path, body: str) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return read_results(_csv(tmp_path / "r.csv", body))


def test_each_bad_input_kind_goes_to_the_exceptions_queue(plan, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pool = plan.tests["pool_id"][0]
    member = plan.tests["person_id"][0]
    members = plan.tests.select("person_id", "pool_id")
    body = (
        "specimen_id,pool_id,person_id,result,specimen_date\n"
        f"A1,{pool},,negative,2021-02-22\n"  # 1 fine
        f"A2,NOPE,,negative,2021-02-22\n"  # 2 unknown pool
        f"A3,,{member},positive,2021-03-30\n"  # 3 future specimen
        f"A1,{pool},,negative,2021-02-22\n"  # 4 identical repeat: idempotent
        f"A1,{pool},,positive,2021-02-22\n"  # 5 conflicting repeat
        f"A4,,S9-nobody,positive,2021-02-23\n"  # 6 person not in the plan
    )
    stored = read_results(
        _csv(tmp_path / "empty.csv", "specimen_id,pool_id,result,specimen_date\n")
    )
    checked = check_results(_rows(plan, tmp_path, body), members, stored, TODAY)
    assert checked.accepted["file_row"].to_list() == [1]
    assert checked.unchanged["file_row"].to_list() == [4]
    x = checked.exceptions
    assert x.select("file_row", "kind", "field", "value").rows() == [
        (2, "unknown_pool", "pool_id", "NOPE"),
        (3, "future_specimen_date", "specimen_date", "2021-03-30"),
        (5, "conflicting_duplicate", "specimen_id", "A1"),
        (6, "person_not_in_plan", "person_id", "S9-nobody"),
    ]
    assert "this row says positive" in x["detail"][2]
    assert '"pool_id":"NOPE"' in x["row_json"][0]
    assert checked.counts()["rows"] == 6  # nothing lost
    # against stored results: the same row again is unchanged, another result conflicts
    again = check_results(
        _rows(
            plan,
            tmp_path,
            f"specimen_id,pool_id,result,specimen_date\nA1,{pool},negative,2021-02-22\nA1,{pool},invalid,2021-02-22\n",
        ),
        members,
        checked.accepted,
        TODAY,
    )
    assert again.accepted.height == 0
    assert again.unchanged.height == 1
    assert again.exceptions["kind"].to_list() == ["conflicting_duplicate"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("pool_id,result,specimen_date\nP,negative,2021-02-22\n", "missing column(s) specimen_id"),
        (
            "specimen_id,result,specimen_date\nA,negative,2021-02-22\n",
            "needs a pool_id or a person_id",
        ),
        (
            "specimen_id,pool_id,result,specimen_date\nA,P,maybe,2021-02-22\n",
            "row 1: field 'result': 'maybe': expected one of positive",
        ),
        (
            "specimen_id,pool_id,result,specimen_date\nA,P,negative,2021-02-22\nB,P,negative,22/02/2021\n",
            "row 2: field 'specimen_date': '22/02/2021': expected a date written YYYY-MM-DD",
        ),
        (
            "specimen_id,pool_id,person_id,result,specimen_date\nA,,,negative,2021-02-22\n",
            "row 1: field 'pool_id': None: expected a pool id",
        ),
        (
            "specimen_id,pool_id,result,specimen_date\n,P,negative,2021-02-22\n",
            "row 1: field 'specimen_id': None: expected a specimen id",
        ),
        ("specimen_id,pool_id,result,specimen_date,colour\n", "unknown column(s) colour"),
    ],
)
def test_malformed_rows_are_errors_naming_file_row_field_value(
    tmp_path: Path, body: str, message: str
) -> None:
    path = _csv(tmp_path / "bad.csv", body)
    with pytest.raises(ScreeningError) as err:
        read_results(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_positivity_screening_and_diagnostic_apart() -> None:
    tests = pl.DataFrame(
        {
            "person_id": ["a", "a", "b", "c", None, "d", "e", "e"],
            "pool_id": [None, None, None, None, "P1", None, None, None],
            "result": [
                "negative",
                "positive",
                "invalid",
                "negative",
                "negative",
                "positive",
                "inconclusive",
                "negative",
            ],
            "screening": [True, True, True, True, True, False, False, False],
        }
    )
    got = {(r["kind"], r["rule"]): r for r in positivity_of_tests(tests).iter_rows(named=True)}
    s = got[("screening", "by_test")]
    assert (s["positive"], s["denominator"], s["excluded_invalid"]) == (1, 4, 1)
    s = got[("screening", "by_person")]
    assert (s["positive"], s["denominator"]) == (1, 2)  # a positive, c negative; b invalid only
    d = got[("diagnostic", "by_test")]
    assert (d["positive"], d["denominator"], d["excluded_inconclusive"]) == (1, 2, 1)


def test_store_round_trip(store: Engine, plan, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan_id = save_plan(store, plan, "tester")
    assert plan_id_for(store, None) == plan_id
    assert plan_id_for(store, None, WEEK) == plan_id
    with pytest.raises(ScreeningError, match="no screening plan 99"):
        plan_id_for(store, 99)
    loaded = load_plan(store, plan_id)
    assert (loaded.policy_id, loaded.week, loaded.seed) == (MOA, WEEK, 3)
    assert loaded.members.select("person_id", "pool_id").equals(
        plan.tests.select("person_id", "pool_id").sort("pool_id", "person_id")
    )
    assert loaded.schools.equals(plan.schools)
    assert loaded.settings == plan.settings
    pools = sorted(set(plan.tests["pool_id"]))
    first = plan.tests.filter(pl.col("pool_id") == pools[1])["person_id"][0]
    body = (
        "specimen_id,pool_id,person_id,result,specimen_date,result_date\n"
        f"X1,{pools[0]},,negative,2021-02-22,2021-02-23\n"
        f"X2,{pools[1]},,positive,2021-02-22,\n"
        f"X3,,{first},positive,2021-02-24,\n"
        "X4,NOPE,,negative,2021-02-22,\n"
    )
    path = _csv(tmp_path / "results.csv", body)
    one = ingest_results(store, plan_id, path, TODAY, "tester")
    assert one.counts()["stored"] == 3
    assert one.counts()["unknown_pool"] == 1
    two = ingest_results(store, plan_id, path, TODAY, "tester")  # idempotent
    assert (two.counts()["stored"], two.counts()["unchanged"]) == (0, 3)
    assert two.counts()["unknown_pool"] == 1  # queued again: a person must see it
    done = plan_outcome(store, plan_id)
    assert done.results.height == 3
    assert done.outcome.counts["positive"] == 1
    assert done.open_exceptions == 2
    # a malformed file stores nothing
    bad = _csv(tmp_path / "bad.csv", body.replace("X4,NOPE,,negative", "X5,NOPE,,maybe"))
    with pytest.raises(ScreeningError, match="row 4: field 'result'"):
        ingest_results(store, plan_id, bad, TODAY)
    assert plan_outcome(store, plan_id).results.height == 3
    # the exceptions queue
    queue = list_exceptions(store)
    assert queue["kind"].to_list() == ["unknown_pool", "unknown_pool"]
    resolve_exception(store, int(queue["id"][0]), "lab typo: pool re-sent as X9", "nurse")
    assert list_exceptions(store).height == 1
    everything = list_exceptions(store, None)
    assert everything["status"].to_list() == ["resolved", "open"]
    assert everything["resolved_by"][0] == "nurse"
    with pytest.raises(ScreeningError, match="already resolved"):
        resolve_exception(store, int(queue["id"][0]), "again")
    with pytest.raises(ScreeningError, match="needs a note"):
        resolve_exception(store, int(queue["id"][1]), " ")
    # stored results and exceptions are never changed or deleted
    with pytest.raises(DBAPIError, match="append-only"), store.begin() as conn:
        conn.execute(text("UPDATE screening_result SET result = 'negative'"))
    with pytest.raises(DBAPIError, match="never deleted"), store.begin() as conn:
        conn.execute(text("DELETE FROM screening_exception"))
    with pytest.raises(DBAPIError, match="append-only"), store.begin() as conn:
        conn.execute(text("DELETE FROM screening_pool_member"))
