"""Screening results for a stored plan: reading, checking and positivity (pure functions).

A results file has one row per specimen: ``specimen_id``, ``result``, ``specimen_date``, and
``pool_id`` (a pool result) or ``person_id`` (an individual retest); ``result_date`` is
optional. Two kinds of bad input:

- **malformed** rows (a missing column, a blank specimen id, a result that is not one of
  positive/negative/invalid/inconclusive, a date that is not YYYY-MM-DD, a row with neither a
  pool nor a person) raise :class:`ScreeningError` naming the file, row, field, value and what
  was expected; nothing is stored;
- **well-formed rows that need a person** go to the exceptions queue, whole, and are counted:
  ``unknown_pool`` (no such pool in the plan), ``person_not_in_plan`` (a retest of a person
  the plan does not test), ``future_specimen_date`` (after ``today``),
  ``conflicting_duplicate`` (a specimen already stored, or earlier in the file, with another
  result, date, pool or person). The first stored result stands until a person resolves it.

A specimen stored again with identical values is idempotent: counted ``unchanged``, not stored
twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schoolmode.operations.pooling import RESULTS
from schoolmode.operations.screening import ScreeningError

IDENTITY = ("pool_id", "person_id", "result", "specimen_date")
"""Fields that must agree for a repeated specimen to be the same result."""
RESULT_SCHEMA = {
    "specimen_id": pl.String,
    "pool_id": pl.String,
    "person_id": pl.String,
    "result": pl.String,
    "specimen_date": pl.Date,
    "result_date": pl.Date,
    "file_row": pl.Int64,
}
EXCEPTION_KINDS = (
    "unknown_pool",
    "person_not_in_plan",
    "future_specimen_date",
    "conflicting_duplicate",
)


@dataclass(frozen=True)
class ResultsCheck:
    accepted: pl.DataFrame
    """New results to store (:data:`RESULT_SCHEMA`)."""
    unchanged: pl.DataFrame
    """Rows identical to a stored (or earlier) result of the same specimen: not stored again."""
    exceptions: pl.DataFrame
    """``file_row``, ``kind``, ``field``, ``value``, ``detail``, ``row_json``."""

    def counts(self) -> dict[str, int]:
        kinds = {k: int((self.exceptions["kind"] == k).sum()) for k in EXCEPTION_KINDS}
        return {
            "rows": self.accepted.height + self.unchanged.height + self.exceptions.height,
            "stored": self.accepted.height,
            "unchanged": self.unchanged.height,
            "exceptions": self.exceptions.height,
            **kinds,
        }


def _fail(path: str, frame: pl.DataFrame, mask: pl.Expr, field: str, expected: str) -> None:
    bad = frame.filter(mask)
    if bad.height:
        row = bad.row(0, named=True)
        more = f" ({bad.height} such rows)" if bad.height > 1 else ""
        raise ScreeningError(
            f"{path}: row {row['file_row']}: field {field!r}: {row[field]!r}: expected "
            f"{expected}{more}; nothing was stored"
        )


def read_results(path: Path) -> pl.DataFrame:
    """Read and check the form of a results CSV (see the module doc); ``file_row`` is the
    1-based data row (the header is not counted)."""
    name = str(path)
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ScreeningError(f"{name}: cannot read CSV: {exc}") from None
    missing = [c for c in ("specimen_id", "result", "specimen_date") if c not in raw.columns]
    if missing:
        raise ScreeningError(f"{name}: missing column(s) {', '.join(missing)}")
    if "pool_id" not in raw.columns and "person_id" not in raw.columns:
        raise ScreeningError(f"{name}: needs a pool_id or a person_id column (or both)")
    unknown = [c for c in raw.columns if c not in RESULT_SCHEMA]
    if unknown:
        raise ScreeningError(
            f"{name}: unknown column(s) {', '.join(unknown)}; expected "
            f"{', '.join(c for c in RESULT_SCHEMA if c != 'file_row')}"
        )
    text = raw.with_row_index("file_row", offset=1).with_columns(
        pl.col("file_row").cast(pl.Int64),
        *[
            pl.lit(None, dtype=pl.String).alias(c)
            for c in ("pool_id", "person_id", "result_date")
            if c not in raw.columns
        ],
    )
    text = text.with_columns(
        [pl.col(c).str.strip_chars().replace("", None) for c in RESULT_SCHEMA if c != "file_row"]
    ).with_columns(pl.col("result").str.to_lowercase())
    _fail(name, text, pl.col("specimen_id").is_null(), "specimen_id", "a specimen id")
    _fail(
        name,
        text,
        pl.col("pool_id").is_null() & pl.col("person_id").is_null(),
        "pool_id",
        "a pool id (pool result) or a person id (individual result)",
    )
    _fail(
        name,
        text,
        ~pl.col("result").is_in(RESULTS).fill_null(False),
        "result",
        f"one of {', '.join(RESULTS)}",
    )
    parsed = text.with_columns(
        pl.col("specimen_date").str.to_date("%Y-%m-%d", strict=False).alias("_sd"),
        pl.col("result_date").str.to_date("%Y-%m-%d", strict=False).alias("_rd"),
    )
    _fail(name, parsed, pl.col("_sd").is_null(), "specimen_date", "a date written YYYY-MM-DD")
    _fail(
        name,
        parsed,
        pl.col("_rd").is_null() & pl.col("result_date").is_not_null(),
        "result_date",
        "a date written YYYY-MM-DD or blank",
    )
    return parsed.select(
        "specimen_id",
        "pool_id",
        "person_id",
        "result",
        pl.col("_sd").alias("specimen_date"),
        pl.col("_rd").alias("result_date"),
        "file_row",
    )


def read_file_results(path: Path, needed: tuple[str, ...]) -> pl.DataFrame:
    """A pool, retest or assignment CSV read for deconvolving files (nothing stored): every
    field a string but ``specimen_date`` (a date, checked) and ``result`` (trimmed, lower
    case); ``needed`` columns must be there."""
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ScreeningError(f"{path}: cannot read CSV: {exc}") from None
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ScreeningError(f"{path}: missing column(s) {', '.join(missing)}")
    if "specimen_date" in frame.columns:
        parsed = frame.with_columns(pl.col("specimen_date").str.to_date(strict=False))
        bad = frame.with_row_index("row", offset=1).filter(
            parsed["specimen_date"].is_null() & frame["specimen_date"].is_not_null()
        )
        if bad.height:
            r = bad.row(0, named=True)
            raise ScreeningError(
                f"{path}: row {r['row']}: field 'specimen_date': {r['specimen_date']!r} "
                "is not a date written YYYY-MM-DD"
            )
        frame = parsed
    return frame.with_columns(pl.col("result").str.strip_chars().str.to_lowercase())


def _exceptions(rows: pl.DataFrame, kind: str, field: str, detail: pl.Expr) -> pl.DataFrame:
    return rows.select(
        "file_row",
        pl.lit(kind).alias("kind"),
        pl.lit(field).alias("field"),
        pl.col(field).cast(pl.String).alias("value"),
        detail.alias("detail"),
        pl.struct(*[c for c in RESULT_SCHEMA if c != "file_row"])
        .struct.json_encode()
        .alias("row_json"),
    )


def check_results(
    rows: pl.DataFrame, members: pl.DataFrame, stored: pl.DataFrame, today: dt.date
) -> ResultsCheck:
    """Split read rows into new results, unchanged repeats and exceptions (module doc).

    ``members``: the plan's ``person_id``, ``pool_id``; ``stored``: results already stored for
    the plan (:data:`RESULT_SCHEMA` columns)."""
    rows = rows.sort("file_row")
    # repeats inside the file: the first row of a specimen is the candidate
    first = rows.unique("specimen_id", keep="first", maintain_order=True)
    later = rows.join(first.select("file_row"), on="file_row", how="anti")
    known = pl.concat(
        [stored.select("specimen_id", *IDENTITY), first.select("specimen_id", *IDENTITY)]
    ).unique("specimen_id", keep="first", maintain_order=True)

    same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(f"{c}_known")) for c in IDENTITY])

    repeats = pl.concat(
        [
            first.join(stored.select("specimen_id"), on="specimen_id", how="semi"),
            later,
        ]
    ).join(known.rename({c: f"{c}_known" for c in IDENTITY}), on="specimen_id")
    unchanged = repeats.filter(same).select(*RESULT_SCHEMA)
    conflicts = repeats.filter(~same)
    conflict_x = _exceptions(
        conflicts,
        "conflicting_duplicate",
        "specimen_id",
        pl.format(
            "specimen already has result {} ({}, pool {}, person {}); this row says {} ({})",
            pl.col("result_known"),
            pl.col("specimen_date_known").cast(pl.String),
            pl.col("pool_id_known").fill_null("-"),
            pl.col("person_id_known").fill_null("-"),
            pl.col("result"),
            pl.col("specimen_date").cast(pl.String),
        ),
    )
    fresh = first.join(stored.select("specimen_id"), on="specimen_id", how="anti")
    individual = pl.col("person_id").is_not_null()
    stranger = fresh.filter(individual & ~pl.col("person_id").is_in(members["person_id"].implode()))
    no_pool = fresh.filter(~individual & ~pl.col("pool_id").is_in(members["pool_id"].implode()))
    future = (
        fresh.join(stranger.select("file_row"), on="file_row", how="anti")
        .join(no_pool.select("file_row"), on="file_row", how="anti")
        .filter(pl.col("specimen_date") > today)
    )
    exceptions = pl.concat(
        [
            conflict_x,
            _exceptions(
                no_pool, "unknown_pool", "pool_id", pl.lit("no pool with this id in the plan")
            ),
            _exceptions(
                stranger,
                "person_not_in_plan",
                "person_id",
                pl.lit("the plan does not test this person (not selected, or not on the roster)"),
            ),
            _exceptions(
                future,
                "future_specimen_date",
                "specimen_date",
                pl.lit(f"specimen dated after today ({today})"),
            ),
        ]
    ).sort("file_row")
    accepted = fresh.join(exceptions.select("file_row"), on="file_row", how="anti")
    return ResultsCheck(accepted.select(*RESULT_SCHEMA), unchanged, exceptions)


def split_results(results: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stored results as :func:`pooling.deconvolve` reads them: pool results and individual
    results."""
    pools = results.filter(pl.col("person_id").is_null()).select(
        "pool_id", "result", "specimen_date"
    )
    singles = results.filter(pl.col("person_id").is_not_null()).select(
        "person_id", "result", "specimen_date"
    )
    return pools, singles


def positivity_of_tests(tests: pl.DataFrame) -> pl.DataFrame:
    """Positivity of standard ``test`` rows, screening and diagnostic apart, by test and by
    person. Invalid and inconclusive results are left out of numerator and denominator and
    counted in ``excluded_invalid`` / ``excluded_inconclusive``. By test: positive tests over
    positive and negative tests (pool rows included). By person: persons with a positive
    individual test over persons with a positive or negative individual test (pool rows,
    which have no person, are left out)."""
    rows = []
    for screening, kind in ((True, "screening"), (False, "diagnostic")):
        part = tests.filter(pl.col("screening") == screening)
        invalid = int((part["result"] == "invalid").sum())
        inconclusive = int((part["result"] == "inconclusive").sum())
        valid = part.filter(pl.col("result").is_in(["positive", "negative"]))
        by_person = (
            valid.filter(pl.col("person_id").is_not_null())
            .group_by("person_id")
            .agg((pl.col("result") == "positive").any().alias("positive"))
        )
        for rule, pos, denom in (
            ("by_test", int((valid["result"] == "positive").sum()), valid.height),
            ("by_person", int(by_person["positive"].sum()), by_person.height),
        ):
            rows.append(
                {
                    "kind": kind,
                    "rule": rule,
                    "positive": pos,
                    "denominator": denom,
                    "positivity": pos / denom if denom else None,
                    "excluded_invalid": invalid,
                    "excluded_inconclusive": inconclusive,
                }
            )
    return pl.DataFrame(rows, schema_overrides={"positivity": pl.Float64})
