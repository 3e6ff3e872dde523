"""Policies: the list, one policy's parameters in force on a day, its worked cases, a diff."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from schoolmode.access.roles import Permission, Principal
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


@router.get("", summary="Every agreement, proposal and guidance")
def list_policies(_: Reader, ctx: Ctx) -> PolicyListOut:
    return PolicyListOut(items=uc.list_policies(ctx).rows)


@router.get("/{policy_id}", summary="One policy: parameters with clause, quote, source, confidence")
def show_policy(
    policy_id: PolicyId,
    _: Reader,
    ctx: Ctx,
    on: Annotated[dt.date | None, Query(description="Parameters in force on this day")] = None,
) -> uc.PolicyView:
    return uc.show_policy(ctx, uc.ShowPolicyRequest(policy_id=policy_id, on=on))


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


@router.get("/{policy_a}/diff/{policy_b}", summary="Two policies side by side")
def diff(policy_a: PolicyId, policy_b: PolicyId, _: Reader, ctx: Ctx) -> uc.PolicyDiff:
    return uc.diff_policies(ctx, uc.DiffRequest(policy_a=policy_a, policy_b=policy_b))
