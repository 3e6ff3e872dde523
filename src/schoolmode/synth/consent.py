"""Synthetic testing consent: a share of persons consent, drawn with counter-based hashing."""

from __future__ import annotations

import datetime as dt

import polars as pl

from schoolmode.operations.screening import uniforms


def synth_consent(
    person: pl.DataFrame,
    student_share: float,
    staff_share: float,
    start: dt.date,
    seed: int = 0,
) -> pl.DataFrame:
    """``testing_consent`` rows for a share of students and of staff (from ``start``, open).

    A person consents when their counter-based uniform (:func:`uniforms`, stream ``consent``)
    is under the share of their role, so the same seed gives the same persons."""
    u = uniforms(person["person_id"], "synthetic-consent", start, seed, "consent")
    share = (
        pl.when(pl.col("role") == "student")
        .then(pl.lit(student_share))
        .otherwise(pl.lit(staff_share))
    )
    return (
        person.with_columns(u.alias("u"))
        .filter(pl.col("u") < share)
        .select(
            "person_id",
            pl.lit(start).alias("start_date"),
            pl.lit(None, dtype=pl.Date).alias("end_date"),
        )
        .sort("person_id")
    )
