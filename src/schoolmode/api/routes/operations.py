"""Operations: staff accommodation decisions (HR, with the medical basis) and the store's
imports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON
from schoolmode.api.security import Requires, context
from schoolmode.app import accommodations, data
from schoolmode.app.context import Context

router = APIRouter(tags=["operations"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]


class AccommodationsPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


@router.get(
    "/accommodations",
    summary="The current decision on every staff accommodation request, with its basis",
)
def accommodation_decisions(
    _: Annotated[Principal, Depends(Requires(Permission.accommodations_read, personal=True))],
    ctx: Ctx,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> AccommodationsPage:
    rows = accommodations.show(ctx, accommodations.ShowRequest(role="district-hr")).rows
    page = rows.slice(offset, limit)
    request.state.rows = page.height
    return AccommodationsPage(total=rows.height, limit=limit, offset=offset, items=page.to_dicts())


@router.get("/imports", summary="Rows per record type and the last import of each source")
def imports(
    _: Annotated[Principal, Depends(Requires(Permission.imports_read))], ctx: Ctx
) -> data.StoreStatus:
    return data.store_status(ctx)
