"""Use cases of stored decisions: decide, authorise, explain, reproduce (audit) and list runs."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, field_validator

from schoolmode.app.context import Context
from schoolmode.app.progress import Stage
from schoolmode.decisions.answers import authorise as record_authorisation
from schoolmode.decisions.answers import refuse as record_refusal
from schoolmode.decisions.audit import reproduce as reproduce_run
from schoolmode.decisions.record import decide as decide_run
from schoolmode.decisions.record import policy_in_force, stored_explanation
from schoolmode.decisions.runs import day_decisions as stored_day_decisions
from schoolmode.decisions.runs import decision_runs, latest_run_for_day, run_policy, school_of
from schoolmode.decisions.verify import verify as verify_store
from schoolmode.engine.evaluate import resolve_interpretations
from schoolmode.engine.nodes import metrics_read
from schoolmode.engine.settings import Settings
from schoolmode.i18n import DEFAULT, LANGUAGES, language
from schoolmode.metrics.coverage import describe, metric_ends
from schoolmode.policy.loader import LoadedPolicy
from schoolmode.store.chain import chain_head


class DecideRequest(BaseModel):
    """Decide every unit's mode from ``first`` to ``last`` (default: ``first`` only) under
    ``policy_id`` (default: the agreement in force on ``first``)."""

    model_config = ConfigDict(frozen=True)

    first: dt.date
    last: dt.date | None = None
    policy_id: str | None = None
    created_by: str | None = None
    """Who runs it (default: the OS user)."""


class NoDataCount(BaseModel):
    """On ``date``, ``units`` of the ``of_units`` units of ``scope`` had no data for ``rule``
    (``missing``: the metrics it reads that had none): stored as ``no_data``."""

    model_config = ConfigDict(frozen=True)

    scope: str
    rule: str
    date: dt.date
    units: int
    of_units: int
    missing: list[str]
    text: str
    """The line ``decide`` prints."""


class DecideResult(BaseModel):
    """The stored run: its id, policy, days, decision counts, the metrics it lacked and the
    unit-days stored as ``no_data``."""

    model_config = ConfigDict(frozen=True)

    run_id: int
    policy_id: str
    first: dt.date
    last: dt.date
    decisions: int
    not_default: int
    missing_metrics: list[str]
    no_data: int = 0
    """Unit-days stored as ``no_data`` (counted in ``not_default`` too)."""
    no_data_rules: list[NoDataCount] = []


def decide_policy(ctx: Context, req: DecideRequest) -> LoadedPolicy:
    """The policy ``req`` decides under: the one named (an unknown id is an error naming the
    known ones) or the agreement in force on its first day."""
    registry = ctx.registry
    return registry.get(req.policy_id) if req.policy_id else policy_in_force(registry, req.first)


def decide(ctx: Context, req: DecideRequest, stage: Stage | None = None) -> DecideResult:
    """Decide and store the run with its audit record (``stage``: told each stage as it
    begins: the policies, reading the metrics, deciding, storing)."""
    tell = stage or (lambda _: None)
    tell("reading the policies")
    loaded = decide_policy(ctx, req)
    summary = decide_run(
        ctx.engine,
        loaded,
        req.first,
        req.last or req.first,
        created_by=req.created_by,
        stage=tell,
    )
    return DecideResult(
        run_id=summary.run_id,
        policy_id=summary.policy_id,
        first=summary.first,
        last=summary.last,
        decisions=summary.decisions,
        not_default=summary.not_default,
        missing_metrics=list(summary.missing_metrics),
        no_data=summary.no_data,
        no_data_rules=[
            NoDataCount(
                scope=n.scope,
                rule=n.rule,
                date=n.date,
                units=n.units,
                of_units=n.of_units,
                missing=n.missing,
                text=n.render(),
            )
            for n in summary.no_data_rules or []
        ],
    )


def data_gaps(ctx: Context, req: DecideRequest) -> list[str]:
    """Before deciding: one line per rule of the policy that reads (under its default
    interpretations) a series whose data end before the last day decided (or that the store
    does not have): a day whose decision rests on a day after its data end (a mode rests on
    the day its trigger is evaluated, before the notice) is stored as ``no_data`` unless
    another rule applies; decide counts them after. Nothing is written."""
    policy = decide_policy(ctx, req).policy
    last = req.last or req.first
    ends = metric_ends(ctx.engine)
    interps = resolve_interpretations(policy, Settings())
    out = []
    for rule in policy.rules:
        node = rule.when if rule.when is not None else rule.classify
        reads = metrics_read(node, interps) if node is not None else set()
        short = [
            f"{describe(n)} ({f'data end on {ends[n]}' if ends[n] else 'none in the store'})"
            for n in sorted(reads)
            if n in ends and (ends[n] is None or ends[n] < last)  # type: ignore[operator]
        ]
        if short:
            out.append(
                f"rule {rule.id} reads data that end before {last}: {', '.join(short)}; a "
                f"{rule.scope.value} day resting on a later day is stored as no_data unless "
                "another rule applies"
            )
    return out


class AuthoriseRequest(BaseModel):
    """A named body's decision to act on an eligible rule for a unit from a day."""

    model_config = ConfigDict(frozen=True)

    policy_id: str
    rule: str
    unit: str
    day: dt.date
    by: str
    reason: str
    recorded_by: str | None = None
    """Who records it (default: the OS user)."""


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
        req.recorded_by,
    )
    return AuthoriseResult(key=key)


def refuse(ctx: Context, req: AuthoriseRequest) -> AuthoriseResult:
    """Record the named body's refusal to act on the eligible rule (append-only): the unit
    stays in its mode, the refusal and its reason are in the audit trail."""
    key = record_refusal(
        ctx.engine,
        ctx.registry.get(req.policy_id),
        req.rule,
        req.unit,
        req.day,
        req.by,
        req.reason,
        req.recorded_by,
    )
    return AuthoriseResult(key=key)


def rule_unit_school(ctx: Context, policy_id: str, rule_id: str, unit: str) -> str | None:
    """The school of the unit an eligible rule acts on (None: the district, or an unknown
    rule: the authorisation itself then says what is wrong)."""
    rule = next((r for r in ctx.registry.get(policy_id).policy.rules if r.id == rule_id), None)
    return None if rule is None else school_of(ctx.engine, rule.scope.value, unit)


class ExplainRequest(BaseModel):
    """Why is this unit (of ``scope``: classroom, school or district) in its mode on ``day``?"""

    model_config = ConfigDict(frozen=True)

    scope: str
    unit: str
    day: dt.date
    lang: str = DEFAULT
    """The language of the text: one of ``schoolmode.i18n.LANGUAGES`` (en, es)."""
    technical: bool = False
    """The whole trace in words (parameters and readings named) instead of the explanation
    for parents."""

    @field_validator("lang")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(
                f"unsupported language {value!r}: supported languages are {', '.join(LANGUAGES)}"
            )
        return value


class ExplainResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: int
    policy_id: str
    policy_hash: str
    """The content hash of the policy the run decided with."""
    lang: str
    """The language of ``text``."""
    text: str
    """The explanation, in plain language."""


def explain(ctx: Context, req: ExplainRequest) -> ExplainResult:
    """The explanation of the latest stored decision for the unit and day, in ``req.lang``."""
    run_id, text = stored_explanation(
        ctx.engine,
        req.scope,
        req.unit,
        req.day,
        ctx.evaluations,
        language(req.lang),
        technical=req.technical,
    )
    policy_id, policy_hash = run_policy(ctx.engine, run_id)
    return ExplainResult(
        run_id=run_id, policy_id=policy_id, policy_hash=policy_hash, lang=req.lang, text=text
    )


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


class DayDecisionsRequest(BaseModel):
    """The stored decisions of ``day`` (its latest run), of one ``scope`` and ``unit`` when
    given, a page of ``limit`` from ``offset``."""

    model_config = ConfigDict(frozen=True)

    day: dt.date
    scope: str | None = None
    unit: str | None = None
    limit: int = 100
    offset: int = 0
    run_id: int | None = None
    """The run to read (default: the latest that decided the day)."""


class UnitMode(BaseModel):
    model_config = ConfigDict(frozen=True)

    scope: str
    unit: str
    mode: str
    status: str
    rule: str | None
    action: str | None
    decided_by: str | None


class DayDecisionsResult(BaseModel):
    """A page of a day's decisions with the run, policy and content hash that made them."""

    model_config = ConfigDict(frozen=True)

    day: dt.date
    run_id: int
    policy_id: str
    policy_hash: str
    total: int
    limit: int
    offset: int
    items: list[UnitMode]


def day_decisions(ctx: Context, req: DayDecisionsRequest) -> DayDecisionsResult | None:
    """None when no stored run decided the day."""
    found = stored_day_decisions(
        ctx.engine,
        req.day,
        req.scope,
        None if req.unit is None else [req.unit],
        req.limit,
        req.offset,
        req.run_id,
    )
    if found is None:
        return None
    return DayDecisionsResult(
        day=found.day,
        run_id=found.run_id,
        policy_id=found.policy_id,
        policy_hash=found.policy_hash,
        total=found.total,
        limit=req.limit,
        offset=req.offset,
        items=[UnitMode(**row.__dict__) for row in found.rows],
    )


def latest_run(ctx: Context, day: dt.date) -> int | None:
    """The latest stored run that decided ``day`` (None: none did)."""
    return latest_run_for_day(ctx.engine, day)


def school_of_unit(ctx: Context, scope: str, unit: str) -> str | None:
    """The school of a school or classroom (None for the district or an unknown room)."""
    return school_of(ctx.engine, scope, unit)


class VerifyResult(BaseModel):
    """``audit verify``: intact, or every problem, the first broken link first."""

    model_config = ConfigDict(frozen=True)

    intact: bool
    links: int
    head: str | None
    snapshots: int
    problems: list[str]
    text: str


def verify(ctx: Context, published_head: str | None = None) -> VerifyResult:
    """Check the hash chain of the audit records and every run's input snapshot."""
    found = verify_store(ctx.engine, published_head)
    return VerifyResult(
        intact=found.intact,
        links=found.links,
        head=found.head,
        snapshots=found.snapshots,
        problems=found.problems,
        text=found.render(),
    )


class ChainHeadResult(BaseModel):
    """What anyone may publish and keep: the chain's length, head and when it was linked."""

    model_config = ConfigDict(frozen=True)

    links: int
    head: str | None
    linked_at: dt.datetime | None


def audit_head(ctx: Context) -> ChainHeadResult:
    found = chain_head(ctx.engine)
    return ChainHeadResult(links=found.links, head=found.head, linked_at=found.linked_at)
