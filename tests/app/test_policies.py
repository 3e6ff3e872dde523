"""The policy use cases, called directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from schoolmode.app.context import Context
from schoolmode.app.policies import (
    DiffRequest,
    ExplainCaseRequest,
    RunCasesRequest,
    ShowPolicyRequest,
    ValidateRequest,
    diff_policies,
    explain_case,
    list_policies,
    run_cases,
    show_policy,
    validate_files,
)
from schoolmode.policy.errors import SchoolmodeError, UnknownPolicyError
from tests.conftest import POLICIES

AGREEMENT = "cps-ctu-2022-01-10"


def test_list_and_show(ctx: Context) -> None:
    listed = list_policies(ctx)
    assert listed.root == POLICIES
    assert [r.id for r in listed.rows] == ctx.registry.ids()
    row = next(r for r in listed.rows if r.id == AGREEMENT)
    assert row.rules > 0
    assert row.cases > 0
    view = show_policy(ctx, ShowPolicyRequest(policy_id=AGREEMENT))
    assert view.id == AGREEMENT
    assert view.parameters
    assert view.rules
    assert all(r.description for r in view.rules)
    with pytest.raises(UnknownPolicyError):
        show_policy(ctx, ShowPolicyRequest(policy_id="no-such-policy"))


def test_run_cases_of_one_case_file(ctx: Context) -> None:
    seen: list[tuple[int, int]] = []
    path = POLICIES / AGREEMENT / "cases" / "teacher-absences.yaml"
    report = run_cases(ctx, RunCasesRequest(path=path), lambda d, t: seen.append((d, t)))
    assert report.outcomes
    assert report.failed == 0
    assert seen[-1] == (len(report.outcomes), len(report.outcomes))


def test_explain_case(ctx: Context) -> None:
    result = explain_case(
        ctx, ExplainCaseRequest(policy_id=AGREEMENT, case="cps22-teacher-absence-brief-example")
    )
    assert result.texts
    assert len(result.texts) == len(result.traces)
    with pytest.raises(SchoolmodeError, match="has no case 'nope'"):
        explain_case(ctx, ExplainCaseRequest(policy_id=AGREEMENT, case="nope"))


def test_diff_and_validate(ctx: Context, tmp_path: Path) -> None:
    diff = diff_policies(ctx, DiffRequest(policy_a=AGREEMENT, policy_b="cps-ctu-2021-02-06"))
    assert diff.a == AGREEMENT
    assert any(r.differs for r in diff.rows)
    same = diff_policies(ctx, DiffRequest(policy_a=AGREEMENT, policy_b=AGREEMENT))
    assert not any(r.differs for r in same.rows)
    report = validate_files(ctx, ValidateRequest(path=POLICIES / AGREEMENT))
    assert report.problems == []
    assert report.checked > 1
    bad = tmp_path / "policy.yaml"
    bad.write_text("id: x\n")
    assert validate_files(ctx, ValidateRequest(path=bad)).problems
