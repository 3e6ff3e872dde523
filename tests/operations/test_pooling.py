"""Dorfman pooling: known positives, invalid pools, bad input."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from schoolmode.operations.pooling import (
    PoolingError,
    assign_pools,
    deconvolve,
    positivity,
)

D = dt.date
PEOPLE = [f"S{i:02d}" for i in range(1, 21)]  # 20 persons, 5 pools of 4


def _assign() -> pl.DataFrame:
    return assign_pools(pl.DataFrame({"person_id": PEOPLE, "consented": [True] * 20}), 4, 7)


def _pool_results(assignments: pl.DataFrame, truth: set[str]) -> pl.DataFrame:
    """What the lab would report: a pool is positive when any member is."""
    return (
        assignments.group_by("pool_id")
        .agg(pl.col("person_id").is_in(list(truth)).any().alias("pos"))
        .select(
            "pool_id",
            pl.when("pos").then(pl.lit("positive")).otherwise(pl.lit("negative")).alias("result"),
            pl.lit(D(2021, 3, 1)).alias("specimen_date"),
        )
        .sort("pool_id")
    )


def test_assignment_is_reproducible_and_consent_only() -> None:
    persons = pl.DataFrame({"person_id": [*PEOPLE, "X"], "consented": [True] * 20 + [False]})
    a = assign_pools(persons, 4, 7)
    assert a.equals(assign_pools(persons.reverse(), 4, 7))
    assert "X" not in a["person_id"].to_list()
    assert a.group_by("pool_id").len()["len"].to_list() == [4] * 5
    assert not a.equals(assign_pools(persons, 4, 8))


def test_two_positives_in_different_pools() -> None:
    a = _assign()
    pool_of = dict(a.iter_rows())
    # pick two positives in different pools
    truth = {PEOPLE[0]}
    truth.add(next(p for p in PEOPLE if pool_of[p] != pool_of[PEOPLE[0]]))
    pools = _pool_results(a, truth)
    first = deconvolve(a, pools)
    retest_pools = set(first.retest_queue["pool_id"])
    assert retest_pools == {pool_of[p] for p in truth}
    assert first.retest_queue.height == 8
    assert set(first.retest_queue["reason"]) == {"pool_positive"}
    assert first.counts["negative"] == 12
    retests = pl.DataFrame(
        {
            "person_id": first.retest_queue["person_id"],
            "result": [
                "positive" if p in truth else "negative" for p in first.retest_queue["person_id"]
            ],
            "specimen_date": [D(2021, 3, 2)] * 8,
        }
    )
    final = deconvolve(a, pools, retests, today=D(2021, 3, 3))
    got = dict(final.persons.select("person_id", "status").iter_rows())
    assert got == {p: "positive" if p in truth else "negative" for p in PEOPLE}
    assert final.retest_queue.height == 0
    by_person = positivity(pools, retests, final, "by_person")
    assert by_person["positivity"] == 2 / 20
    by_test = positivity(pools, retests, final, "by_test")
    assert (by_test["positive"], by_test["denominator"]) == (4, 13)


def test_invalid_pool_goes_to_retest_queue_not_negative() -> None:
    a = _assign()
    pools = _pool_results(a, set())
    bad = pools["pool_id"][0]
    pools = pools.with_columns(
        pl.when(pl.col("pool_id") == bad)
        .then(pl.lit("invalid"))
        .otherwise("result")
        .alias("result")
    )
    out = deconvolve(a, pools)
    members = set(a.filter(pl.col("pool_id") == bad)["person_id"])
    assert set(out.retest_queue["person_id"]) == members
    assert set(out.retest_queue["reason"]) == {"pool_invalid"}
    assert out.counts["negative"] == 16
    assert out.counts["pools_invalid"] == 1
    rate = positivity(pools, None, out, "by_test")
    assert rate["excluded_invalid"] == 1
    assert rate["denominator"] == 4
    # an inconclusive individual retest is queued again
    retests = pl.DataFrame(
        {
            "person_id": sorted(members),
            "result": ["inconclusive", "negative", "negative", "negative"],
            "specimen_date": [D(2021, 3, 2)] * 4,
        }
    )
    again = deconvolve(a, pools, retests)
    assert again.retest_queue.to_dicts() == [
        {"person_id": sorted(members)[0], "pool_id": bad, "reason": "individual_inconclusive"}
    ]
    assert again.counts["individual_inconclusive"] == 1


def test_future_specimen_and_unknown_pool_are_named() -> None:
    a = _assign()
    pools = _pool_results(a, set())
    future = pools.with_columns(
        pl.when(pl.int_range(pl.len()) == 2)
        .then(pl.lit(D(2030, 1, 1)))
        .otherwise("specimen_date")
        .alias("specimen_date")
    )
    with pytest.raises(
        PoolingError, match=r"pool result row 3: field 'specimen_date'.*after today"
    ):
        deconvolve(a, future, today=D(2021, 3, 3))
    unknown = pl.concat(
        [
            pools,
            pl.DataFrame(
                {"pool_id": ["Z9"], "result": ["negative"], "specimen_date": [D(2021, 3, 1)]}
            ),
        ]
    )
    with pytest.raises(PoolingError, match=r"pool result row 6: field 'pool_id': 'Z9'"):
        deconvolve(a, unknown)
    with pytest.raises(PoolingError, match=r"row 1: field 'result': 'maybe'"):
        deconvolve(a, pools.head(1).with_columns(pl.lit("maybe").alias("result")))
