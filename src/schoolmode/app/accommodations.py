"""Use cases of staff accommodation requests: import the requests, commit a lottery seed and
preview the pool (never a draw), review the pending ones under a policy (by right, by the
committed lottery over a quota, or denied), verify every lottery against its commitment, show
the decisions as a role may see them, file an appeal, record its outcome, and the history of
one request (``schoolmode accommodations ...``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine

from schoolmode.app.context import Context
from schoolmode.app.data import RowProblem, row_problems
from schoolmode.decisions.record import policy_in_force
from schoolmode.importers.staff import AccommodationRequests
from schoolmode.operations import accommodations as acc
from schoolmode.operations import accommodations_store as store
from schoolmode.policy.errors import SchoolmodeError, UnknownIdError
from schoolmode.policy.loader import LoadedPolicy
from schoolmode.policy.model import Policy
from schoolmode.standard.batch import FileValidationError
from schoolmode.store.db import as_utc, whoami
from schoolmode.store.locks import StoreBusy, Waiting
from schoolmode.store.service import ImportFailed, Progress, run_import

# ---------------------------------------------------------------------- import


class ImportRequest(BaseModel):
    """A CSV file of accommodation requests (``request_id``, ``person_id``, ``basis``,
    ``requested_date``, ``status``[, ``decided_date``]); it replaces the stored list."""

    model_config = ConfigDict(frozen=True)

    path: Path
    by: str | None = None
    """Who imports it (default: the login)."""
    allow_removals: bool = False
    """Whether the file may drop stored requests it lacks (else it is refused, saying how many)."""


class ImportSummary(BaseModel):
    """What the import did (the import service's figures)."""

    source: str
    dataset: str
    import_id: int
    status: str
    """``imported`` or ``unchanged`` (the same file as the current import)."""
    rows_in_file: int
    added: int
    changed: int
    removed: int
    unchanged: int
    skipped: int
    summary: str
    """The import service's one-line summary of these figures."""


class RequestsNotImported(SchoolmodeError):
    """The file was refused (validation errors, a database refusal, no such file, or another
    import or review held the lock too long): nothing was imported. ``problems``: the file's
    row errors, when it was refused for its rows."""

    def __init__(self, message: str, problems: list[RowProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def import_requests(
    ctx: Context,
    req: ImportRequest,
    progress: Progress | None = None,
    on_wait: Waiting | None = None,
) -> ImportSummary:
    """Import the requests file in one transaction (``progress`` reports the writing;
    ``on_wait`` is told when another import or review of the requests holds the lock)."""
    try:
        result = run_import(
            ctx.engine,
            AccommodationRequests(),
            req.path,
            imported_by=req.by,
            progress=progress,
            allow_removals=req.allow_removals,
            wait=ctx.settings.lock_wait_s,
            on_wait=on_wait,
        )
    except (FileValidationError, ImportFailed, FileNotFoundError, StoreBusy) as exc:
        raise RequestsNotImported(str(exc), row_problems(exc)) from exc
    return ImportSummary(
        source=result.source,
        dataset=result.dataset,
        import_id=result.import_id,
        status=result.status,
        rows_in_file=result.rows_in_file,
        added=result.added,
        changed=result.changed,
        removed=result.removed,
        unchanged=result.unchanged,
        skipped=result.skipped,
        summary=result.summary(),
    )


# ---------------------------------------------------------------------- review and views


def _check_role(role: str) -> None:
    if role not in acc.ROLES:
        raise SchoolmodeError(f"--role must be one of {', '.join(acc.ROLES)}, not {role!r}")


class CommitRequest(BaseModel):
    """Commit the lottery seed of the review of ``on`` under ``policy_id`` (default: the
    agreement in force that day) before anything is ranked: ``seed`` given (drawn in the open)
    or, when None, drawn here with ``secrets``."""

    model_config = ConfigDict(frozen=True)

    on: dt.date
    policy_id: str | None = None
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    settings: dict[str, str] = Field(default_factory=dict)
    by: str | None = None


class Preview(BaseModel):
    """The eligible pool and each kind's places under the policy, never a ranking."""

    policy_id: str
    on: dt.date
    eligible: int
    """Pending requests of a known kind (what a review decides)."""
    left_pending: int
    """Requests whose basis is not a known kind (left for a person)."""
    pools: list[dict[str, Any]]
    """Per kind: rule, share, counts and places."""


class CommitResult(Preview):
    """The recorded commitment, and the secret that reveals it: keep ``seed`` and ``nonce``
    until the review (they are shown this once and stored only as ``commitment_sha256``)."""

    commitment_id: int
    commitment_sha256: str
    pool_sha256: str
    seed: int
    nonce: str


def _policy(ctx: Context, policy_id: str | None, on: dt.date) -> LoadedPolicy:
    return ctx.registry.get(policy_id) if policy_id else policy_in_force(ctx.registry, on)


def _quotas(
    bind: Engine | Connection, policy: Policy, on: dt.date, settings: dict[str, str]
) -> acc.Quotas:
    return acc.quotas(
        store.pending_requests(bind), policy, on, store.prior_decisions(bind), settings
    )


def _preview(loaded: LoadedPolicy, on: dt.date, found: acc.Quotas) -> Preview:
    return Preview(
        policy_id=loaded.id,
        on=on,
        eligible=found.eligible.height,
        left_pending=found.left_pending.height,
        pools=found.pools,
    )


def preview(ctx: Context, req: CommitRequest) -> Preview:
    """The pool a review on ``req.on`` would decide and its places (a dry run): no seed is
    used and no ranking made, so nobody can preview a draw."""
    loaded = _policy(ctx, req.policy_id, req.on)
    return _preview(loaded, req.on, _quotas(ctx.engine, loaded.policy, req.on, req.settings))


def commit(ctx: Context, req: CommitRequest, on_wait: Waiting | None = None) -> CommitResult:
    """Record the commitment to a seed (its digest with a secret nonce), the quota rule and the
    eligible pool, before any ranking; returns the seed and nonce, to be revealed at the
    review. Read and recorded holding the review lock, so the pool is the one stored."""
    loaded = _policy(ctx, req.policy_id, req.on)
    seed = acc.draw_seed() if req.seed is None else req.seed
    nonce = acc.draw_nonce()
    digest = acc.commitment_digest(seed, nonce)
    with store.reviewing(ctx.engine, wait=ctx.settings.lock_wait_s, on_wait=on_wait) as conn:
        found = _quotas(conn, loaded.policy, req.on, req.settings)
        pool = found.eligible["request_id"].to_list()
        commitment_id = store.record_commitment(
            conn,
            req.on,
            loaded.policy,
            req.settings,
            acc.quota_rules(found),
            pool,
            digest,
            req.by or whoami(),
        )
    return CommitResult(
        **_preview(loaded, req.on, found).model_dump(),
        commitment_id=commitment_id,
        commitment_sha256=digest,
        pool_sha256=acc.pool_digest(pool),
        seed=seed,
        nonce=nonce,
    )


class ReviewRequest(BaseModel):
    """Decide every pending request on ``on`` by revealing the day's latest commitment: its
    ``seed`` and ``nonce``; the policy, settings and pool are the commitment's. Shown as
    ``role`` may see it."""

    model_config = ConfigDict(frozen=True)

    on: dt.date
    seed: int = Field(ge=0, le=2**63 - 1)
    nonce: str = Field(pattern="^[0-9a-f]{32}$")
    role: str = "district-hr"
    by: str | None = None


class ReviewResult(BaseModel):
    """The review: its id, the commitment it revealed, counts, the pools and the decisions as
    ``role`` may see them."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    review_id: int
    commitment_id: int
    policy_id: str
    on: dt.date
    seed: int
    role: str
    decided: int
    left_pending: int
    """Requests whose basis is not a known kind (left for a person)."""
    pools: list[dict[str, Any]]
    """Per kind of request: rule, share, counts and places (and the ranked list)."""
    rows: pl.DataFrame
    """The decisions of this review as ``role`` may see them."""


def review(ctx: Context, req: ReviewRequest, on_wait: Waiting | None = None) -> ReviewResult:
    """Reveal the day's latest commitment and record the decisions on every pending request.
    Refused, with nothing recorded, when there is no unrevealed commitment for the day, the
    seed and nonce do not hash to it, or the pending requests are not the pool committed. A
    review reads and records in one transaction holding the requests' and decisions' lock:
    one running at the same time waits for it (``on_wait`` told), up to the settings'
    ``lock_wait_s``, then finds the commitment revealed (or is refused: ``StoreBusy``)."""
    _check_role(req.role)
    engine = ctx.engine
    with store.reviewing(engine, wait=ctx.settings.lock_wait_s, on_wait=on_wait) as conn:
        committed = store.open_commitment(conn, req.on)
        loaded = ctx.registry.get(committed["policy_id"])
        settings: dict[str, str] = json.loads(committed["settings_json"])
        pending, prior = store.pending_requests(conn), store.prior_decisions(conn)
        found = acc.quotas(pending, loaded.policy, req.on, prior, settings)
        store.check_reveal(committed, req.seed, req.nonce, found.eligible["request_id"].to_list())
        selection = acc.select(pending, loaded.policy, req.on, req.seed, prior, settings)
        review_id = store.record_review(
            conn,
            selection,
            loaded.policy,
            req.on,
            req.by or whoami(),
            settings,
            (committed["id"], req.nonce),
        )
    shown = store.current_decisions(engine).filter(
        pl.col("request_id").is_in(selection.decisions["request_id"].implode())
    )
    return ReviewResult(
        review_id=review_id,
        commitment_id=committed["id"],
        policy_id=loaded.id,
        on=req.on,
        seed=req.seed,
        role=req.role,
        decided=selection.decisions.height,
        left_pending=selection.left_pending.height,
        pools=selection.pools,
        rows=acc.role_view(shown, req.role, req.on),
    )


class LotteryAudit(BaseModel):
    """Every lottery checked against its commitment (:func:`verify_lotteries`)."""

    commitments: int
    revealed: list[int]
    """Commitments a review revealed."""
    unrevealed: list[int]
    """Commitments no review revealed (abandoned, or awaiting their review)."""
    reviews_without_commitment: list[int]
    """Reviews recorded before commitments existed (schema 0013)."""
    problems: list[str]
    """Empty when every reveal hashes to its commitment, came after it, decided the pool
    committed, and every ticket follows from the seed."""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_lotteries(ctx: Context) -> LotteryAudit:
    """Check every recorded review against the commitment it revealed."""
    return LotteryAudit(**store.verify_lotteries(ctx.engine))


class ShowRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: str = "district-hr"


class RoleRows(BaseModel):
    """Decisions as ``role`` may see them."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    role: str
    rows: pl.DataFrame


def show(ctx: Context, req: ShowRequest) -> RoleRows:
    """The current decision on every request, as ``role`` may see it."""
    return RoleRows(
        role=req.role, rows=acc.role_view(store.current_decisions(ctx.engine), req.role)
    )


# ---------------------------------------------------------------------- appeals and history


class AppealRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision_id: int
    grounds: str
    filed_on: dt.date
    by: str | None = None


class AppealFiled(BaseModel):
    appeal_id: int
    decision_id: int


def appeal(ctx: Context, req: AppealRequest, on_wait: Waiting | None = None) -> AppealFiled:
    """File an appeal against a decision (a new record; the decision stays)."""
    appeal_id = store.record_appeal(
        ctx.engine,
        req.decision_id,
        req.filed_on,
        req.grounds,
        req.by or whoami(),
        wait=ctx.settings.lock_wait_s,
        on_wait=on_wait,
    )
    return AppealFiled(appeal_id=appeal_id, decision_id=req.decision_id)


class AppealOutcomeRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    appeal_id: int
    outcome: str
    """granted or denied."""
    reason: str
    on: dt.date
    by: str | None = None


class AppealDecided(BaseModel):
    appeal_id: int
    outcome: str
    decision_id: int
    """The new decision, superseding the one appealed."""


def appeal_outcome(
    ctx: Context, req: AppealOutcomeRequest, on_wait: Waiting | None = None
) -> AppealDecided:
    """Record an appeal's outcome: a new decision that supersedes the one appealed (refused
    when the appeal has one: two recorded at once end as one and a refusal)."""
    new = store.record_appeal_outcome(
        ctx.engine,
        req.appeal_id,
        req.outcome,
        req.reason,
        req.on,
        req.by or whoami(),
        wait=ctx.settings.lock_wait_s,
        on_wait=on_wait,
    )
    return AppealDecided(appeal_id=req.appeal_id, outcome=req.outcome, decision_id=new)


class HistoryRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    role: str = "district-hr"


class HistoryEvent(BaseModel):
    """A decision or an appeal on a request."""

    event: str
    """``decision`` or ``appeal``."""
    id: int
    request_id: str
    recorded_at: dt.datetime
    recorded_by: str
    person_id: str | None = None
    basis: str | None = None
    outcome: str | None = None
    rule: str | None = None
    reason: str | None = None
    decided_on: dt.date | None = None
    review_id: int | None = None
    appeal_id: int | None = None
    """For a decision on appeal: the appeal."""
    supersedes_id: int | None = None
    """For a decision on appeal: the decision it replaces."""
    decision_id: int | None = None
    """For an appeal: the decision appealed."""
    filed_on: dt.date | None = None
    grounds: str | None = None


def history(ctx: Context, req: HistoryRequest) -> list[HistoryEvent]:
    """Every decision and appeal on one request, oldest first (district HR only: it shows the
    basis and the reasons)."""
    if req.role != "district-hr":
        raise SchoolmodeError("the history of a request is shown to district-hr only")
    events = store.history(ctx.engine, req.request_id)
    if not events:
        raise UnknownIdError(f"no decision on request {req.request_id!r}")
    fields = set(HistoryEvent.model_fields) - {"recorded_at"}
    return [
        HistoryEvent(
            **{k: val for k, val in e.items() if k in fields}, recorded_at=as_utc(e["recorded_at"])
        )
        for e in events
    ]
