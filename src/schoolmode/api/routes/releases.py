"""Public releases: the list of what was released to the public (anyone may read it: it is
the public's own record of what it was shown and when), and making a release of a range of
days (``app/releases.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, ProblemError
from schoolmode.api.security import Requires, context
from schoolmode.app import releases as uc
from schoolmode.app.context import Context

router = APIRouter(prefix="/releases", tags=["releases"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Rows skipped")]
From = Annotated[dt.date | None, Query(alias="from", description="First day (YYYY-MM-DD)")]
To = Annotated[dt.date | None, Query(alias="to", description="Last day (YYYY-MM-DD)")]
MAX_DAYS = 31
"""The most days one request releases (a longer range is for ``schoolmode publish``)."""


class ReleasesPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[uc.StoredRelease]


@router.get("", summary="The public releases: each period's latest, when and by whom")
def releases(
    _: Annotated[Principal, Depends(Requires(Permission.decisions_read))],
    ctx: Ctx,
    request: Request,
    kind: Annotated[
        Literal["day", "week", "citywide", "zip"] | None, Query(description="Only this kind")
    ] = None,
    start: From = None,
    end: To = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ReleasesPage:
    if start and end and start > end:
        raise ProblemError(422, "Invalid request", f"query.from: {start} is after query.to {end}")
    every = [
        r
        for r in uc.latest_releases(ctx.engine, [kind] if kind else uc.KINDS)
        if (start is None or r.period_end >= start) and (end is None or r.period_start <= end)
    ]
    page = every[offset : offset + limit]
    request.state.rows = len(page)
    return ReleasesPage(total=len(every), limit=limit, offset=offset, items=page)


class PublishIn(BaseModel):
    first: dt.date
    last: dt.date


@router.post("", status_code=201, summary="Release a range of days to the public (at most 31)")
def publish(
    body: PublishIn,
    who: Annotated[Principal, Depends(Requires(Permission.decisions_run))],
    ctx: Ctx,
) -> list[uc.Released]:
    if body.first > body.last:
        raise ProblemError(422, "Invalid request", f"body.first: {body.first} is after body.last")
    if (body.last - body.first).days >= MAX_DAYS:
        raise ProblemError(
            422,
            "Invalid request",
            f"body.last: at most {MAX_DAYS} days a request (use `schoolmode publish` for more)",
        )
    req = uc.PublishRequest(first=body.first, last=body.last, created_by=who.name)
    return uc.publish(ctx, req).releases
