"""Staff accommodation requests (HR, with the medical basis): import the requests, the pool and
its places (never a draw), commit the lottery seed, the review that reveals it, appeals and
their outcomes, the history of a request, and every lottery checked against its commitment.

Every read of a request or a decision is personal data (logged with its rows); every write is
HR's (``accommodations:write``, district scope) and logged. The store's import status stays
here; the import routes are ``imports.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from pydantic import BaseModel, Field

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, NO_CONTROL, PLAIN, problem_responses
from schoolmode.api.security import Requires, context
from schoolmode.api.uploads import Limit, Offset, Page, page, refused_file, saved
from schoolmode.app import accommodations as uc
from schoolmode.app import data
from schoolmode.app.context import Context

router = APIRouter(tags=["operations"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
PolicyId = Annotated[str | None, Field(default=None, max_length=100, pattern=NO_CONTROL)]
HR = "district-hr"


@router.get(
    "/accommodations",
    summary="The current decision on every staff accommodation request, with its basis",
)
def accommodation_decisions(
    _: Annotated[Principal, Depends(Requires(Permission.accommodations_read, personal=True))],
    ctx: Ctx,
    request: Request,
    first: Annotated[
        dt.date | None, Query(alias="from", description="Decided from this day")
    ] = None,
    last: Annotated[dt.date | None, Query(alias="to", description="Decided up to this day")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[dict[str, Any]]:
    rows = uc.show(ctx, uc.ShowRequest(role=HR)).rows
    if first is not None:
        rows = rows.filter(pl.col("decided_on") >= first)
    if last is not None:
        rows = rows.filter(pl.col("decided_on") <= last)
    return page(request, rows.to_dicts(), limit, offset)


@router.post(
    "/accommodations/requests",
    status_code=201,
    responses=problem_responses(413),
    summary="Upload the accommodation requests file (it replaces the stored list)",
)
def import_requests(
    who: Annotated[Principal, Depends(Requires(Permission.accommodations_write))],
    ctx: Ctx,
    file: Annotated[
        UploadFile,
        File(description="CSV: request_id, person_id, basis, requested_date, status"),
    ],
    allow_removals: Annotated[
        bool, Form(description="The file may drop stored requests it lacks")
    ] = False,
) -> uc.ImportSummary:
    with saved(file, "accommodation-requests.csv") as path:
        req = uc.ImportRequest(path=path, by=who.name, allow_removals=allow_removals)
        try:
            return uc.import_requests(ctx, req)
        except uc.RequestsNotImported as exc:
            raise refused_file(path, str(exc), exc.problems) from None


@router.get(
    "/accommodations/pool",
    summary="The pending requests a review would decide, and each kind's places: no draw",
)
def pool(
    _: Annotated[Principal, Depends(Requires(Permission.accommodations_read))],
    ctx: Ctx,
    date: Annotated[dt.date, Query(description="Day of the review (policy in force)")],
    policy_id: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL)] = None,
) -> uc.Preview:
    return uc.preview(ctx, uc.CommitRequest(on=date, policy_id=policy_id))


class CommitIn(BaseModel):
    date: dt.date = Field(description="Day of the review")
    policy_id: PolicyId
    seed: int | None = Field(
        default=None, ge=0, le=2**63 - 1, description="Drawn in the open; none: drawn here"
    )


@router.post(
    "/accommodations/commitments",
    status_code=201,
    summary="Commit the lottery seed before anything is ranked (seed and nonce shown once)",
)
def commit(
    body: CommitIn,
    who: Annotated[Principal, Depends(Requires(Permission.accommodations_write))],
    ctx: Ctx,
) -> uc.CommitResult:
    return uc.commit(
        ctx, uc.CommitRequest(on=body.date, policy_id=body.policy_id, seed=body.seed, by=who.name)
    )


class ReviewIn(BaseModel):
    date: dt.date = Field(description="Day of the review: its commitment's day")
    seed: int = Field(ge=0, le=2**63 - 1, description="The committed seed")
    nonce: str = Field(pattern="^[0-9a-f]{32}$", description="The commitment's nonce")


class ReviewOut(BaseModel):
    review_id: int
    commitment_id: int
    policy_id: str
    on: dt.date
    seed: int
    decided: int
    left_pending: int
    pools: list[dict[str, Any]]
    decisions: list[dict[str, Any]]


@router.post(
    "/accommodations/reviews",
    status_code=201,
    summary="Reveal the day's commitment and decide every pending request",
)
def review(
    body: ReviewIn,
    who: Annotated[Principal, Depends(Requires(Permission.accommodations_write, personal=True))],
    ctx: Ctx,
    request: Request,
) -> ReviewOut:
    req = uc.ReviewRequest(on=body.date, seed=body.seed, nonce=body.nonce, by=who.name)
    done = uc.review(ctx, req)
    request.state.rows = done.rows.height
    return ReviewOut(**done.model_dump(exclude={"rows", "role"}), decisions=done.rows.to_dicts())


@router.get(
    "/accommodations/lotteries",
    summary="Every lottery checked against its commitment",
)
def lotteries(
    _: Annotated[Principal, Depends(Requires(Permission.audit_read))], ctx: Ctx
) -> uc.LotteryAudit:
    return uc.verify_lotteries(ctx)


class AppealIn(BaseModel):
    grounds: str = Field(min_length=1, max_length=4000, pattern=PLAIN)
    filed_on: dt.date


@router.post(
    "/accommodations/decisions/{decision_id}/appeals",
    status_code=201,
    summary="File an appeal against a decision (the decision stays)",
)
def appeal(
    decision_id: Id,
    body: AppealIn,
    who: Annotated[Principal, Depends(Requires(Permission.accommodations_write))],
    ctx: Ctx,
) -> uc.AppealFiled:
    req = uc.AppealRequest(decision_id=decision_id, **body.model_dump(), by=who.name)
    return uc.appeal(ctx, req)


class OutcomeIn(BaseModel):
    outcome: Literal["granted", "denied"]
    reason: str = Field(min_length=1, max_length=4000, pattern=PLAIN)
    on: dt.date


@router.post(
    "/accommodations/appeals/{appeal_id}/outcome",
    status_code=201,
    summary="Record an appeal's outcome: a new decision superseding the one appealed",
)
def appeal_outcome(
    appeal_id: Id,
    body: OutcomeIn,
    who: Annotated[Principal, Depends(Requires(Permission.accommodations_write))],
    ctx: Ctx,
) -> uc.AppealDecided:
    req = uc.AppealOutcomeRequest(appeal_id=appeal_id, **body.model_dump(), by=who.name)
    return uc.appeal_outcome(ctx, req)


@router.get(
    "/accommodations/requests/{request_id}/history",
    summary="Every decision and appeal on one request, oldest first",
)
def history(
    request_id: Annotated[str, Path(min_length=1, max_length=100, pattern=NO_CONTROL)],
    _: Annotated[Principal, Depends(Requires(Permission.accommodations_read, personal=True))],
    ctx: Ctx,
    request: Request,
) -> list[uc.HistoryEvent]:
    events = uc.history(ctx, uc.HistoryRequest(request_id=request_id, role=HR))
    request.state.rows = len(events)
    return events


@router.get("/imports", summary="Rows per record type and the last import of each source")
def imports(
    _: Annotated[Principal, Depends(Requires(Permission.imports_read))], ctx: Ctx
) -> data.StoreStatus:
    return data.store_status(ctx)
