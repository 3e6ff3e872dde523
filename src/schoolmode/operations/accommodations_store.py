"""Store edges of staff accommodation requests: read the stored requests and the current
decisions, append reviews, decisions and appeals (tables the database keeps append-only), and
the audit trail of one request. The selection itself is pure (``accommodations.py``).

The lottery is commit-reveal: :func:`record_commitment` records the seed's digest, the quota
rule and the eligible pool before any ranking; :func:`record_review` records a review only
against the latest commitment of its day, unrevealed, with the seed and nonce that hash to it
and the same pool; :func:`verify_lotteries` checks every recorded review against its
commitment.

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

from schoolmode.draws import lottery_ticket
from schoolmode.operations.accommodations import (
    DECISION_SCHEMA,
    Selection,
    commitment_digest,
    pool_digest,
)
from schoolmode.policy.errors import SchoolmodeError, UnknownIdError
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value
from schoolmode.store.chain import append_link
from schoolmode.store.frames import query_frame, record_frame
from schoolmode.store.locks import LOCK_WAIT, Waiting, writing
from schoolmode.store.tables import (
    accommodation_appeal,
    accommodation_decision,
    accommodation_review,
    lottery_commitment,
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


def record_commitment(
    conn: Connection,
    on: dt.date,
    policy: Policy,
    settings: Mapping[str, Value],
    rules: Mapping[str, Any],
    pool: list[str],
    commitment: str,
    by: str,
) -> int:
    """Record a commitment (in the review lock's transaction, :func:`reviewing`, in which the
    pool was read): the day, policy, settings, quota ``rules``, the digest of the eligible
    ``pool`` and the seed's ``commitment`` digest, linked in the audit hash chain in the same
    transaction. Returns its id."""
    commitment_id = int(
        conn.execute(
            insert(lottery_commitment)
            .values(
                on_date=on,
                policy_id=policy.id,
                settings_json=json.dumps({k: str(v) for k, v in settings.items()}, sort_keys=True),
                rules_json=json.dumps(rules, sort_keys=True),
                pool_sha256=pool_digest(pool),
                pool_size=len(pool),
                commitment_sha256=commitment,
                created_at=dt.datetime.now(dt.UTC),
                created_by=by,
            )
            .returning(lottery_commitment.c.id)
        ).scalar_one()
    )
    append_link(conn, "lottery_commitment", commitment_id)
    return commitment_id


def open_commitment(conn: Connection, on: dt.date) -> dict[str, Any]:
    """The latest commitment of day ``on``, refused when there is none or a review revealed it
    already (an earlier, unrevealed one of the day cannot be used: a new commitment abandons
    it, and :func:`verify_lotteries` lists it)."""
    c = lottery_commitment
    found = (
        conn.execute(sql_select(c).where(c.c.on_date == on).order_by(c.c.id.desc()).limit(1))
        .mappings()
        .first()
    )
    if found is None:
        raise SchoolmodeError(
            f"no lottery commitment for {on}: commit a seed first "
            "(`schoolmode accommodations commit`), then review with it"
        )
    used = conn.execute(
        sql_select(accommodation_review.c.id).where(
            accommodation_review.c.commitment_id == found["id"]
        )
    ).first()
    if used is not None:
        raise SchoolmodeError(
            f"lottery commitment {found['id']} for {on} was revealed by review {used[0]}: "
            "commit a new seed for another review"
        )
    return dict(found)


def check_reveal(commitment: Mapping[str, Any], seed: int, nonce: str, pool: list[str]) -> None:
    """Refuse a reveal that does not hash to the commitment, or a pool that is not the one
    committed."""
    if commitment_digest(seed, nonce) != commitment["commitment_sha256"]:
        raise SchoolmodeError(
            f"the seed and nonce do not match lottery commitment {commitment['id']}: "
            "nothing recorded"
        )
    if pool_digest(pool) != commitment["pool_sha256"]:
        raise SchoolmodeError(
            f"the pending requests changed since lottery commitment {commitment['id']} "
            f"({commitment['pool_size']} committed, {len(pool)} now): commit a new seed"
        )


def record_review(
    conn: Connection,
    selection: Selection,
    policy: Policy,
    on: dt.date,
    by: str,
    settings: Mapping[str, Value] | None = None,
    commitment: tuple[int, str] | None = None,
) -> int:
    """Append the review and its decisions in the review's transaction (:func:`reviewing`, in
    which the selection was made from what it read); ``commitment``: the id of the commitment
    revealed and its nonce. Returns the review id."""
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
            commitment_id=None if commitment is None else commitment[0],
            seed_nonce=None if commitment is None else commitment[1],
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


def _lottery_problems(
    conn: Connection, review: Mapping[str, Any], commitment: Mapping[str, Any] | None
) -> list[str]:
    """What is wrong with one review's reveal (empty: nothing)."""
    if commitment is None:
        return [f"review {review['id']} names commitment {review['commitment_id']}, not stored"]
    problems = []
    if commitment_digest(review["seed"], review["seed_nonce"]) != commitment["commitment_sha256"]:
        problems.append(f"review {review['id']}: its seed does not hash to its commitment")
    if commitment["created_at"] > review["created_at"]:
        problems.append(f"review {review['id']} was recorded before its commitment")
    decided = conn.execute(
        sql_select(accommodation_decision.c.request_id).where(
            accommodation_decision.c.review_id == review["id"]
        )
    ).scalars()
    if pool_digest(list(decided)) != commitment["pool_sha256"]:
        problems.append(f"review {review['id']} did not decide the pool committed")
    for pool in json.loads(review["pools_json"]):
        for row in pool.get("ranked", []):
            if row["ticket"] != lottery_ticket(review["seed"], row["request_id"]):
                problems.append(f"review {review['id']}: a ticket is not drawn with its seed")
                break
    return problems


def verify_lotteries(engine: Engine) -> dict[str, Any]:
    """Every commitment and the review that revealed it: the reveal hashes to the commitment,
    the review came after it and decided the pool committed, every ticket follows from the
    seed. Also lists the commitments no review revealed and reviews made without one."""
    c, r = lottery_commitment, accommodation_review
    with engine.connect() as conn:
        commitments = {row["id"]: dict(row) for row in conn.execute(sql_select(c)).mappings()}
        reviews = [dict(row) for row in conn.execute(sql_select(r).order_by(r.c.id)).mappings()]
        problems: list[str] = []
        revealed: set[int] = set()
        for review in reviews:
            if review["commitment_id"] is None:
                continue
            revealed.add(review["commitment_id"])
            problems += _lottery_problems(conn, review, commitments.get(review["commitment_id"]))
    return {
        "commitments": len(commitments),
        "revealed": sorted(revealed),
        "unrevealed": sorted(set(commitments) - revealed),
        "reviews_without_commitment": [v["id"] for v in reviews if v["commitment_id"] is None],
        "problems": problems,
    }


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
            raise UnknownIdError(f"no accommodation decision {decision_id}")
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
