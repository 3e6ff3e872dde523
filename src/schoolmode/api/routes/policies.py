"""Policies: the list, one policy's parameters in force on a day, its worked cases, a diff.

The policies are read once when the server starts, so each answer here is made once and
then served from the response cache (``api/cache.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.cache import ResponseCache
from schoolmode.api.problems import COMMON, NO_CONTROL
from schoolmode.api.security import Requires, context
from schoolmode.app import policies as uc
from schoolmode.app.context import Context

router = APIRouter(prefix="/policies", tags=["policies"], responses=COMMON)
Reader = Annotated[Principal, Depends(Requires(Permission.policies_read))]
Ctx = Annotated[Context, Depends(context)]
PolicyId = Annotated[str, Path(max_length=100, pattern=NO_CONTROL, description="A policy's id")]


class PolicyListOut(BaseModel):
    items: list[uc.PolicyRow]


def _kept(request: Request, key: Hashable, make: Callable[[], BaseModel]) -> Response:
    cache: ResponseCache = request.app.state.responses
    body = cache.get(("policies", key), lambda: make().model_dump_json().encode())
    return Response(body, media_type="application/json")


@router.get("", summary="Every agreement, proposal and guidance", response_model=PolicyListOut)
def list_policies(_: Reader, ctx: Ctx, request: Request) -> Response:
    return _kept(request, "list", lambda: PolicyListOut(items=uc.list_policies(ctx).rows))


@router.get(
    "/{policy_id}",
    summary="One policy: parameters with clause, quote, source, confidence",
    response_model=uc.PolicyView,
)
def show_policy(
    policy_id: PolicyId,
    _: Reader,
    ctx: Ctx,
    request: Request,
    on: Annotated[dt.date | None, Query(description="Parameters in force on this day")] = None,
) -> Response:
    ctx.registry.get(policy_id)  # 404 for an unknown id, before anything is kept
    req = uc.ShowPolicyRequest(policy_id=policy_id, on=on)
    return _kept(request, req, lambda: uc.show_policy(ctx, req))


class CaseOut(BaseModel):
    test_id: str
    file: str
    passed: bool
    failures: list[str]


class CasesOut(BaseModel):
    policy_id: str
    cases: int
    passed: int
    failed: int
    items: list[CaseOut]


@router.get("/{policy_id}/cases", summary="The policy's worked cases, run now")
def policy_cases(policy_id: PolicyId, _: Reader, ctx: Ctx) -> CasesOut:
    ctx.registry.get(policy_id)  # 404 for an unknown id
    report = uc.run_cases(ctx, uc.RunCasesRequest(policy_ids=[policy_id]))
    items = [
        CaseOut(test_id=o.test_id, file=o.path.name, passed=o.passed, failures=o.failures)
        for o in report.outcomes
    ]
    return CasesOut(
        policy_id=policy_id,
        cases=report.cases,
        passed=sum(o.passed for o in items),
        failed=report.failed,
        items=items,
    )


@router.get(
    "/{policy_a}/diff/{policy_b}", summary="Two policies side by side", response_model=uc.PolicyDiff
)
def diff(policy_a: PolicyId, policy_b: PolicyId, _: Reader, ctx: Ctx, request: Request) -> Response:
    for known in (policy_a, policy_b):
        ctx.registry.get(known)  # 404 for an unknown id
    req = uc.DiffRequest(policy_a=policy_a, policy_b=policy_b)
    return _kept(request, req, lambda: uc.diff_policies(ctx, req))
