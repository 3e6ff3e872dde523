"""Use cases of stored decisions: decide, authorise, explain, reproduce (audit) and list runs."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from schoolmode.app.context import Context
from schoolmode.decisions.audit import reproduce as reproduce_run
from schoolmode.decisions.record import authorise as record_authorisation
from schoolmode.decisions.record import decide as decide_run
from schoolmode.decisions.record import policy_in_force, stored_explanation
from schoolmode.decisions.runs import decision_runs


class DecideRequest(BaseModel):
    """Decide every unit's mode from ``first`` to ``last`` (default: ``first`` only) under
    ``policy_id`` (default: the agreement in force on ``first``)."""

    model_config = ConfigDict(frozen=True)

    first: dt.date
    last: dt.date | None = None
    policy_id: str | None = None


class DecideResult(BaseModel):
    """The stored run: its id, policy, days, decision counts and the metrics it lacked."""

    model_config = ConfigDict(frozen=True)

    run_id: int
    policy_id: str
    first: dt.date
    last: dt.date
    decisions: int
    not_default: int
    missing_metrics: list[str]


def decide(ctx: Context, req: DecideRequest) -> DecideResult:
    """Decide and store the run with its audit record."""
    registry = ctx.registry
    loaded = registry.get(req.policy_id) if req.policy_id else policy_in_force(registry, req.first)
    summary = decide_run(ctx.engine, loaded, req.first, req.last or req.first)
    return DecideResult(
        run_id=summary.run_id,
        policy_id=summary.policy_id,
        first=summary.first,
        last=summary.last,
        decisions=summary.decisions,
        not_default=summary.not_default,
        missing_metrics=list(summary.missing_metrics),
    )


class AuthoriseRequest(BaseModel):
    """A named body's decision to act on an eligible rule for a unit from a day."""

    model_config = ConfigDict(frozen=True)

    policy_id: str
    rule: str
    unit: str
    day: dt.date
    by: str
    reason: str


class AuthoriseResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: int
    """The recorded authorisation's id."""


def authorise(ctx: Context, req: AuthoriseRequest) -> AuthoriseResult:
    """Record the authorisation (append-only)."""
    key = record_authorisation(
        ctx.engine,
        ctx.registry.get(req.policy_id),
        req.rule,
        req.unit,
        req.day,
        req.by,
        req.reason,
    )
    return AuthoriseResult(key=key)


class ExplainRequest(BaseModel):
    """Why is this unit (of ``scope``: classroom, school or district) in its mode on ``day``?"""

    model_config = ConfigDict(frozen=True)

    scope: str
    unit: str
    day: dt.date


class ExplainResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: int
    text: str
    """The explanation, in plain language."""


def explain(ctx: Context, req: ExplainRequest) -> ExplainResult:
    """The explanation of the latest stored decision for the unit and day."""
    run_id, text = stored_explanation(ctx.engine, req.scope, req.unit, req.day)
    return ExplainResult(run_id=run_id, text=text)


class ReproduceRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: int


class ReproduceResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    identical: bool
    text: str
    """"identical: ..." or exactly what differs."""


def reproduce(ctx: Context, req: ReproduceRequest) -> ReproduceResult:
    """Recompute a stored run from its stored inputs and compare."""
    report = reproduce_run(ctx.engine, req.run_id, ctx.registry)
    return ReproduceResult(identical=report.identical, text=report.render())


class DecisionRun(BaseModel):
    """One stored decision run."""

    model_config = ConfigDict(frozen=True)

    run_id: int
    policy_id: str
    first: dt.date
    last: dt.date
    created_at: dt.datetime
    created_by: str | None
    decisions: int


def list_runs(ctx: Context) -> list[DecisionRun]:
    """The stored decision runs, oldest first."""
    return [
        DecisionRun(
            run_id=r.run_id,
            policy_id=r.policy_id,
            first=r.first,
            last=r.last,
            created_at=r.created_at,
            created_by=r.created_by,
            decisions=r.decisions,
        )
        for r in decision_runs(ctx.engine)
    ]
