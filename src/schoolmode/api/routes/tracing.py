"""Contact tracing: trace a case (its close contacts and orders, recorded), the quarantine and
isolation orders in force at a school, the outbreaks the stored cases meet and the health
department's decision on one.

Person-level reads and the trace are the health department's (``cases:*``, each access
logged with its rows); the outbreak list carries classroom counts only (``outbreaks:read``),
filtered to the caller's scope.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, NO_CONTROL, PLAIN, ProblemError
from schoolmode.api.security import Requires, context, in_scope
from schoolmode.api.uploads import Limit, Offset, Page, page
from schoolmode.app import tracing as uc
from schoolmode.app import tracing_indicators as indicators_uc
from schoolmode.app.context import Context

router = APIRouter(tags=["tracing"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
Id = Annotated[str, Path(min_length=1, max_length=100, pattern=NO_CONTROL)]
From = Annotated[dt.date | None, Query(alias="from", description="First day (YYYY-MM-DD)")]
To = Annotated[dt.date | None, Query(alias="to", description="Last day (YYYY-MM-DD)")]
MAX_INDICATOR_DAYS = 366


class TraceIn(BaseModel):
    store: bool = Field(default=True, description="Record the contacts and orders (idempotent)")
    district_rule: bool = Field(
        default=True, description="Quarantine by CPS's own rule where it has one"
    )


@router.post(
    "/tracing/cases/{case_id}",
    summary="Trace a stored case: its close contacts and quarantine orders, recorded",
)
def trace(
    case_id: Id,
    body: TraceIn,
    _: Annotated[Principal, Depends(Requires(Permission.cases_write, personal=True))],
    ctx: Ctx,
    request: Request,
) -> uc.TraceResult:
    result = uc.trace(ctx, uc.TraceRequest(case_id=case_id, **body.model_dump()))
    request.state.rows = len(result.contacts) + len(result.orders)
    return result


@router.get(
    "/quarantine",
    summary="Quarantine and isolation orders in force at a school on a day",
)
def quarantine(
    who: Annotated[Principal, Depends(Requires(Permission.cases_read, personal=True))],
    ctx: Ctx,
    request: Request,
    school: Annotated[str, Query(min_length=1, max_length=100, pattern=NO_CONTROL)],
    date: Annotated[dt.date, Query(description="The day (YYYY-MM-DD)")],
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[uc.Order]:
    in_scope(who, school)
    orders = uc.quarantine_list(ctx, uc.QuarantineListRequest(school_id=school, day=date)).orders
    return page(request, orders, limit, offset)


@router.get(
    "/outbreaks",
    summary="Classrooms and days meeting the outbreak definition, with the health "
    "department's decision",
)
def outbreaks(
    who: Annotated[Principal, Depends(Requires(Permission.outbreaks_read))],
    ctx: Ctx,
    request: Request,
    first: From = None,
    last: To = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[uc.Outbreak]:
    found = uc.outbreaks_in_scope(ctx, who, first, last)
    return page(request, found, limit, offset)


@router.get(
    "/tracing/indicators",
    summary="Contact-tracing indicators by week: cases traced, contacts per case, what "
    "contacts were told",
)
def tracing_indicators(
    who: Annotated[Principal, Depends(Requires(Permission.outbreaks_read))],
    ctx: Ctx,
    request: Request,
    first: Annotated[dt.date, Query(alias="from", description="First day (YYYY-MM-DD)")],
    last: Annotated[dt.date, Query(alias="to", description="Last day (YYYY-MM-DD)")],
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[indicators_uc.WeekIndicators]:
    if last < first or (last - first).days > MAX_INDICATOR_DAYS:
        raise ProblemError(
            422,
            "Invalid date range",
            f"'to' must be on or after 'from' and at most {MAX_INDICATOR_DAYS} days later",
        )
    found = indicators_uc.tracing_indicators(ctx, who, first, last)
    return page(request, found, limit, offset)


class ConfirmIn(BaseModel):
    classroom_id: str = Field(min_length=1, max_length=100, pattern=NO_CONTROL)
    detected_on: dt.date = Field(description="Day the outbreak was detected")
    confirmed: bool = Field(description="The health department's answer")
    decided_by: str = Field(
        min_length=1,
        max_length=200,
        pattern=NO_CONTROL,
        description="The local health department that decided",
    )
    decided_on: dt.date | None = Field(default=None, description="Default: detected_on")
    note: str = Field(
        min_length=1, max_length=4000, pattern=PLAIN, description="Reference or reason"
    )


@router.post(
    "/outbreaks/confirmations",
    status_code=201,
    summary="Record the health department's decision on a detected outbreak",
)
def confirm(
    body: ConfirmIn,
    _: Annotated[Principal, Depends(Requires(Permission.outbreaks_confirm))],
    ctx: Ctx,
) -> uc.ConfirmOutbreakResult:
    return uc.confirm_outbreak(ctx, uc.ConfirmOutbreakRequest(**body.model_dump()))
