"""``schoolmode screening results``: deconvolve pooled (Dorfman) screening results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from schoolmode.cli.decisions import _day, _fail, console
from schoolmode.policy.errors import SchoolmodeError

app = typer.Typer(help="Pooled screening tests.", no_args_is_help=True)


def _read(path: Path, needed: tuple[str, ...]) -> pl.DataFrame:
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SchoolmodeError(f"{path}: cannot read CSV: {exc}") from None
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SchoolmodeError(f"{path}: missing column(s) {', '.join(missing)}")
    if "specimen_date" in frame.columns:
        parsed = frame.with_columns(pl.col("specimen_date").str.to_date(strict=False))
        bad = frame.with_row_index("row", offset=1).filter(
            parsed["specimen_date"].is_null() & frame["specimen_date"].is_not_null()
        )
        if bad.height:
            r = bad.row(0, named=True)
            raise SchoolmodeError(
                f"{path}: row {r['row']}: field 'specimen_date': {r['specimen_date']!r} "
                "is not a date written YYYY-MM-DD"
            )
        frame = parsed
    return frame.with_columns(pl.col("result").str.strip_chars().str.to_lowercase())


@app.command("results")
def results(
    path: Annotated[
        Path, typer.Argument(help="Pool results CSV: pool_id, result[, specimen_date].")
    ],
    assignments: Annotated[
        Path, typer.Option("--assignments", help="Pool assignment CSV: person_id, pool_id.")
    ],
    retests: Annotated[
        Path | None,
        typer.Option(
            "--retests", help="Individual retest CSV: person_id, result[, specimen_date]."
        ),
    ] = None,
    today: Annotated[
        str | None, typer.Option("--today", help="Reject specimens dated after this day.")
    ] = None,
    rule: Annotated[
        str, typer.Option("--rule", help="Positivity rule: by_test or by_person.")
    ] = "by_test",
) -> None:
    """Deconvolve pool results: negatives, positives, the retest queue and positivity."""
    from schoolmode.operations.pooling import deconvolve, positivity

    try:
        if rule not in ("by_test", "by_person"):
            raise SchoolmodeError(f"--rule must be by_test or by_person, not {rule!r}")
        pools = _read(path, ("pool_id", "result"))
        members = pl.read_csv(assignments, infer_schema=False).select("person_id", "pool_id")
        singles = _read(retests, ("person_id", "result")) if retests else None
        day = _day(today, "--today") if today else None
        outcome = deconvolve(members, pools, singles, day)
        rate = positivity(
            pools, singles, outcome, "by_person" if rule == "by_person" else "by_test"
        )
    except (SchoolmodeError, OSError, pl.exceptions.PolarsError) as exc:
        raise _fail(exc) from None
    c = outcome.counts
    console.print(
        f"{c['persons']} persons in {c['pools']} pools ({c['pools_tested']} tested): "
        f"{c['negative']} negative, {c['positive']} positive, "
        f"{c['retest_queued']} to retest, {c['pending']} pending"
    )
    console.print(
        f"pools: {c['pools_positive']} positive, {c['pools_negative']} negative, "
        f"{c['pools_invalid']} invalid, {c['pools_inconclusive']} inconclusive; "
        f"retests: {c['individual_positive']} positive, {c['individual_negative']} negative, "
        f"{c['individual_invalid']} invalid, {c['individual_inconclusive']} inconclusive"
    )
    share = rate["positivity"]
    shown = "n/a" if share is None else f"{100 * float(share):.2f}%"
    console.print(
        f"positivity ({rule}): {rate['positive']}/{rate['denominator']} = {shown}; "
        f"excluded {rate['excluded_invalid']} invalid, {rate['excluded_inconclusive']} inconclusive"
    )
    for person, pool, reason in outcome.retest_queue.iter_rows():
        console.print(f"retest {person} (pool {pool}): {reason}")
