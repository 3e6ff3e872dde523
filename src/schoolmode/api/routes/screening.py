"""Pooled screening: plan a week, store a lab results file against a plan, the exceptions
queue and its resolution, and a week's test positivity.

Planning and storing results are district operations' (``screening:write``); positivity is
counts only (``screening:read``); the exceptions queue and the retest queue name people
(``screening:records``, logged). Screening runs district-wide: these need the district scope.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from pydantic import BaseModel, Field

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, NO_CONTROL, PLAIN, problem_responses
from schoolmode.api.security import Requires, context
from schoolmode.api.uploads import Limit, Offset, Page, page, saved
from schoolmode.app import screening as uc
from schoolmode.app.context import Context

router = APIRouter(tags=["screening"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
Rule = Annotated[uc.Rule, Query(description="Positivity by test or by person")]


class PlanIn(BaseModel):
    week: dt.date = Field(description="Any day of the week to plan")
    policy_id: str | None = Field(default=None, max_length=100, pattern=NO_CONTROL)
    seed: int = Field(default=0, ge=0, le=2**62, description="The recorded selection seed")
    priority_schools: list[str] | None = Field(
        default=None, max_length=1000, description="For staff_priority_schools=listed"
    )


class PlanOut(BaseModel):
    """The stored plan: its policy, week, seed and parameters, the tests and pools, the
    per-school table and the schools short of a target for lack of consent."""

    plan_id: int
    policy_id: str
    week: dt.date
    label: str
    seed: int
    settings: dict[str, Any]
    tests: int
    pools: int
    totals: dict[str, int]
    shortfall_schools: int
    top_zips: list[dict[str, Any]]
    schools: list[dict[str, Any]]


@router.post("/screening/plans", status_code=201, summary="Plan a screening week and store it")
def plan(
    body: PlanIn,
    who: Annotated[Principal, Depends(Requires(Permission.screening_write))],
    ctx: Ctx,
) -> PlanOut:
    made = uc.plan(ctx, uc.PlanRequest(**body.model_dump(), by=who.name))
    return PlanOut(
        **made.model_dump(exclude={"top_zips", "schools"}),
        top_zips=made.top_zips.to_dicts(),
        schools=made.schools.to_dicts(),
    )


@router.post(
    "/screening/results",
    status_code=201,
    responses=problem_responses(413),
    summary="Store a lab results file against a plan; deconvolve the plan's results",
)
def results(
    who: Annotated[Principal, Depends(Requires(Permission.screening_write, personal=True))],
    ctx: Ctx,
    request: Request,
    file: Annotated[UploadFile, File(description="Pool and retest results (CSV)")],
    today: Annotated[dt.date, Form(description="Specimens after this day go to the queue")],
    plan_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    rule: Annotated[uc.Rule, Form()] = "by_test",
) -> uc.StoredResultsResult:
    with saved(file, "results.csv") as path:
        req = uc.StoredResultsRequest(
            path=path, today=today, plan_id=plan_id, rule=rule, by=who.name
        )
        done = uc.stored_results(ctx, req)
    request.state.rows = len(done.outcome.retests) + len(done.exceptions)
    return done


@router.get("/screening/exceptions", summary="The screening exceptions queue, oldest first")
def exceptions(
    _: Annotated[Principal, Depends(Requires(Permission.screening_records, personal=True))],
    ctx: Ctx,
    request: Request,
    plan_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    show_all: Annotated[bool, Query(alias="all", description="Resolved ones too")] = False,
    first: Annotated[
        dt.date | None, Query(alias="from", description="Recorded from this day (UTC)")
    ] = None,
    last: Annotated[
        dt.date | None, Query(alias="to", description="Recorded up to this day (UTC)")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[dict[str, Any]]:
    req = uc.ExceptionsRequest(plan_id=plan_id, show_all=show_all, first=first, last=last)
    rows = uc.exceptions(ctx, req).rows
    return page(request, rows.to_dicts(), limit, offset)


class ResolveIn(BaseModel):
    note: str = Field(min_length=1, max_length=4000, pattern=PLAIN, description="What was done")


class Resolved(BaseModel):
    exception_id: int
    status: str = "resolved"


@router.post(
    "/screening/exceptions/{exception_id}/resolution",
    status_code=201,
    summary="Resolve an open screening exception, saying what was done",
)
def resolve(
    exception_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: ResolveIn,
    who: Annotated[Principal, Depends(Requires(Permission.screening_write))],
    ctx: Ctx,
) -> Resolved:
    uc.resolve(ctx, uc.ResolveRequest(exception_id=exception_id, note=body.note, by=who.name))
    return Resolved(exception_id=exception_id)


class PositivityOut(BaseModel):
    monday: dt.date
    tests: int
    rates: list[dict[str, Any]]
    """``kind``, ``rule``, ``positive``, ``denominator``, ``positivity``, exclusions."""
    plans: list[dict[str, Any]]


@router.get("/screening/positivity", summary="A week's test positivity (counts, no person)")
def week_positivity(
    _: Annotated[Principal, Depends(Requires(Permission.screening_read))],
    ctx: Ctx,
    week: Annotated[dt.date, Query(description="Any day of the week")],
) -> PositivityOut:
    found = uc.week_positivity(ctx, uc.PositivityRequest(week=week))
    return PositivityOut(
        monday=found.monday, tests=found.tests, rates=found.rates.to_dicts(), plans=found.plans
    )
