"""Store edges of staff accommodation requests: read the stored requests and the current
decisions, append reviews, decisions and appeals (tables the database keeps append-only), and
the audit trail of one request. The selection itself is pure (``accommodations.py``).

A review reads the pending requests and records its decisions in one transaction holding the
lock of the requests and of the decisions (:func:`reviewing`): a second review (or an import
of the requests) at the same time waits for the first and then sees its decisions, so no
request is ever decided twice."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, insert
from sqlalchemy import select as sql_select

from schoolmode.operations.accommodations import DECISION_SCHEMA, Selection
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value
from schoolmode.store.frames import query_frame, record_frame
from schoolmode.store.locks import LOCK_WAIT, Waiting, writing
from schoolmode.store.tables import (
    accommodation_appeal,
    accommodation_decision,
    accommodation_review,
)

REQUESTS = "accommodation-requests"
"""The import source of the requests (``importers.staff.AccommodationRequests``)."""
DECISIONS = "accommodation-decisions"
"""The lock name of the decisions."""


@contextmanager
def reviewing(
    engine: Engine, *, wait: float = LOCK_WAIT, on_wait: Waiting | None = None
) -> Iterator[Connection]:
    """The transaction of a review: it holds the lock of the requests (an import of them waits)
    and of the decisions (another review waits), up to ``wait`` seconds, then ``StoreBusy``."""
    with writing(
        engine, [REQUESTS, DECISIONS], "review or import", wait=wait, on_wait=on_wait
    ) as c:
        yield c


def _connection(bind: Engine | Connection) -> Any:
    """A connection of ``bind``: the one given, or a new one of the engine (closed after)."""
    return bind.connect() if isinstance(bind, Engine) else nullcontext(bind)


def current_decisions(bind: Engine | Connection) -> pl.DataFrame:
    """The latest decision of each request (an appeal's outcome replaces the one appealed),
    with ``decision_id``, the lottery ``seed`` of its review and whether it was appealed."""
    t, r = accommodation_decision, accommodation_review
    schema = {"decision_id": pl.Int64, **DECISION_SCHEMA, "decided_on": pl.Date, "seed": pl.Int64}
    with _connection(bind) as conn:
        frame = query_frame(
            conn,
            sql_select(t.c.id, *(t.c[c] for c in DECISION_SCHEMA), t.c.decided_on, r.c.seed)
            .select_from(t.outerjoin(r, t.c.review_id == r.c.id))
            .order_by(t.c.id),
            schema,
        )
        appealed = {row[0] for row in conn.execute(sql_select(accommodation_appeal.c.decision_id))}
    return (
        frame.group_by("request_id", maintain_order=True)
        .last()
        .with_columns(pl.col("decision_id").is_in(sorted(appealed)).alias("appealed"))
        .sort("decision_id")
    )


def pending_requests(bind: Engine | Connection) -> pl.DataFrame:
    """Stored requests with status ``pending`` and no decision in the decision table."""
    requests = record_frame(bind, "accommodation_request")
    decided = current_decisions(bind)["request_id"]
    return requests.filter(
        (pl.col("status") == "pending") & ~pl.col("request_id").is_in(decided.implode())
    ).sort("request_id")


def prior_decisions(bind: Engine | Connection) -> pl.DataFrame:
    """Decisions that count towards quotas: the decision table's current ones and requests
    the district recorded as granted or denied before this system (status in the record)."""
    current = current_decisions(bind).select("request_id", "basis", "outcome")
    stored = record_frame(bind, "accommodation_request")
    outside = stored.filter(
        pl.col("status").is_in(["granted", "denied"])
        & ~pl.col("request_id").is_in(current["request_id"].implode())
    ).select("request_id", "basis", pl.col("status").cast(pl.String).alias("outcome"))
    return pl.concat([current, outside])


def record_review(
    conn: Connection,
    selection: Selection,
    policy: Policy,
    on: dt.date,
    by: str,
    settings: Mapping[str, Value] | None = None,
) -> int:
    """Append the review and its decisions in the review's transaction (:func:`reviewing`, in
    which the selection was made from what it read); returns the review id."""
    now = dt.datetime.now(dt.UTC)
    review_id = conn.execute(
        insert(accommodation_review)
        .values(
            policy_id=policy.id,
            on_date=on,
            seed=selection.seed,
            settings_json=json.dumps({k: str(v) for k, v in (settings or {}).items()}),
            pools_json=json.dumps(selection.pools, default=str, sort_keys=True),
            created_at=now,
            created_by=by,
        )
        .returning(accommodation_review.c.id)
    ).scalar_one()
    rows = [
        {**r, "review_id": review_id, "decided_on": on, "recorded_at": now, "recorded_by": by}
        for r in selection.decisions.to_dicts()
    ]
    if rows:
        conn.execute(insert(accommodation_decision), rows)
    return int(review_id)


def record_appeal(
    engine: Engine,
    decision_id: int,
    filed_on: dt.date,
    grounds: str,
    by: str,
    *,
    wait: float = LOCK_WAIT,
    on_wait: Waiting | None = None,
) -> int:
    """File an appeal against a decision (a new record; the decision is untouched), in a
    transaction holding the decisions' lock (:func:`reviewing`)."""
    if not grounds.strip():
        raise SchoolmodeError("an appeal needs its grounds")
    with reviewing(engine, wait=wait, on_wait=on_wait) as conn:
        found = conn.execute(
            sql_select(accommodation_decision.c.request_id).where(
                accommodation_decision.c.id == decision_id
            )
        ).first()
        if found is None:
            raise SchoolmodeError(f"no accommodation decision {decision_id}")
        return int(
            conn.execute(
                insert(accommodation_appeal)
                .values(
                    decision_id=decision_id,
                    request_id=found[0],
                    filed_on=filed_on,
                    grounds=grounds,
                    recorded_at=dt.datetime.now(dt.UTC),
                    recorded_by=by,
                )
                .returning(accommodation_appeal.c.id)
            ).scalar_one()
        )


def record_appeal_outcome(
    engine: Engine,
    appeal_id: int,
    outcome: str,
    reason: str,
    on: dt.date,
    by: str,
    *,
    wait: float = LOCK_WAIT,
    on_wait: Waiting | None = None,
) -> int:
    """The outcome of an appeal: a new decision for the request that supersedes the one
    appealed (which stays, with the appeal, in the history). Returns the new decision id.
    Checked and recorded holding the decisions' lock (:func:`reviewing`): two outcomes of
    one appeal recorded at once end as one recorded, the other refused."""
    if outcome not in ("granted", "denied"):
        raise SchoolmodeError(f"an appeal's outcome is granted or denied, not {outcome!r}")
    if not reason.strip():
        raise SchoolmodeError("an appeal's outcome needs its reason")
    a, d = accommodation_appeal, accommodation_decision
    with reviewing(engine, wait=wait, on_wait=on_wait) as conn:
        appeal = conn.execute(sql_select(a.c.decision_id).where(a.c.id == appeal_id)).first()
        if appeal is None:
            raise SchoolmodeError(f"no accommodation appeal {appeal_id}")
        done = conn.execute(sql_select(d.c.id).where(d.c.appeal_id == appeal_id)).first()
        if done is not None:
            raise SchoolmodeError(
                f"appeal {appeal_id} already has its outcome (decision {done[0]})"
            )
        old = conn.execute(sql_select(d).where(d.c.id == appeal[0])).mappings().one()
        return int(
            conn.execute(
                insert(d)
                .values(
                    review_id=None,
                    appeal_id=appeal_id,
                    supersedes_id=old["id"],
                    request_id=old["request_id"],
                    person_id=old["person_id"],
                    basis=old["basis"],
                    outcome=outcome,
                    rule="appeal",
                    lottery_rank=old["lottery_rank"],
                    pool_size=old["pool_size"],
                    places=old["places"],
                    reason=f"{outcome} on appeal {appeal_id}: {reason}",
                    decided_on=on,
                    recorded_at=dt.datetime.now(dt.UTC),
                    recorded_by=by,
                )
                .returning(d.c.id)
            ).scalar_one()
        )


def history(engine: Engine, request_id: str) -> list[dict[str, Any]]:
    """Every decision and appeal on one request, oldest first (the audit trail)."""
    d, a = accommodation_decision, accommodation_appeal
    with engine.connect() as conn:
        events = [
            {"event": "decision", **dict(r)}
            for r in conn.execute(sql_select(d).where(d.c.request_id == request_id)).mappings()
        ] + [
            {"event": "appeal", **dict(r)}
            for r in conn.execute(sql_select(a).where(a.c.request_id == request_id)).mappings()
        ]
    return sorted(events, key=lambda e: (e["recorded_at"], e["event"] == "decision", e["id"]))
