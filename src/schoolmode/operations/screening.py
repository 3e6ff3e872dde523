"""Screening tests by the rules of the policy in force (pure functions on frames).

Per-question calculators (``staff_tests``, ``zip_student_tests``, ``random_student_tests``) answer
policy cases; :func:`make_plan` plans a whole district's week (who is tested, in which pool,
the shortfall against the target per school) and :func:`plan_week` plans, pools, simulates or
reads results and deconvolves one week in memory. Every share, count and rounding comes from the
policy file, so a proposal that changes them is an overlay, not code.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl

from schoolmode.draws import draws, uniforms
from schoolmode.operations.pooling import Deconvolution, deconvolve, positivity
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value, interpretation, number, parameter

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
# Everything below plans a whole district's screening week with polars/numpy (no loop over
# persons). See docs/operations.md, "Screening plan".

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
            f"week {text!r} is neither an ISO week (2022-W04) nor a date (2022-01-24)"
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


def _in_force_during(policy: Policy, monday: dt.date) -> dt.date | None:
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
        if _in_force_during(policy, monday) is None:
            raise ScreeningError(
                f"policy {policy_id!r} is not in force in the week of {monday} "
                f"(term {policy.term.from_} .. {policy.term.to or 'open'})"
            )
        return policy
    found = [
        p
        for p in screening_policies(registry)
        if p.kind == "agreement" and _in_force_during(p, monday) is not None
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


# ----------------------------------------------------------------------- roster and consent


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


# ----------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class ScreeningPlan:
    policy_id: str
    week: dt.date
    """Monday of the week planned."""
    seed: int
    on: dt.date
    """Day whose parameter values the plan uses (first day of the week the policy is in force)."""
    tests: pl.DataFrame
    """``person_id``, ``school_id``, ``group``, ``draw``, ``pool_id``: who is tested, pooled."""
    schools: pl.DataFrame
    """Per school: staff / students on roll, eligible, target, consented, selected, shortfall."""
    top_zips: pl.DataFrame
    settings: dict[str, Any]
    """Parameters and readings used (shares, pool size, ZIP window and its data days ...)."""

    @property
    def label(self) -> str:
        return week_label(self.week)

    def shortfalls(self) -> pl.DataFrame:
        """Schools whose consented persons fall short of the target (per group)."""
        return self.schools.filter(
            (pl.col("staff_shortfall") > 0) | (pl.col("student_shortfall") > 0)
        )


def _select(candidates: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
    """The ``target`` lowest draws of each (school, group) among ``candidates``."""
    return (
        candidates.sort("school_id", "group", "draw", "person_id")
        .with_columns(pl.int_range(1, pl.len() + 1).over("school_id", "group").alias("rank"))
        .join(targets, on=["school_id", "group"], how="inner")
        .filter(pl.col("rank") <= pl.col("target"))
        .drop("target")
    )


def make_plan(
    frames: Mapping[str, pl.DataFrame],
    policy: Policy,
    week: dt.date,
    seed: int,
    settings: Mapping[str, Value] | None = None,
    priority_schools: Sequence[str] | None = None,
) -> ScreeningPlan:
    """The screening plan for the week starting on Monday ``week`` under ``policy``.

    ``frames``: standard frames ``school``, ``classroom``, ``person``, ``enrolment``,
    ``staff_assignment``, ``testing_consent``; ``community_indicator`` (ZIP weekly cases) for
    a policy with a top-ZIP rule; ``test`` (optional) for a policy with a reference month."""
    week = week_monday(week)
    on = _in_force_during(policy, week)
    if on is None:
        raise ScreeningError(f"policy {policy.id!r} is not in force in the week of {week}")
    rounding = str(interpretation(policy, "rounding", settings))
    pool_size = int(number(policy, "screening_pool_size", on, settings))
    if pool_size < 1:
        raise ScreeningError(f"screening_pool_size must be at least 1, not {pool_size}")
    missing = [
        n
        for n in ("school", "classroom", "person", "enrolment", "staff_assignment")
        if n not in frames
    ]
    if missing:
        raise ScreeningError(f"screening plan needs the frames {', '.join(missing)}")
    roster = week_roster(frames, week)
    consent = consented_on(frames.get("testing_consent"), week)
    roster = roster.with_columns(
        pl.col("person_id").is_in(consent.implode()).alias("consented"),
        draws(roster["person_id"], policy.id, week, seed),
    )
    schools = (
        frames["school"]
        .sort("school_year")
        .unique("school_id", keep="last")
        .select("school_id", "zip")
    )
    used: dict[str, Any] = {"rounding": rounding, "screening_pool_size": pool_size}
    zips = pl.DataFrame(
        schema={
            "rank": pl.Int64,
            "zip": pl.String,
            "daily_average_cases": pl.Float64,
            "weeks": pl.UInt32,
        }
    )
    is_student = pl.col("group") == "student"
    if "student_testing_top_zip_count" in policy.parameters:
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
        share_p = number(policy, "staff_tested_share_priority_pct", on, settings)
        share_o = number(policy, "staff_tested_share_other_pct", on, settings)
        share_s = number(policy, "student_tested_share_top_zip_pct", on, settings)
        min_age = number(policy, "student_testing_min_age_years", on, settings)
        staff_consent = str(interpretation(policy, "staff_testing_requires_consent", settings))
        used.update(
            {
                "student_testing_top_zip_count": n,
                "top_zip_window": window,
                "zip_data_from": first.isoformat(),
                "zip_data_to": last.isoformat(),
                "staff_priority_schools": reading,
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
            pl.when(is_student)
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
        needs_consent = is_student | pl.lit(staff_consent == "yes")
    else:
        floor = number(policy, "student_random_testing_share_pct", on, settings)
        ref = parameter(policy, "student_random_testing_reference_month", on, settings)
        shares = reference_tested_share(frames.get("test"), roster, str(ref))
        used.update(
            {
                "student_random_testing_share_pct": str(floor),
                "student_random_testing_reference_month": str(ref),
            }
        )
        num, den = (floor).as_integer_ratio()
        roster = roster.join(
            schools.select("school_id", "zip"), on="school_id", how="left"
        ).with_columns(is_student.alias("eligible"))
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
        needs_consent = is_student
    candidates = roster.filter(pl.col("eligible") & (pl.col("consented") | ~needs_consent))
    chosen = _select(candidates, counts.select("school_id", "group", "target"))
    tests = chosen.with_columns(
        pl.format(
            "{}-{}-{}{}",
            pl.lit(week_label(week)),
            pl.col("school_id"),
            pl.when(pl.col("group") == "staff").then(pl.lit("T")).otherwise(pl.lit("S")),
            ((pl.col("rank") - 1) // pool_size + 1).cast(pl.String).str.zfill(3),
        ).alias("pool_id")
    ).select("person_id", "school_id", "group", "draw", "pool_id")
    available = candidates.group_by("school_id", "group").len("consented")
    picked = tests.group_by("school_id", "group").len("selected")
    per = (
        counts.join(available, on=["school_id", "group"], how="left")
        .join(picked, on=["school_id", "group"], how="left")
        .with_columns(
            pl.col("consented").fill_null(0).cast(pl.Int64),
            pl.col("selected").fill_null(0).cast(pl.Int64),
            pl.col("on_roll").cast(pl.Int64),
            pl.col("eligible").cast(pl.Int64),
            pl.col("target").cast(pl.Int64),
        )
        .with_columns((pl.col("target") - pl.col("selected")).alias("shortfall"))
    )
    wide = _wide(per, schools.select("school_id", "zip"))
    return ScreeningPlan(
        policy_id=policy.id,
        week=week,
        seed=seed,
        on=on,
        tests=tests.sort("pool_id", "person_id"),
        schools=wide,
        top_zips=zips,
        settings=used,
    )


SCHOOL_COLUMNS = (
    "staff",
    "staff_target",
    "staff_consented",
    "staff_selected",
    "staff_shortfall",
    "students",
    "students_eligible",
    "student_target",
    "students_consented",
    "students_selected",
    "student_shortfall",
)


def _wide(per: pl.DataFrame, schools: pl.DataFrame) -> pl.DataFrame:
    """One row per school: the staff and student columns of :data:`SCHOOL_COLUMNS`."""
    names = {
        "staff": {
            "on_roll": "staff",
            "target": "staff_target",
            "consented": "staff_consented",
            "selected": "staff_selected",
            "shortfall": "staff_shortfall",
        },
        "student": {
            "on_roll": "students",
            "eligible": "students_eligible",
            "target": "student_target",
            "consented": "students_consented",
            "selected": "students_selected",
            "shortfall": "student_shortfall",
        },
    }
    out = per.select("school_id").unique()
    for group, cols in names.items():
        part = per.filter(pl.col("group") == group).select(
            "school_id", *[pl.col(a).alias(b) for a, b in cols.items()]
        )
        out = out.join(part, on="school_id", how="left")
    extra = [
        c for c in ("top_zip", "priority", "resourced", "tested_share_pct") if c in per.columns
    ]
    flags = per.group_by("school_id").agg([pl.col(c).drop_nulls().first() for c in extra])
    return (
        out.join(flags, on="school_id", how="left")
        .join(schools, on="school_id", how="left")
        .with_columns([pl.col(c).fill_null(0).cast(pl.Int64) for c in SCHOOL_COLUMNS])
        .select("school_id", "zip", *extra, *SCHOOL_COLUMNS)
        .sort("school_id")
    )


# =========================================================================== one week, in memory


@dataclass(frozen=True)
class WeekScreening:
    """A planned week with its pool and retest results and their deconvolution."""

    plan: ScreeningPlan
    pool_results: pl.DataFrame
    """``pool_id``, ``result``, ``specimen_date``."""
    individual_results: pl.DataFrame
    """``person_id``, ``result``, ``specimen_date`` (retests of positive / undecided pools)."""
    outcome: Deconvolution
    positivity: dict[str, dict[str, str | float | int | None]]
    """``by_test`` and ``by_person`` (screening tests; invalid/inconclusive excluded, counted)."""


def simulate_results(
    plan: ScreeningPlan,
    infected: pl.Series,
    invalid_share: float = 0.0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pool results and individual retests as a perfect test would give them for the persons
    in ``infected``: a pool is positive when a member is infected; every member of a positive
    or invalid pool is retested. A pool or retest is ``invalid`` with probability
    ``invalid_share`` (counter-based draws, stream ``invalid``), so invalids stay reproducible."""
    tests = plan.tests.with_columns(pl.col("person_id").is_in(infected.implode()).alias("infected"))
    pools = tests.group_by("pool_id").agg(pl.col("infected").any()).sort("pool_id")
    u_pool = uniforms(pools["pool_id"], plan.policy_id, plan.week, plan.seed, "invalid-pool")
    pools = pools.with_columns(
        pl.when(u_pool < invalid_share)
        .then(pl.lit("invalid"))
        .when(pl.col("infected"))
        .then(pl.lit("positive"))
        .otherwise(pl.lit("negative"))
        .alias("result"),
        pl.lit(plan.week).alias("specimen_date"),
    )
    redo = pools.filter(pl.col("result") != "negative")["pool_id"]
    retest = tests.filter(pl.col("pool_id").is_in(redo.implode()))
    u_one = uniforms(retest["person_id"], plan.policy_id, plan.week, plan.seed, "invalid-retest")
    singles = retest.with_columns(
        pl.when(u_one < invalid_share)
        .then(pl.lit("invalid"))
        .when(pl.col("infected"))
        .then(pl.lit("positive"))
        .otherwise(pl.lit("negative"))
        .alias("result"),
        pl.lit(plan.week + dt.timedelta(days=2)).alias("specimen_date"),
    ).select("person_id", "result", "specimen_date")
    return pools.select("pool_id", "result", "specimen_date"), singles.sort("person_id")


def plan_week(
    frames: Mapping[str, pl.DataFrame],
    policy: Policy,
    week: dt.date,
    seed: int,
    *,
    infected: pl.Series | None = None,
    pool_results: pl.DataFrame | None = None,
    individual_results: pl.DataFrame | None = None,
    invalid_share: float = 0.0,
    settings: Mapping[str, Value] | None = None,
    priority_schools: Sequence[str] | None = None,
) -> WeekScreening:
    """Plan, pool and deconvolve one week's screening for a whole district, in memory.

    Frames in (standard frames, see :func:`make_plan`), frames out. Results are either given
    (``pool_results`` and optional ``individual_results``, as :func:`pooling.deconvolve`
    reads them) or simulated from ``infected`` person ids (:func:`simulate_results`); with
    neither, every pool is pending."""
    plan = make_plan(frames, policy, week, seed, settings, priority_schools)
    if pool_results is None and infected is not None:
        pool_results, individual_results = simulate_results(plan, infected, invalid_share)
    pools = (
        pool_results
        if pool_results is not None
        else pl.DataFrame(
            schema={"pool_id": pl.String, "result": pl.String, "specimen_date": pl.Date}
        )
    )
    singles = (
        individual_results
        if individual_results is not None
        else pl.DataFrame(
            schema={"person_id": pl.String, "result": pl.String, "specimen_date": pl.Date}
        )
    )
    members = plan.tests.select("person_id", "pool_id")
    outcome = deconvolve(members, pools, singles)
    rates = {rule: positivity(pools, singles, outcome, rule) for rule in ("by_test", "by_person")}
    return WeekScreening(plan, pools, singles, outcome, dict(rates))
