"""Who a screening week tests: the week's roster, testing consent, and each policy kind's
eligibility and per-school targets (pure functions on frames).

Two kinds of agreement plan screening. The MOA 2021 kind (``student_testing_top_zip_count``)
tests staff at every school (all of them at priority schools, a share elsewhere) and a share
of the eligible students at schools in the highest-case ZIP codes; the January 2022 kind
(``student_random_testing_share_pct``) resources random student testing at schools that
tested under the floor in the reference month. Selection takes the lowest counter-based draws
of each school and group (:func:`select_lowest`), so it is stable when persons come and go.
Plan assembly (pools, per-school table) is in ``operations/screening_plan.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from schoolmode.operations.screening import (
    ZIP_CASES_METRIC,
    ScreeningError,
    share_expr,
    top_zips,
    zip_window,
)
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value, interpretation, number, parameter


def _active(frame: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return frame.filter(
        (pl.col("start_date") <= day) & (pl.col("end_date").is_null() | (pl.col("end_date") >= day))
    )


def week_roster(frames: Mapping[str, pl.DataFrame], day: dt.date) -> pl.DataFrame:
    """``person_id``, ``school_id``, ``group`` (student / staff), ``age_years`` on ``day``: one
    row per person (a student's lowest school id, a staff member's largest FTE, then lowest
    school id, when several are current)."""
    students = (
        _active(frames["enrolment"], day)
        .join(frames["classroom"].select("classroom_id", "school_id"), on="classroom_id")
        .select("person_id", "school_id", pl.lit("student").alias("group"))
        .sort("person_id", "school_id")
        .unique("person_id", keep="first")
    )
    staff = (
        _active(frames["staff_assignment"], day)
        .sort(
            ["person_id", "fte", "school_id"],
            descending=[False, True, False],
            nulls_last=True,
        )
        .unique("person_id", keep="first")
        .select("person_id", "school_id", pl.lit("staff").alias("group"))
    )
    roster = pl.concat(
        [students, staff.filter(~pl.col("person_id").is_in(students["person_id"].implode()))]
    )
    ages = frames["person"].select("person_id", "age_years")
    return roster.join(ages, on="person_id", how="left").sort("school_id", "group", "person_id")


def consented_on(consent: pl.DataFrame | None, day: dt.date) -> pl.Series:
    """Ids of persons whose testing consent holds on ``day``."""
    if consent is None:
        return pl.Series("person_id", [], dtype=pl.String)
    return _active(consent, day)["person_id"].unique()


def reference_tested_share(
    tests: pl.DataFrame | None, roster: pl.DataFrame, month: str
) -> pl.DataFrame:
    """Per school, the weekly share of its students screened in ``month`` (``YYYY-MM``),
    percent: distinct (student, week) screening tests over the number of weeks in which the
    district ran any screening test that month, over the school's students. No tests: 0."""
    schools = roster.filter(pl.col("group") == "student").group_by("school_id").len("students")
    if tests is None or tests.is_empty():
        return schools.select("school_id", pl.lit(0.0).alias("tested_share_pct"))
    year, mon = (int(x) for x in month.split("-"))
    first = dt.date(year, mon, 1)
    nxt = dt.date(year + mon // 12, mon % 12 + 1, 1)
    screened = tests.filter(
        pl.col("screening")
        & pl.col("person_id").is_not_null()
        & (pl.col("specimen_date") >= first)
        & (pl.col("specimen_date") < nxt)
    ).with_columns(pl.col("specimen_date").dt.truncate("1w").alias("week"))
    weeks = max(screened["week"].n_unique(), 1)
    per_school = (
        screened.select("person_id", "week")
        .unique()
        .join(roster.filter(pl.col("group") == "student"), on="person_id")
        .group_by("school_id")
        .len("tests")
    )
    return schools.join(per_school, on="school_id", how="left").select(
        "school_id",
        (100 * pl.col("tests").fill_null(0) / weeks / pl.col("students")).alias("tested_share_pct"),
    )


def latest_schools(school: pl.DataFrame) -> pl.DataFrame:
    """``school_id``, ``zip`` of each school, from its latest school year's row."""
    return school.sort("school_year").unique("school_id", keep="last").select("school_id", "zip")


def select_lowest(candidates: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
    """The ``target`` lowest draws of each (school, group) among ``candidates``."""
    return (
        candidates.sort("school_id", "group", "draw", "person_id")
        .with_columns(pl.int_range(1, pl.len() + 1).over("school_id", "group").alias("rank"))
        .join(targets, on=["school_id", "group"], how="inner")
        .filter(pl.col("rank") <= pl.col("target"))
        .drop("target")
    )


# ----------------------------------------------------------------------- targets per policy kind

IS_STUDENT = pl.col("group") == "student"


def _no_zips() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "rank": pl.Int64,
            "zip": pl.String,
            "daily_average_cases": pl.Float64,
            "weeks": pl.UInt32,
        }
    )


@dataclass(frozen=True)
class Targets:
    """A policy kind's answer for the week: the roster with ``eligible`` (and the school
    columns the kind reads), per (school, group) ``on_roll``, ``eligible``, ``target`` (and the
    kind's flags), who needs consent, the top ZIP codes, and the parameters used."""

    roster: pl.DataFrame
    counts: pl.DataFrame
    needs_consent: pl.Expr
    used: dict[str, Any]
    top_zips: pl.DataFrame = field(default_factory=_no_zips)


def _top_zip_schools(
    frames: Mapping[str, pl.DataFrame],
    policy: Policy,
    on: dt.date,
    week: dt.date,
    schools: pl.DataFrame,
    settings: Mapping[str, Value] | None,
    priority_schools: Sequence[str] | None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """The month's top ZIP codes and the schools with ``top_zip`` and ``priority`` (staff)."""
    n = int(number(policy, "student_testing_top_zip_count", on, settings))
    window = str(interpretation(policy, "top_zip_window", settings))
    month = week.replace(day=1)
    indicators = frames.get("community_indicator")
    if indicators is None:
        raise ScreeningError("the top-ZIP rule needs community_indicator (ZIP weekly cases)")
    zips = top_zips(indicators, month, n, window)
    first, last = zip_window(month, window)
    if zips.height < n:
        raise ScreeningError(
            f"only {zips.height} ZIP codes have weekly cases ({ZIP_CASES_METRIC}) for weeks "
            f"ending {first} .. {last}; the policy ranks {n}: import the ZIP weekly data"
        )
    schools = schools.with_columns(pl.col("zip").is_in(zips["zip"].implode()).alias("top_zip"))
    reading = str(interpretation(policy, "staff_priority_schools", settings))
    if reading == "listed":
        if priority_schools is None:
            raise ScreeningError(
                "staff_priority_schools is 'listed' but no list of priority schools was given"
            )
        schools = schools.with_columns(
            pl.col("school_id").is_in(list(priority_schools)).alias("priority")
        )
    else:
        schools = schools.with_columns(pl.col("top_zip").alias("priority"))
    used = {
        "student_testing_top_zip_count": n,
        "top_zip_window": window,
        "zip_data_from": first.isoformat(),
        "zip_data_to": last.isoformat(),
        "staff_priority_schools": reading,
    }
    return zips, schools, used


def top_zip_targets(
    frames: Mapping[str, pl.DataFrame],
    policy: Policy,
    on: dt.date,
    week: dt.date,
    roster: pl.DataFrame,
    schools: pl.DataFrame,
    rounding: str,
    settings: Mapping[str, Value] | None = None,
    priority_schools: Sequence[str] | None = None,
) -> Targets:
    """MOA 2021 kind: staff shares by priority school, students of a minimum age at schools in
    the top ZIP codes."""
    zips, schools, used = _top_zip_schools(
        frames, policy, on, week, schools, settings, priority_schools
    )
    share_p = number(policy, "staff_tested_share_priority_pct", on, settings)
    share_o = number(policy, "staff_tested_share_other_pct", on, settings)
    share_s = number(policy, "student_tested_share_top_zip_pct", on, settings)
    min_age = number(policy, "student_testing_min_age_years", on, settings)
    staff_consent = str(interpretation(policy, "staff_testing_requires_consent", settings))
    used.update(
        {
            "staff_tested_share_priority_pct": str(share_p),
            "staff_tested_share_other_pct": str(share_o),
            "student_tested_share_top_zip_pct": str(share_s),
            "student_testing_min_age_years": str(min_age),
            "staff_testing_requires_consent": staff_consent,
        }
    )
    roster = roster.join(schools, on="school_id", how="left").with_columns(
        pl.col("top_zip").fill_null(False), pl.col("priority").fill_null(False)
    )
    roster = roster.with_columns(
        pl.when(IS_STUDENT)
        .then(pl.col("top_zip") & (pl.col("age_years") >= int(min_age)).fill_null(False))
        .otherwise(True)
        .alias("eligible")
    )
    counts = roster.group_by("school_id", "group").agg(
        pl.len().alias("on_roll"),
        pl.col("eligible").sum().alias("eligible"),
        pl.col("priority").first(),
        pl.col("top_zip").first(),
    )
    share = (
        pl.when(pl.col("group") == "staff")
        .then(
            pl.when(pl.col("priority"))
            .then(share_expr(pl.col("eligible"), share_p, rounding))
            .otherwise(share_expr(pl.col("eligible"), share_o, rounding))
        )
        .otherwise(share_expr(pl.col("eligible"), share_s, rounding))
    )
    counts = counts.with_columns(share.alias("target"))
    needs_consent = IS_STUDENT | pl.lit(staff_consent == "yes")
    return Targets(roster, counts, needs_consent, used, zips)


def random_targets(
    frames: Mapping[str, pl.DataFrame],
    policy: Policy,
    on: dt.date,
    roster: pl.DataFrame,
    schools: pl.DataFrame,
    rounding: str,
    settings: Mapping[str, Value] | None = None,
) -> Targets:
    """January 2022 kind: the floor share of students at schools that screened under the
    floor in the reference month (staff: no target)."""
    floor: Decimal = number(policy, "student_random_testing_share_pct", on, settings)
    ref = parameter(policy, "student_random_testing_reference_month", on, settings)
    shares = reference_tested_share(frames.get("test"), roster, str(ref))
    used = {
        "student_random_testing_share_pct": str(floor),
        "student_random_testing_reference_month": str(ref),
    }
    num, den = (floor).as_integer_ratio()
    roster = roster.join(
        schools.select("school_id", "zip"), on="school_id", how="left"
    ).with_columns(IS_STUDENT.alias("eligible"))
    counts = (
        roster.group_by("school_id", "group")
        .agg(pl.len().alias("on_roll"), pl.col("eligible").sum().alias("eligible"))
        .join(shares, on="school_id", how="left")
        .with_columns(
            # resourced when the reference-month share is under the floor (exact compare)
            (pl.col("tested_share_pct").fill_null(0.0) * den < num).alias("resourced")
        )
        .with_columns(
            pl.when((pl.col("group") == "student") & pl.col("resourced"))
            .then(share_expr(pl.col("eligible"), floor, rounding))
            .otherwise(0)
            .alias("target")
        )
    )
    return Targets(roster, counts, IS_STUDENT, used)
