"""A district's screening week, assembled: the plan (who is tested, in which pool, each
school's target, consent and shortfall) and one week planned, pooled and deconvolved in memory
(pure functions on frames).

:func:`make_plan` reads the policy in force (``operations/screening.py``), takes the week's
roster and each policy kind's targets and selection from ``operations/screening_selection.py``,
names the pools and builds the per-school table; :func:`plan_week` adds pool and retest
results (given or simulated) and their deconvolution (``operations/pooling.py``). See
docs/operations.md, "Screening plan".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from schoolmode.draws import draws, uniforms
from schoolmode.operations.pooling import Deconvolution, deconvolve, positivity
from schoolmode.operations.screening import (
    ScreeningError,
    in_force_during,
    week_label,
    week_monday,
)
from schoolmode.operations.screening_selection import (
    Targets,
    consented_on,
    latest_schools,
    random_targets,
    select_lowest,
    top_zip_targets,
    week_roster,
)
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value, interpretation, number


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


PLAN_FRAMES = ("school", "classroom", "person", "enrolment", "staff_assignment")
"""Standard frames every screening plan reads."""


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
    on = in_force_during(policy, week)
    if on is None:
        raise ScreeningError(f"policy {policy.id!r} is not in force in the week of {week}")
    rounding = str(interpretation(policy, "rounding", settings))
    pool_size = int(number(policy, "screening_pool_size", on, settings))
    if pool_size < 1:
        raise ScreeningError(f"screening_pool_size must be at least 1, not {pool_size}")
    missing = [n for n in PLAN_FRAMES if n not in frames]
    if missing:
        raise ScreeningError(f"screening plan needs the frames {', '.join(missing)}")
    roster = drawn_roster(frames, policy.id, week, seed)
    schools = latest_schools(frames["school"])
    used: dict[str, Any] = {"rounding": rounding, "screening_pool_size": pool_size}
    if "student_testing_top_zip_count" in policy.parameters:
        targets = top_zip_targets(
            frames, policy, on, week, roster, schools, rounding, settings, priority_schools
        )
    else:
        targets = random_targets(frames, policy, on, roster, schools, rounding, settings)
    used.update(targets.used)
    candidates = targets.roster.filter(
        pl.col("eligible") & (pl.col("consented") | ~targets.needs_consent)
    )
    chosen = select_lowest(candidates, targets.counts.select("school_id", "group", "target"))
    tests = pooled(chosen, week, pool_size)
    per = _per_group(targets, candidates, tests)
    return ScreeningPlan(
        policy_id=policy.id,
        week=week,
        seed=seed,
        on=on,
        tests=tests.sort("pool_id", "person_id"),
        schools=_wide(per, schools.select("school_id", "zip")),
        top_zips=targets.top_zips,
        settings=used,
    )


def drawn_roster(
    frames: Mapping[str, pl.DataFrame], policy_id: str, week: dt.date, seed: int
) -> pl.DataFrame:
    """The week's roster (:func:`week_roster` on its Monday) with ``consented`` (testing
    consent holds on the Monday) and each person's ``draw`` for the policy, week and seed."""
    roster = week_roster(frames, week)
    consent = consented_on(frames.get("testing_consent"), week)
    return roster.with_columns(
        pl.col("person_id").is_in(consent.implode()).alias("consented"),
        draws(roster["person_id"], policy_id, week, seed),
    )


def pooled(chosen: pl.DataFrame, week: dt.date, pool_size: int) -> pl.DataFrame:
    """``person_id``, ``school_id``, ``group``, ``draw``, ``pool_id``: the selected persons in
    pools of up to ``pool_size`` by rank, named ``<week>-<school>-<T|S><nnn>`` (staff, students)."""
    return chosen.with_columns(
        pl.format(
            "{}-{}-{}{}",
            pl.lit(week_label(week)),
            pl.col("school_id"),
            pl.when(pl.col("group") == "staff").then(pl.lit("T")).otherwise(pl.lit("S")),
            ((pl.col("rank") - 1) // pool_size + 1).cast(pl.String).str.zfill(3),
        ).alias("pool_id")
    ).select("person_id", "school_id", "group", "draw", "pool_id")


def _per_group(targets: Targets, candidates: pl.DataFrame, tests: pl.DataFrame) -> pl.DataFrame:
    """Per (school, group): the targets' counts with ``consented`` (candidates), ``selected``
    and ``shortfall`` (target - selected)."""
    available = candidates.group_by("school_id", "group").len("consented")
    picked = tests.group_by("school_id", "group").len("selected")
    return (
        targets.counts.join(available, on=["school_id", "group"], how="left")
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
