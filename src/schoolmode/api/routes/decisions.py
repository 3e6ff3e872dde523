"""Decisions by day, scope and unit; explanations; running a day; authorisations; audit runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.cache import Recent, ResponseCache
from schoolmode.api.problems import COMMON, NO_CONTROL, PLAIN, ProblemError
from schoolmode.api.security import Requires, context, in_scope
from schoolmode.app import decisions as uc
from schoolmode.app import explain_public as public
from schoolmode.app.context import Context
from schoolmode.i18n import negotiate

router = APIRouter(tags=["decisions"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
ScopeName = Literal["district", "school", "classroom"]
Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Rows skipped")]
Lang = Literal["en", "es"]
"""The languages of ``schoolmode.i18n.LANGUAGES`` (a test keeps the two the same)."""


@router.get(
    "/decisions",
    summary="Each unit's mode on a day, with the run and policy that decided",
    response_model=uc.DayDecisionsResult,
)
async def day_decisions(
    _: Annotated[Principal, Depends(Requires(Permission.decisions_read))],
    ctx: Ctx,
    request: Request,
    date: Annotated[dt.date, Query(description="The day (YYYY-MM-DD)")],
    scope: ScopeName | None = None,
    unit: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    # async, with the store reached only on a miss (in the thread pool): a page already made
    # is answered without leaving the event loop
    run_id = await _latest_run(request, ctx, date)
    if run_id is None:
        raise ProblemError(404, "No decision that day", f"no stored run decided {date}")
    req = uc.DayDecisionsRequest(
        day=date, scope=scope, unit=unit, limit=limit, offset=offset, run_id=run_id
    )

    def page() -> bytes:
        found = uc.day_decisions(ctx, req)
        assert found is not None  # the run decided the day, and runs are never deleted
        return found.model_dump_json().encode()

    return Response(await _cached(request, ("decisions", req), page), media_type="application/json")


@router.get(
    "/decisions/{scope}/{unit}/explanation",
    summary="Why a unit is in its mode on a day, with the figures that decided",
    response_model=uc.ExplainResult,
)
async def explanation(
    scope: ScopeName,
    unit: Annotated[str, Path(max_length=100, pattern=NO_CONTROL)],
    who: Annotated[Principal, Depends(Requires(Permission.decisions_inputs))],
    ctx: Ctx,
    request: Request,
    date: Annotated[dt.date, Query(description="The day (YYYY-MM-DD)")],
    lang: Annotated[
        Lang | None,
        Query(description="The language of the text (default: from Accept-Language, else en)"),
    ] = None,
    accept_language: Annotated[
        str | None,
        Header(max_length=1000, description="Preferred languages (RFC 9110), when lang is absent"),
    ] = None,
) -> Response:
    chosen = lang or negotiate(accept_language)
    school = (
        await run_in_threadpool(uc.school_of_unit, ctx, scope, unit)
        if scope == "classroom"
        else uc.school_of_unit(ctx, scope, unit)  # no store needed
    )
    in_scope(who, school)
    # kept per latest run of the day: a new run of the day makes a new key
    key = ("explanation", await _latest_run(request, ctx, date), scope, unit, date, chosen)

    def text() -> bytes:
        req = uc.ExplainRequest(scope=scope, unit=unit, day=date, lang=chosen)
        return uc.explain(ctx, req).model_dump_json().encode()

    headers = {"Content-Language": chosen, "Vary": "Accept-Language"}
    return Response(
        await _cached(request, key, text), media_type="application/json", headers=headers
    )


async def _cached(request: Request, key: Hashable, make: Callable[[], bytes]) -> bytes:
    """The response body kept under ``key``, else made by ``make`` in the thread pool (it reaches
    the store) and kept: a body already made is answered without leaving the event loop."""
    cache: ResponseCache = request.app.state.responses
    body = cache.peek(key)
    return body if body is not None else await run_in_threadpool(cache.get, key, make)


async def _latest_run(request: Request, ctx: Context, day: dt.date) -> int | None:
    """The latest run that decided ``day``, as known for the last second."""
    latest: Recent[int | None] = request.app.state.latest_runs
    kept = latest.peek(day)
    return kept[0] if kept else latest.put(day, await run_in_threadpool(uc.latest_run, ctx, day))


@router.get(
    "/decisions/{scope}/{unit}/public-explanation",
    summary="Why a unit is in its mode on a day, for anyone: thresholds met and by how much",
)
def public_explanation(
    scope: ScopeName,
    unit: Annotated[str, Path(max_length=100, pattern=NO_CONTROL)],
    _: Annotated[Principal, Depends(Requires(Permission.decisions_read))],
    ctx: Ctx,
    date: Annotated[dt.date, Query(description="The day (YYYY-MM-DD)")],
) -> public.PublicExplanation:
    return public.public_explanation(ctx, scope, unit, date)


class DecideIn(BaseModel):
    first: dt.date
    last: dt.date | None = None
    policy_id: str | None = Field(default=None, max_length=100, pattern=NO_CONTROL)


@router.post("/decisions", status_code=201, summary="Decide and store a day (or days) with audit")
def decide(
    body: DecideIn,
    who: Annotated[Principal, Depends(Requires(Permission.decisions_run))],
    ctx: Ctx,
    request: Request,
) -> uc.DecideResult:
    try:
        return uc.decide(ctx, uc.DecideRequest(**body.model_dump(), created_by=who.name))
    finally:
        latest: Recent[int | None] = request.app.state.latest_runs
        latest.forget()  # the latest run of these days may have changed


class AuthoriseIn(BaseModel):
    policy_id: str = Field(max_length=100, pattern=NO_CONTROL)
    rule: str = Field(max_length=100, pattern=NO_CONTROL)
    unit: str = Field(max_length=100, pattern=NO_CONTROL)
    day: dt.date
    by: str = Field(
        min_length=1, max_length=200, pattern=NO_CONTROL, description="The named body that decided"
    )
    reason: str = Field(min_length=1, max_length=4000, pattern=PLAIN)


@router.post("/authorisations", status_code=201, summary="Record a named body's decision")
def authorise(
    body: AuthoriseIn,
    who: Annotated[Principal, Depends(Requires(Permission.authorisations_write))],
    ctx: Ctx,
) -> uc.AuthoriseResult:
    in_scope(who, uc.rule_unit_school(ctx, body.policy_id, body.rule, body.unit))
    return uc.authorise(ctx, uc.AuthoriseRequest(**body.model_dump(), recorded_by=who.name))


@router.post(
    "/refusals", status_code=201, summary="Record a named body's refusal of an eligible change"
)
def refuse(
    body: AuthoriseIn,
    who: Annotated[Principal, Depends(Requires(Permission.authorisations_write))],
    ctx: Ctx,
) -> uc.AuthoriseResult:
    """The unit stays in its mode; the refusal and its reason join the audit trail (and the
    hash chain), and the role views stop listing the change as awaiting a decision."""
    in_scope(who, uc.rule_unit_school(ctx, body.policy_id, body.rule, body.unit))
    return uc.refuse(ctx, uc.AuthoriseRequest(**body.model_dump(), recorded_by=who.name))


class RunsPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[uc.DecisionRun]


@router.get("/runs", summary="Stored decision runs, with who ran them")
def runs(
    _: Annotated[Principal, Depends(Requires(Permission.audit_read))],
    ctx: Ctx,
    request: Request,
    limit: Limit = 100,
    offset: Offset = 0,
) -> RunsPage:
    every = uc.list_runs(ctx)
    page = every[offset : offset + limit]
    request.state.rows = len(page)
    return RunsPage(total=len(every), limit=limit, offset=offset, items=page)


@router.get("/runs/{run_id}/reproduction", summary="Recompute a run from its record and compare")
def reproduction(
    run_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="The run's id")],
    _: Annotated[Principal, Depends(Requires(Permission.audit_read))],
    ctx: Ctx,
) -> uc.ReproduceResult:
    return uc.reproduce(ctx, uc.ReproduceRequest(run_id=run_id))


@router.get("/audit/head", summary="The hash chain's head, to publish and keep")
def audit_head(
    _: Annotated[Principal, Depends(Requires(Permission.decisions_read))], ctx: Ctx
) -> uc.ChainHeadResult:
    return uc.audit_head(ctx)


Head = Annotated[
    str | None,
    Query(
        pattern="^[0-9a-f]{64}$", description="A head published earlier: it must be in the chain"
    ),
]


@router.get("/audit/verification", summary="Check the hash chain and every input snapshot")
def verification(
    _: Annotated[Principal, Depends(Requires(Permission.audit_read))],
    ctx: Ctx,
    head: Head = None,
) -> uc.VerifyResult:
    return uc.verify(ctx, head)
