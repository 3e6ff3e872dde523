"""Screening tests by the rules of the policy in force: the policy's rules and shares, the
week, the counter-based draws, the policy in force and the highest-case ZIP codes (pure
functions on frames).

Per-question calculators (``staff_tests``, ``zip_student_tests``, ``random_student_tests``) answer
policy cases; a whole district's week is planned in ``operations/screening_plan.py``
(``make_plan``, ``plan_week``) from the roster, consent and targets of
``operations/screening_selection.py``. Every share, count and rounding comes from the policy
file, so a proposal that changes them is an overlay, not code.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl

from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value, interpretation, number

_ROUNDING = {"ceil": ROUND_CEILING, "floor": ROUND_FLOOR, "half_up": ROUND_HALF_UP}


def share_of(count: int, percent: Decimal, rounding: str) -> int:
    """``percent`` % of ``count``, rounded by the named rule, exactly."""
    return int((Decimal(count) * percent / 100).quantize(Decimal(1), rounding=_ROUNDING[rounding]))


def staff_tests(
    policy: Policy,
    on: dt.date,
    staff: int,
    on_priority_list: bool,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    """Weekly staff screening tests for one school (MOA 2021: all staff at listed schools, 50% elsewhere)."""
    key = "staff_tested_share_priority_pct" if on_priority_list else "staff_tested_share_other_pct"
    share = number(policy, key, on, settings)
    rounding = str(interpretation(policy, "rounding", settings))
    return {"weekly_staff_tests": share_of(staff, share, rounding), "share_pct": share}


def zip_student_tests(
    policy: Policy,
    on: dt.date,
    eligible_students: int,
    zip_rank: int,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    """Weekly student surveillance tests at a school whose ZIP has the given case rank."""
    top = int(number(policy, "student_testing_top_zip_count", on, settings))
    share = number(policy, "student_tested_share_top_zip_pct", on, settings)
    rounding = str(interpretation(policy, "rounding", settings))
    tests = share_of(eligible_students, share, rounding) if zip_rank <= top else 0
    return {"weekly_student_tests": tests, "in_top_zips": zip_rank <= top}


def random_student_tests(
    policy: Policy,
    on: dt.date,
    enrolled: int,
    consented: int,
    december_tested_share_pct: Decimal,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    """Weekly random student testing resourced for a school (Jan 2022 agreement).

    Schools that tested under the floor in December get resources for the target share
    of students, drawn at random from consented students; a consent shortfall is flagged,
    never hidden.
    """
    floor = number(policy, "student_random_testing_share_pct", on, settings)
    rounding = str(interpretation(policy, "rounding", settings))
    resourced = share_of(enrolled, floor, rounding) if december_tested_share_pct < floor else 0
    tests = min(resourced, consented)
    flag = "below_10pct_target_consent_limited" if consented < resourced else None
    return {
        "weekly_student_tests_resourced": resourced,
        "weekly_student_tests": tests,
        "sample": "random_from_consented",
        "flag": flag,
    }


def weeks_needed(count: int, per_week: int) -> int:
    return math.ceil(count / per_week) if count else 0


# =========================================================================== weekly plan
#
# What a whole district's screening week is planned with (polars/numpy, no loop over persons;
# the plan itself: operations/screening_plan.py). See docs/operations.md, "Screening plan".

SCREENING_KEYS = ("student_testing_top_zip_count", "student_random_testing_share_pct")
"""A policy plans screening when it has one of these parameters (MOA 2021 or Jan 2022 kind)."""
ZIP_CASES_METRIC = "cases_weekly"
"""``community_indicator`` metric read for the highest-case ZIP list (CDPH ZIP weekly import)."""


class ScreeningError(SchoolmodeError):
    """A screening plan or result that cannot be made or used; the message says why."""


def week_monday(text: str | dt.date) -> dt.date:
    """The Monday of a week given as ``2022-W04`` (ISO week) or as any day of it."""
    if isinstance(text, dt.date):
        return text - dt.timedelta(days=text.weekday())
    value = text.strip()
    try:
        if "W" in value.upper():
            year, week = value.upper().split("-W")
            return dt.date.fromisocalendar(int(year), int(week), 1)
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ScreeningError(
            f"--week {text!r} is neither an ISO week (2022-W04) nor a date (2022-01-24)"
        ) from None
    return day - dt.timedelta(days=day.weekday())


def week_label(monday: dt.date) -> str:
    """``2022W04`` for the ISO week starting on ``monday``."""
    year, week, _ = monday.isocalendar()
    return f"{year}W{week:02d}"


# ----------------------------------------------------------------------- exact shares


def share_expr(count: pl.Expr, percent: Decimal, rounding: str) -> pl.Expr:
    """``percent`` % of an integer column, rounded by the named rule, exactly (integer
    arithmetic on the fraction ``percent / 100``; same answers as :func:`share_of`)."""
    num, den = (Decimal(percent) / 100).as_integer_ratio()
    n = count.cast(pl.Int64)
    if rounding == "ceil":
        return (n * num + den - 1) // den
    if rounding == "floor":
        return (n * num) // den
    if rounding == "half_up":
        return (2 * n * num + den) // (2 * den)
    raise ScreeningError(f"rounding must be ceil, floor or half_up, not {rounding!r}")


# ----------------------------------------------------------------------- policy in force


def screening_policies(registry: Registry) -> list[Policy]:
    return [
        p.policy
        for p in registry.all()
        if isinstance(p.policy, Policy) and any(k in p.policy.parameters for k in SCREENING_KEYS)
    ]


def in_force_during(policy: Policy, monday: dt.date) -> dt.date | None:
    """The first day of the week (Monday..Sunday) on which the policy is in force."""
    first = max(monday, policy.term.from_)
    last = monday + dt.timedelta(days=6)
    if policy.term.to is not None:
        last = min(last, policy.term.to)
    return first if first <= last else None


def _is_overlay_of(registry: Registry, policy_id: str, bases: set[str]) -> bool:
    overlay = registry.get(policy_id).overlay
    return overlay is not None and overlay.overlay_of in bases and overlay.overlay_of != policy_id


def screening_policy(registry: Registry, monday: dt.date, policy_id: str | None = None) -> Policy:
    """The policy that plans week ``monday``: ``policy_id`` if given (it must be in force that
    week), else the one agreement with screening parameters in force that week (an overlay in
    force together with its base, such as a high-school addendum, yields to the base)."""
    if policy_id is not None:
        policy = registry.get(policy_id).policy
        if not isinstance(policy, Policy) or not any(
            k in policy.parameters for k in SCREENING_KEYS
        ):
            raise ScreeningError(
                f"policy {policy_id!r} has no screening parameters ({', '.join(SCREENING_KEYS)})"
            )
        if in_force_during(policy, monday) is None:
            raise ScreeningError(
                f"policy {policy_id!r} is not in force in the week of {monday} "
                f"(term {policy.term.from_} .. {policy.term.to or 'open'})"
            )
        return policy
    found = [
        p
        for p in screening_policies(registry)
        if p.kind == "agreement" and in_force_during(p, monday) is not None
    ]
    # an overlay in force with its base (the 2021 high-school addendum over the MOA) applies to
    # part of the district only; the district-wide plan follows the base agreement
    ids = {p.id for p in found}
    bases = {
        loaded.overlay.overlay_of
        for loaded in registry.all()
        if loaded.overlay is not None and loaded.id in ids
    } & ids
    found = [p for p in found if p.id in bases or not _is_overlay_of(registry, p.id, bases)]
    if len(found) != 1:
        known = ", ".join(
            f"{p.id} ({p.term.from_} .. {p.term.to or 'open'})"
            for p in screening_policies(registry)
        )
        what = "no" if not found else "more than one"
        raise ScreeningError(
            f"{what} screening agreement in force in the week of {monday}; pass --policy "
            f"(policies with screening parameters: {known})"
        )
    return found[0]


# ----------------------------------------------------------------------- top ZIP codes


def zip_window(month_start: dt.date, window: str) -> tuple[dt.date, dt.date]:
    """Days whose weekly case counts decide the month's list (weeks must end inside)."""
    last = month_start - dt.timedelta(days=1)
    if window == "previous_calendar_month":
        return last.replace(day=1), last
    if window == "last_28_days":
        return month_start - dt.timedelta(days=28), last
    raise ScreeningError(
        f"top_zip_window must be previous_calendar_month or last_28_days, not {window!r}"
    )


ZIP_POPULATION_METRIC = "population"
ZIP_MEASURES = ("cases", "cases_per_100k")


def top_zips(
    indicators: pl.DataFrame, month_start: dt.date, n: int, window: str, measure: str = "cases"
) -> pl.DataFrame:
    """The ``n`` ZIP codes with the highest daily average cases over the window for the month
    that starts on ``month_start``: ``rank``, ``zip``, ``daily_average_cases``, ``weeks``.

    Reads ``community_indicator`` rows (geography_type ``zip``, metric ``cases_weekly``, 7-day
    periods; ``date`` is the week's first day). A week counts when its last day falls in the
    window; suppressed (blank) weeks are left out of the average. Ties: lower ZIP first.

    ``measure="cases_per_100k"`` ranks by the daily average per 100,000 residents instead,
    with the ZIP's ``population`` (CDPH's weekly ``population`` rows, the latest in the window;
    ZIP codes without one are left out) and adds ``population`` and
    ``daily_cases_per_100k``."""
    if measure not in ZIP_MEASURES:
        raise ScreeningError(f"ZIP ranking measure must be one of {ZIP_MEASURES}, not {measure!r}")
    first, last = zip_window(month_start, window)
    in_window = indicators.filter(
        (pl.col("geography_type") == "zip")
        & (pl.col("period_days") == 7)
        & pl.col("value").is_not_null()
        & (pl.col("date") + pl.duration(days=6)).is_between(first, last)
    )
    ranked = (
        in_window.filter(pl.col("metric") == ZIP_CASES_METRIC)
        .group_by(pl.col("geography").alias("zip"))
        .agg(
            (pl.col("value").sum() / (7 * pl.len())).alias("daily_average_cases"),
            pl.len().alias("weeks"),
        )
    )
    key = "daily_average_cases"
    if measure == "cases_per_100k":
        population = (
            in_window.filter((pl.col("metric") == ZIP_POPULATION_METRIC) & (pl.col("value") > 0))
            .group_by(pl.col("geography").alias("zip"))
            .agg(pl.col("value").sort_by("date").last().alias("population"))
        )
        key = "daily_cases_per_100k"
        ranked = ranked.join(population, on="zip", how="inner").with_columns(
            (pl.col("daily_average_cases") * 100_000 / pl.col("population")).alias(key)
        )
    return (
        ranked.sort([key, "zip"], descending=[True, False])
        .head(n)
        .with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
    )
