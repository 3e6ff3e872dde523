"""Staff vaccination: compute (and, when asked, record) the schedule of first and second
doses by the policy's priorities, with the projection by phase-in group.

A schedule names people (pseudonymous) and their dose dates: ``vaccination:plan`` (district
operations and HR, district scope), each computation logged as a write with the rows returned.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, NO_CONTROL
from schoolmode.api.security import Requires, context
from schoolmode.api.uploads import Limit, Offset, Page, page
from schoolmode.app import vaccination as uc
from schoolmode.app.context import Context

router = APIRouter(tags=["staff"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_CONTROL)]


class SiteIn(BaseModel):
    site_id: Name
    daily_capacity: int = Field(ge=0, le=100_000, description="Appointments a day")


class ScheduleIn(BaseModel):
    start: dt.date
    weeks: int = Field(default=12, ge=1, le=104)
    policy_id: str | None = Field(default=None, max_length=100, pattern=NO_CONTROL)
    sites: list[SiteIn] = Field(default=[], max_length=1000, description="None: no site limit")
    open_days: int = Field(default=5, ge=1, le=7, description="Sites open Monday to this many")
    hardest_hit_zips: list[Annotated[str, Field(pattern=r"^\d{5}$")]] = Field(
        default=[], max_length=100
    )
    roster_date: dt.date | None = Field(default=None, description="Default: start")
    city_supply_increase_pct: Decimal = Field(default=Decimal(0), ge=0, le=1000)
    settings: dict[Name, Annotated[str, Field(max_length=200, pattern=NO_CONTROL)]] = Field(
        default={}, max_length=100, description="Interpretation or parameter settings"
    )
    record: bool = Field(default=False, description="Store the schedule and its appointments")


class ScheduleOut(BaseModel):
    """The schedule's figures; ``appointments``: one page of them (``limit``, ``offset``)."""

    policy_id: str
    start: dt.date
    weeks: int
    staff: int
    sites: int | None
    run_id: int | None
    rules: dict[str, Any]
    weekly: list[dict[str, Any]]
    projection: list[dict[str, Any]]
    appointments: Page[dict[str, Any]]


@router.post(
    "/vaccination/schedules",
    summary="Compute (and optionally record) the staff vaccination schedule",
)
def schedule(
    body: ScheduleIn,
    who: Annotated[Principal, Depends(Requires(Permission.vaccination_plan, personal=True))],
    ctx: Ctx,
    request: Request,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ScheduleOut:
    req = uc.ScheduleRequest(
        **body.model_dump(exclude={"sites"}),
        sites=tuple(uc.Site(**s.model_dump()) for s in body.sites),
        by=who.name,
    )
    done = uc.schedule(ctx, req)
    return ScheduleOut(
        policy_id=done.policy_id,
        start=done.start,
        weeks=done.weeks,
        staff=done.staff,
        sites=done.sites,
        run_id=done.run_id,
        rules=dataclasses.asdict(done.rules),
        weekly=done.weekly.to_dicts(),
        projection=done.projection.to_dicts(),
        appointments=page(request, done.appointments.to_dicts(), limit, offset),
    )
