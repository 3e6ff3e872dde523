"""Dorfman pooled testing: pool assignment, deconvolution, retest queue, positivity (vectorised).

1. :func:`assign_pools` puts consented persons, in a seeded random order, into pools of ``k``
   (the last pool may be smaller). Pool ids are ``{prefix}{n:04d}``.
2. :func:`deconvolve` reads pool results (``pool_id``, ``result``, ``specimen_date``) and
   individual retest results (``person_id``, ``result``, ``specimen_date``):

   - a **negative** pool makes its members negative;
   - a **positive** pool queues an individual retest of every member (``pool_positive``);
     an individual result then decides the person;
   - an **invalid** or **inconclusive** pool queues a retest of every member
     (``pool_invalid`` / ``pool_inconclusive``): never counted as negative;
   - an invalid or inconclusive individual result queues that person again
     (``individual_invalid`` / ``individual_inconclusive``).

   A person with no result yet stays ``pending``; the retest queue lists exactly the persons
   whose latest result does not decide them.
3. :func:`positivity` by test (positive tests over valid tests, pools and retests alike) or by
   person (positive persons over persons with a final result); invalid and inconclusive
   results are excluded from both and reported.

Bad input raises :class:`PoolingError` naming the row (1-based, in the frame given) and
field: a result for an unknown pool or person, a specimen dated after ``today``, a result
that is not one of positive/negative/invalid/inconclusive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from schoolmode.policy.errors import SchoolmodeError
from schoolmode.standard.models import TestResult

RESULTS = tuple(r.value for r in TestResult)
UNDECIDED = ("invalid", "inconclusive")


class PoolingError(SchoolmodeError):
    """A pool or retest result that cannot be used; the message names the row and field."""


@dataclass(frozen=True)
class Deconvolution:
    persons: pl.DataFrame
    """``person_id``, ``pool_id``, ``pool_result``, ``individual_result``, ``status``
    (negative / positive / retest_queued / pending)."""
    retest_queue: pl.DataFrame
    """``person_id``, ``pool_id``, ``reason``."""
    counts: dict[str, int]


def assign_pools(persons: pl.DataFrame, k: int, seed: int, prefix: str = "P") -> pl.DataFrame:
    """``person_id``, ``pool_id`` for the persons with ``consented`` true (all when the column
    is absent), in a random order drawn from ``seed`` over the persons sorted by id."""
    if k < 1:
        raise PoolingError(f"pool size must be at least 1, not {k}")
    chosen = persons
    if "consented" in persons.columns:
        chosen = persons.filter(pl.col("consented").fill_null(False))
    ids = chosen.select("person_id").unique().sort("person_id")
    order = np.random.default_rng(seed).permutation(ids.height)
    return (
        ids.with_columns(pl.Series("draw", order, dtype=pl.Int64))
        .sort("draw")
        .with_columns(
            pl.format(
                "{}{}",
                pl.lit(prefix),
                (pl.int_range(pl.len()) // k + 1).cast(pl.String).str.zfill(4),
            ).alias("pool_id")
        )
        .select("person_id", "pool_id")
    )


def _check(
    frame: pl.DataFrame, key: str, known: pl.Series, what: str, today: dt.date | None
) -> pl.DataFrame:
    rows = frame.with_row_index("row", offset=1)
    unknown = rows.filter(~pl.col(key).is_in(known.implode()) | pl.col(key).is_null())
    if unknown.height:
        r = unknown.row(0, named=True)
        raise PoolingError(
            f"{what} row {r['row']}: field {key!r}: {r[key]!r} is not a known {key.removesuffix('_id')} "
            f"({unknown.height} such row(s))"
        )
    bad = rows.filter(~pl.col("result").is_in(RESULTS) | pl.col("result").is_null())
    if bad.height:
        r = bad.row(0, named=True)
        raise PoolingError(
            f"{what} row {r['row']}: field 'result': {r['result']!r} is not one of {', '.join(RESULTS)}"
        )
    if today is not None and "specimen_date" in frame.columns:
        future = rows.filter(pl.col("specimen_date") > today)
        if future.height:
            r = future.row(0, named=True)
            raise PoolingError(
                f"{what} row {r['row']}: field 'specimen_date': {r['specimen_date']} is after "
                f"today ({today})"
            )
    return frame


def _latest(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """The last result per key (by specimen date, then row order)."""
    rows = frame.with_row_index("row")
    order = ["specimen_date", "row"] if "specimen_date" in frame.columns else ["row"]
    return rows.sort(order).group_by(key, maintain_order=True).agg(pl.col("result").last())


def deconvolve(
    assignments: pl.DataFrame,
    pool_results: pl.DataFrame,
    individual_results: pl.DataFrame | None = None,
    today: dt.date | None = None,
) -> Deconvolution:
    """Deconvolve pool results and individual retests (see the module doc)."""
    _check(pool_results, "pool_id", assignments["pool_id"], "pool result", today)
    individual = (
        individual_results
        if individual_results is not None
        else pl.DataFrame(
            schema={"person_id": pl.String, "result": pl.String, "specimen_date": pl.Date}
        )
    )
    _check(individual, "person_id", assignments["person_id"], "individual result", today)
    pools = _latest(pool_results, "pool_id").rename({"result": "pool_result"})
    singles = _latest(individual, "person_id").rename({"result": "individual_result"})
    persons = (
        assignments.join(pools, on="pool_id", how="left")
        .join(singles, on="person_id", how="left")
        .with_columns(
            pl.when(pl.col("individual_result").is_in(["positive", "negative"]))
            .then(pl.col("individual_result"))
            .when(pl.col("individual_result").is_in(UNDECIDED))
            .then(pl.lit("retest_queued"))
            .when(pl.col("pool_result") == "negative")
            .then(pl.lit("negative"))
            .when(pl.col("pool_result").is_null())
            .then(pl.lit("pending"))
            .otherwise(pl.lit("retest_queued"))
            .alias("status"),
            pl.when(pl.col("individual_result").is_in(UNDECIDED))
            .then(pl.format("individual_{}", "individual_result"))
            .when(
                pl.col("individual_result").is_null()
                & pl.col("pool_result").is_in(["positive", *UNDECIDED])
            )
            .then(pl.format("pool_{}", "pool_result"))
            .alias("reason"),
        )
        .sort("pool_id", "person_id")
    )
    queue = persons.filter(pl.col("status") == "retest_queued").select(
        "person_id", "pool_id", "reason"
    )
    counts = {
        "persons": persons.height,
        "pools": assignments["pool_id"].n_unique(),
        "pools_tested": pools.height,
        **{f"pools_{r}": pools.filter(pl.col("pool_result") == r).height for r in RESULTS},
        **{
            f"individual_{r}": singles.filter(pl.col("individual_result") == r).height
            for r in RESULTS
        },
        **{
            s: persons.filter(pl.col("status") == s).height
            for s in ("negative", "positive", "retest_queued", "pending")
        },
    }
    return Deconvolution(persons.drop("reason"), queue, counts)


def positivity(
    pool_results: pl.DataFrame,
    individual_results: pl.DataFrame | None,
    outcome: Deconvolution,
    rule: Literal["by_test", "by_person"],
) -> dict[str, str | float | int | None]:
    """Positivity by the policy's rule; invalid and inconclusive results are excluded from
    numerator and denominator and reported as ``excluded_invalid`` / ``excluded_inconclusive``.

    ``by_test``: positive tests over positive and negative tests (pool tests and individual
    tests). ``by_person``: persons found positive over persons with a final result."""
    frames = [pool_results.select("result")]
    if individual_results is not None:
        frames.append(individual_results.select("result"))
    tests = pl.concat(frames)["result"]
    excluded = {
        "excluded_invalid": int((tests == "invalid").sum()),
        "excluded_inconclusive": int((tests == "inconclusive").sum()),
    }
    if rule == "by_test":
        pos = int((tests == "positive").sum())
        denom = pos + int((tests == "negative").sum())
    elif rule == "by_person":
        status = outcome.persons["status"]
        pos = int((status == "positive").sum())
        denom = pos + int((status == "negative").sum())
    else:
        raise PoolingError(f"positivity rule must be by_test or by_person, not {rule!r}")
    return {
        "rule": rule,
        "positive": pos,
        "denominator": denom,
        "positivity": pos / denom if denom else None,
        **excluded,
    }
