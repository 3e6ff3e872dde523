"""The decision use cases, called directly on the fixture history."""

from __future__ import annotations

import datetime as dt

import pytest

from schoolmode.app.context import Context
from schoolmode.app.decisions import (
    AuthoriseRequest,
    DecideRequest,
    ExplainRequest,
    ReproduceRequest,
    authorise,
    decide,
    explain,
    list_runs,
    reproduce,
)
from schoolmode.policy.errors import SchoolmodeError

DAY = dt.date(2021, 3, 26)


def test_decide_explain_reproduce_and_list(history_ctx: Context) -> None:
    ctx = history_ctx
    result = decide(ctx, DecideRequest(first=DAY))
    assert result.policy_id == "cps-ctu-2021-02-06"  # the agreement in force
    assert result.first == result.last == DAY
    assert result.decisions > 1
    why = explain(ctx, ExplainRequest(scope="district", unit="chicago", day=DAY))
    assert why.run_id == result.run_id
    assert why.text
    audit = reproduce(ctx, ReproduceRequest(run_id=result.run_id))
    assert audit.identical
    assert audit.text.startswith("identical")
    (run,) = [r for r in list_runs(ctx) if r.run_id == result.run_id]
    assert run.decisions == result.decisions
    assert run.policy_id == result.policy_id
    with pytest.raises(SchoolmodeError):
        authorise(
            ctx,
            AuthoriseRequest(
                policy_id=result.policy_id,
                rule="no-such-rule",
                unit="x",
                day=DAY,
                by="b",
                reason="r",
            ),
        )
