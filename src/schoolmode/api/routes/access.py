"""The access log (auditors)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON
from schoolmode.api.security import Requires, context
from schoolmode.app import access as uc
from schoolmode.app.context import Context

router = APIRouter(tags=["access"], responses=COMMON)


@router.get("/access-log", summary="Every read of personal data and every write, latest first")
def access_log(
    _: Annotated[Principal, Depends(Requires(Permission.access_log_read))],
    ctx: Annotated[Context, Depends(context)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> uc.AccessLogPage:
    return uc.access_log(ctx, limit, offset)
