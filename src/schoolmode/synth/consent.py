"""Synthetic testing consent: a share of persons consent, drawn with counter-based hashing."""

from __future__ import annotations

import datetime as dt

import polars as pl

from schoolmode.draws import uniforms


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


STUDENT_CONSENT_SHARE = 0.25
"""Default share of synthetic students with testing consent (a synthetic input, not a policy
number: CPS's opt-in consent was well short of its 100% goal in January 2022, figure not
retrieved)."""
STAFF_CONSENT_SHARE = 0.75
"""Default share of synthetic staff with testing consent (a synthetic input, not sourced)."""


def district_consent(
    frames: dict[str, pl.DataFrame], student_share: float, staff_share: float, seed: int = 0
) -> pl.DataFrame:
    """:func:`synth_consent` for a synthetic district's ``person`` frame, consent starting on
    the first day of its rosters (the earliest enrolment or staff assignment start)."""
    for share, flag in ((student_share, "student"), (staff_share, "staff")):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{flag} consent share must be between 0 and 1, not {share}")
    starts = [
        frames[name]["start_date"].min()
        for name in ("enrolment", "staff_assignment")
        if name in frames and frames[name].height
    ]
    if not starts:
        raise ValueError("the district has no enrolment or staff assignment to start consent on")
    start = min(starts)  # type: ignore[type-var]
    assert isinstance(start, dt.date)
    return synth_consent(frames["person"], student_share, staff_share, start, seed)
