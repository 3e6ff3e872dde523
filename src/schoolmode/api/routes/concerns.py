"""The union safety committee's concerns: filed by the committee about a school in its scope
(or the district), answered by district operations, followed up by the committee; each list
and concern filtered to the caller's scope. Append-only: every answer is one more event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, NO_CONTROL, PLAIN, ProblemError
from schoolmode.api.security import Requires, context
from schoolmode.api.uploads import Limit, Offset, Page, page
from schoolmode.app import concerns as uc
from schoolmode.app.context import Context

router = APIRouter(tags=["concerns"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
ConcernId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The concern's id")]


class ConcernIn(BaseModel):
    school_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=NO_CONTROL,
        description="The school concerned; none: the district as a whole (district scope only)",
    )
    subject: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL)
    body: str = Field(min_length=1, max_length=8000, pattern=PLAIN)


class StepIn(BaseModel):
    step: uc.Step
    note: str = Field(min_length=1, max_length=4000, pattern=PLAIN)


@router.get("/concerns", summary="The union safety committee's concerns in your scope")
def concerns(
    who: Annotated[Principal, Depends(Requires(Permission.concerns_read))],
    ctx: Ctx,
    request: Request,
    status: Annotated[uc.Status | None, Query(description="Only those with this status")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[uc.Concern]:
    return page(request, uc.concerns_in_scope(ctx, who, status), limit, offset)


@router.get("/concerns/{concern_id}", summary="One concern with its answers and follow-ups")
def one_concern(
    concern_id: ConcernId,
    who: Annotated[Principal, Depends(Requires(Permission.concerns_read))],
    ctx: Ctx,
) -> uc.Concern:
    try:
        return uc.get_concern(ctx, who, concern_id)
    except uc.UnknownConcern as exc:
        raise ProblemError(404, "No such concern", str(exc)) from None


@router.post("/concerns", status_code=201, summary="File a concern")
def file_concern(
    body: ConcernIn,
    who: Annotated[Principal, Depends(Requires(Permission.concerns_write))],
    ctx: Ctx,
) -> uc.Concern:
    return uc.file_concern(ctx, who, uc.FileConcernRequest(**body.model_dump()))


@router.post(
    "/concerns/{concern_id}/answers",
    status_code=201,
    summary="Answer a concern: acknowledged, answered, closed, or a comment",
)
def answer(
    concern_id: ConcernId,
    body: StepIn,
    who: Annotated[Principal, Depends(Requires(Permission.concerns_answer))],
    ctx: Ctx,
) -> uc.Concern:
    req = uc.StepRequest(concern_id=concern_id, **body.model_dump())
    return _step(ctx, who, req, uc.ANSWERS)


@router.post(
    "/concerns/{concern_id}/follow-ups",
    status_code=201,
    summary="Follow a concern up: a comment, reopened, or closed",
)
def follow_up(
    concern_id: ConcernId,
    body: StepIn,
    who: Annotated[Principal, Depends(Requires(Permission.concerns_write))],
    ctx: Ctx,
) -> uc.Concern:
    req = uc.StepRequest(concern_id=concern_id, **body.model_dump())
    return _step(ctx, who, req, uc.FOLLOW_UPS)


def _step(
    ctx: Context, who: Principal, req: uc.StepRequest, allowed: frozenset[uc.Step]
) -> uc.Concern:
    try:
        return uc.add_step(ctx, who, req, allowed)
    except uc.UnknownConcern as exc:
        raise ProblemError(404, "No such concern", str(exc)) from None
