"""Use cases of pooled screening: plan a week (store, policy in force, seed), read pool and
retest results (against a stored plan, or files only), the exceptions queue, and a week's
test positivity.

They compose the pure screening rooms (``operations/screening*.py``, ``operations/pooling.py``)
with their store (``operations/screening_store.py``). Commands on the screening tables need
the store at the latest schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, SkipValidation
from sqlalchemy import Engine

from schoolmode.app.context import Context
from schoolmode.operations.pooling import Deconvolution, deconvolve, positivity
from schoolmode.operations.screening import ScreeningError, screening_policy, week_monday
from schoolmode.operations.screening_plan import make_plan
from schoolmode.operations.screening_results import positivity_of_tests, read_file_results
from schoolmode.operations.screening_store import (
    ingest_results,
    list_exceptions,
    plan_id_for,
    plan_inputs,
    plan_outcome,
    resolve_exception,
    save_plan,
    week_tests,
)
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.values import Value
from schoolmode.store.migrate import current_revision, head_revision

Rule = Literal["by_test", "by_person"]


def _migrated(ctx: Context) -> Engine:
    """The store, refused unless it is at the latest schema."""
    engine = ctx.engine
    if current_revision(engine) != head_revision():
        raise SchoolmodeError(
            "the database is not at the latest schema: run `schoolmode db upgrade`"
        )
    return engine


# --------------------------------------------------------------------------------- plan


class PlanRequest(BaseModel):
    """Plan the week of ``week`` (any day of it) under ``policy_id`` (default: the screening
    agreement in force) with the recorded ``seed``; ``settings`` override parameters and
    readings; ``priority_schools`` for ``staff_priority_schools=listed``; ``by``: who plans."""

    model_config = ConfigDict(frozen=True)

    week: dt.date
    policy_id: str | None = None
    seed: int = 0
    settings: SkipValidation[dict[str, Value]] = {}
    priority_schools: list[str] | None = None
    by: str | None = None


class PlanResult(BaseModel):
    """The stored plan's figures: the policy, week and seed, the parameters used, the top ZIP
    codes, the per-school table, the number of tests and pools, the totals of the per-school
    counts, and how many schools fall short of a target for lack of consent."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    plan_id: int
    policy_id: str
    week: dt.date
    label: str
    seed: int
    settings: dict[str, Any]
    top_zips: pl.DataFrame
    schools: pl.DataFrame
    tests: int
    pools: int
    totals: dict[str, int]
    """Sum of each integer column of ``schools``, in its column order."""
    shortfall_schools: int


def plan(ctx: Context, req: PlanRequest, step: Callable[[str], None] | None = None) -> PlanResult:
    """Plan the week, store the plan. ``step`` is told when each step starts (``reading the
    store``, ``selecting and pooling``, ``storing``), once the policy and the store are checked."""
    monday = week_monday(req.week)
    chosen = screening_policy(ctx.registry, monday, req.policy_id)
    engine = _migrated(ctx)
    if step is not None:
        step("reading the store")
    frames = plan_inputs(engine)
    if step is not None:
        step("selecting and pooling")
    made = make_plan(frames, chosen, monday, req.seed, req.settings, req.priority_schools)
    if step is not None:
        step("storing")
    plan_id = save_plan(engine, made, req.by)
    schools = made.schools
    return PlanResult(
        plan_id=plan_id,
        policy_id=made.policy_id,
        week=made.week,
        label=made.label,
        seed=made.seed,
        settings=made.settings,
        top_zips=made.top_zips,
        schools=schools,
        tests=made.tests.height,
        pools=made.tests["pool_id"].n_unique(),
        totals={c: int(schools[c].sum()) for c in schools.columns if schools[c].dtype == pl.Int64},
        shortfall_schools=made.shortfalls().height,
    )


# ------------------------------------------------------------------------------ results


class Retest(BaseModel):
    model_config = ConfigDict(frozen=True)

    person_id: str
    pool_id: str | None
    reason: str | None


class Outcome(BaseModel):
    """Deconvolution counts (persons, pools, results by kind), the positivity by the chosen
    rule (``positive``, ``denominator``, ``positivity``, ``excluded_invalid``,
    ``excluded_inconclusive``) and the retest queue."""

    model_config = ConfigDict(frozen=True)

    counts: dict[str, int]
    positivity: dict[str, Any]
    retests: list[Retest]


def _outcome(outcome: Deconvolution, rate: dict[str, Any]) -> Outcome:
    return Outcome(
        counts=outcome.counts,
        positivity=rate,
        retests=[
            Retest(person_id=p, pool_id=pool, reason=reason)
            for p, pool, reason in outcome.retest_queue.iter_rows()
        ],
    )


class FileResultsRequest(BaseModel):
    """Deconvolve files only (nothing stored): pool results, pool assignments (person_id,
    pool_id), optional individual retests; specimens after ``today`` are rejected."""

    model_config = ConfigDict(frozen=True)

    results: Path
    assignments: Path
    retests: Path | None = None
    today: dt.date | None = None
    rule: Rule = "by_test"


def file_results(ctx: Context, req: FileResultsRequest) -> Outcome:
    """Negatives, positives, the retest queue and positivity of result files."""
    try:
        pools = read_file_results(req.results, ("pool_id", "result"))
        members = pl.read_csv(req.assignments, infer_schema=False).select("person_id", "pool_id")
        singles = read_file_results(req.retests, ("person_id", "result")) if req.retests else None
        outcome = deconvolve(members, pools, singles, req.today)
        rate = positivity(pools, singles, outcome, req.rule)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ScreeningError(str(exc)) from exc
    return _outcome(outcome, rate)


class StoredResultsRequest(BaseModel):
    """Store a results file against plan ``plan_id`` (default: the latest plan); specimens
    after ``today`` go to the exceptions queue; ``by``: who records."""

    model_config = ConfigDict(frozen=True)

    path: Path
    today: dt.date
    plan_id: int | None = None
    rule: Rule = "by_test"
    by: str | None = None


class ResultsException(BaseModel):
    """A file row sent to the exceptions queue."""

    model_config = ConfigDict(frozen=True)

    file_row: int | None
    field: str
    value: str | None
    kind: str
    detail: str | None


class StoredResultsResult(BaseModel):
    """The file's row counts (``rows``, ``stored``, ``unchanged``, ``exceptions``, per kind),
    its exceptions, the plan's policy and week, the plan's outcome over every stored result,
    and the plan's open exceptions."""

    model_config = ConfigDict(frozen=True)

    plan_id: int
    policy_id: str
    week: dt.date
    counts: dict[str, int]
    exceptions: list[ResultsException]
    outcome: Outcome
    open_exceptions: int


def stored_results(ctx: Context, req: StoredResultsRequest) -> StoredResultsResult:
    """Check and store the file's results; deconvolve every stored result of the plan."""
    engine = _migrated(ctx)
    plan_id = plan_id_for(engine, req.plan_id)
    checked = ingest_results(engine, plan_id, req.path, req.today, req.by)
    done = plan_outcome(engine, plan_id)
    return StoredResultsResult(
        plan_id=plan_id,
        policy_id=done.plan.policy_id,
        week=done.plan.week,
        counts=checked.counts(),
        exceptions=[
            ResultsException(
                file_row=r["file_row"],
                field=r["field"],
                value=r["value"],
                kind=r["kind"],
                detail=r["detail"],
            )
            for r in checked.exceptions.iter_rows(named=True)
        ],
        outcome=_outcome(done.outcome, done.positivity[req.rule]),
        open_exceptions=done.open_exceptions,
    )


# --------------------------------------------------------------------------- exceptions


class ExceptionsRequest(BaseModel):
    """The exceptions queue: open ones only unless ``show_all``; of one plan if given."""

    model_config = ConfigDict(frozen=True)

    plan_id: int | None = None
    show_all: bool = False
    first: dt.date | None = None
    """Recorded from this day (UTC)."""
    last: dt.date | None = None
    """Recorded up to this day (UTC), included."""


class ExceptionsResult(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    rows: pl.DataFrame
    """``id``, ``plan_id``, ``kind``, ``status``, ``file_name``, ``file_row``, ``field``,
    ``value``, ``detail``, ``resolution``, ``resolved_by`` ... (oldest first)."""


def exceptions(ctx: Context, req: ExceptionsRequest) -> ExceptionsResult:
    """List the screening exceptions queue."""
    engine = _migrated(ctx)
    return ExceptionsResult(
        rows=list_exceptions(
            engine, None if req.show_all else "open", req.plan_id, req.first, req.last
        )
    )


class ResolveRequest(BaseModel):
    """Resolve exception ``exception_id`` with a ``note`` saying what was done."""

    model_config = ConfigDict(frozen=True)

    exception_id: int
    note: str
    by: str | None = None


def resolve(ctx: Context, req: ResolveRequest) -> None:
    """Mark an open exception resolved (once; the row is kept)."""
    resolve_exception(_migrated(ctx), req.exception_id, req.note, req.by)


# --------------------------------------------------------------------------- positivity


class PositivityRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    week: dt.date
    """Any day of the week."""


class PositivityResult(BaseModel):
    """The week's stored tests and their positivity (screening and diagnostic apart, by test
    and by person); the week's latest plan's positivity from its lab results (empty: no plan)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    monday: dt.date
    tests: int
    rates: pl.DataFrame
    """``kind``, ``rule``, ``positive``, ``denominator``, ``positivity``, ``excluded_invalid``,
    ``excluded_inconclusive``."""
    plans: list[dict[str, Any]]
    """``plan_id`` and the plan's positivity, by test then by person."""


def _plan_rates(engine: Engine, monday: dt.date) -> list[dict[str, Any]]:
    """Positivity of the week's latest stored plan from its lab results (none: empty)."""
    try:
        plan_id = plan_id_for(engine, None, monday)
    except ScreeningError:
        return []
    done = plan_outcome(engine, plan_id)
    return [{"plan_id": plan_id, **done.positivity[r]} for r in ("by_test", "by_person")]


def week_positivity(ctx: Context, req: PositivityRequest) -> PositivityResult:
    """Test positivity of a week from the stored tests (specimens collected Monday to Sunday),
    and of the week's latest screening plan."""
    monday = week_monday(req.week)
    engine = _migrated(ctx)
    tests = week_tests(engine, monday)
    plans = _plan_rates(engine, monday)
    return PositivityResult(
        monday=monday, tests=tests.height, rates=positivity_of_tests(tests), plans=plans
    )
