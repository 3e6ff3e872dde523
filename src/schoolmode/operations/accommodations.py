"""Staff accommodation requests (remote work), pure: per-policy quotas, a seeded lottery when a
kind of request is over its quota, decisions with reasons, and role-filtered views.

The selection is pure (frames and a policy in, frames out); ``accommodations_store.py`` reads
the standard ``accommodation_request`` records and appends review, decision and appeal rows to
tables that the database keeps append-only.

Kinds of request (the ``basis`` of the standard record, :data:`ACCOMMODATION_BASIS_KIND`):

- ``own_high_risk``: the staff member is at high risk;
- ``household_high_risk``: a member of the staff member's household is at high risk;
- ``caregiver``: the staff member is a primary caregiver for a family member (``childcare``,
  the standard's example code, is read as this kind).

For each kind a policy gives the share granted as the parameter ``accommodation_<kind>_pct``
(or an interpretation of that name where the share was not found). No such parameter: the
policy makes no provision for that kind and the request is denied, saying so. 100% grants
every request. A smaller share is a quota: ``places = round(share x requests of the kind)``
under ``accommodation_quota_rounding`` (``floor`` where the policy says nothing), counted over
all requests of the kind decided so far plus the pending ones, less those already granted.

Selection over quota is a lottery, reproducible by anyone: each request's ticket is
``sha256("<seed>:<request_id>")`` in hex, the lowest tickets win. The ticket does not depend on
the order of the file, the person or the date of the request, so every pending request of a
kind has the same chance.

The seed is committed before any request is ranked (commit-reveal): drawn with ``secrets``
(:func:`draw_seed`) or given (dice at a joint meeting), it is recorded only as
:func:`commitment_digest`, ``sha256("schoolmode-lottery:<nonce>:<seed>")`` with a secret
random nonce (so a small seed cannot be found from its digest), together with the day, the
policy, the quota rules and :func:`pool_digest` of the eligible pending requests. The review
then reveals the seed and nonce; it is refused unless they match the commitment and the pool is
the one committed, and records the seed with the decisions. No ranking exists before the
reveal: a preview (:func:`quotas`) gives the pools and their places, never an order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl

from schoolmode.disclosure import Release, Rule, rule_on
from schoolmode.draws import lottery_ticket
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value, dated_value, interpretation, parameter
from schoolmode.standard.fields import ACCOMMODATION_BASIS_KIND, ACCOMMODATION_KINDS

ROLES = ("district-hr", "union", "public")
_ROUNDING = {"floor": ROUND_FLOOR, "ceil": ROUND_CEILING, "half_up": ROUND_HALF_UP}

DECISION_SCHEMA = {
    "request_id": pl.String,
    "person_id": pl.String,
    "basis": pl.String,
    "outcome": pl.String,
    "rule": pl.String,
    "lottery_rank": pl.Int64,
    "pool_size": pl.Int64,
    "places": pl.Int64,
    "reason": pl.String,
}
"""Columns of a decision: ``rule`` is ``all_granted``, ``lottery`` or ``no_provision`` (or
``appeal`` for an appeal's outcome)."""


@dataclass(frozen=True)
class KindRule:
    """What a policy grants for one kind of request."""

    kind: str
    share_pct: Decimal | None
    """None: the policy makes no provision for this kind."""
    source: str


def kind_rules(
    policy: Policy, on: dt.date, settings: Mapping[str, Value] | None = None
) -> dict[str, KindRule]:
    """The share granted for each kind under ``policy`` on ``on``."""
    rules = {}
    for kind in ACCOMMODATION_KINDS:
        name = f"accommodation_{kind}_pct"
        share: Decimal | None = None
        source = f"{policy.id} makes no provision for {kind} requests"
        if settings and settings.get(name) is not None:
            share, source = Decimal(str(settings[name])), f"setting {name}"
        elif name in policy.parameters:
            found = dated_value(policy, name, on)
            value = parameter(policy, name, on, settings)
            if found is not None and value is not None:
                share = Decimal(str(value))
                source = (
                    f"{policy.id} parameter {name} = {share}% from {found.from_} "
                    f"({found.clause}; confidence {found.confidence.value})"
                )
        elif name in policy.interpretations:
            share = Decimal(str(interpretation(policy, name, settings)))
            conf = policy.interpretations[name].confidence.value
            source = f"{policy.id} interpretation {name} = {share}% (confidence {conf})"
        rules[kind] = KindRule(kind, share, source)
    return rules


def quota_rounding(policy: Policy, settings: Mapping[str, Value] | None = None) -> str:
    if "accommodation_quota_rounding" in policy.interpretations:
        return str(interpretation(policy, "accommodation_quota_rounding", settings))
    return "floor"


def places(share_pct: Decimal, requests: int, rounding: str) -> int:
    """Accommodations a ``share_pct`` quota gives out of ``requests`` requests."""
    if rounding not in _ROUNDING:
        raise SchoolmodeError(f"rounding must be one of {sorted(_ROUNDING)}, not {rounding!r}")
    exact = Decimal(share_pct) * requests / 100
    return int(exact.quantize(Decimal(1), rounding=_ROUNDING[rounding]))


def quota_case(
    policy: Policy, settings: Mapping[str, Value] | None, *, on: dt.date, requests: int, kind: str
) -> dict[str, Any]:
    """For worked cases: the accommodations granted out of ``requests`` requests of ``kind``."""
    rule = kind_rules(policy, on, settings)[kind]
    if rule.share_pct is None:
        return {"granted": 0, "share_pct": "none"}
    granted = places(rule.share_pct, requests, quota_rounding(policy, settings))
    return {"granted": min(granted, requests), "share_pct": rule.share_pct}


@dataclass
class Selection:
    decisions: pl.DataFrame
    """One row per decided request (:data:`DECISION_SCHEMA`)."""
    pools: list[dict[str, Any]]
    """Per kind: share, rounding, counts, places and, for a lottery, the ranked request ids."""
    left_pending: pl.DataFrame
    """Requests whose basis is not a known kind: left for a person to decide."""
    seed: int


@dataclass
class Quotas:
    """The eligible pool and each kind's places, before any draw (no ranking)."""

    eligible: pl.DataFrame
    """Pending requests of a known kind: ``request_id``, ``person_id``, ``basis``, ``kind``."""
    pools: list[dict[str, Any]]
    """Per kind: rule, share, counts and places (no ranked list)."""
    left_pending: pl.DataFrame
    """Requests whose basis is not a known kind: left for a person to decide."""
    earlier: pl.DataFrame
    """Decisions already made, with their ``kind`` (they count towards the quotas)."""
    rules: dict[str, KindRule]
    rounding: str


_KIND = pl.col("basis").replace_strict(ACCOMMODATION_BASIS_KIND, default=None).alias("kind")


def quotas(
    requests: pl.DataFrame,
    policy: Policy,
    on: dt.date,
    decided: pl.DataFrame | None = None,
    settings: Mapping[str, Value] | None = None,
) -> Quotas:
    """The pending ``requests`` (``request_id``, ``person_id``, ``basis``) by kind and the
    places each kind has under ``policy`` on ``on``. ``decided`` are the current decisions
    already made (``request_id``, ``basis``, ``outcome``): they count towards a quota's base
    and its places."""
    for col in ("request_id", "person_id", "basis"):
        if col not in requests.columns:
            raise SchoolmodeError(f"requests lack the column {col!r}")
    if requests["request_id"].is_duplicated().any():
        dup = requests.filter(pl.col("request_id").is_duplicated())["request_id"][0]
        raise SchoolmodeError(f"request {dup!r} appears more than once")
    frame = requests.select(
        pl.col("request_id").cast(pl.String),
        pl.col("person_id").cast(pl.String),
        pl.col("basis").cast(pl.String),
    ).with_columns(_KIND)
    rules = kind_rules(policy, on, settings)
    rounding = quota_rounding(policy, settings)
    earlier = (
        decided.select("request_id", "basis", "outcome").with_columns(_KIND)
        if decided is not None and decided.height
        else pl.DataFrame(
            schema={
                "request_id": pl.String,
                "basis": pl.String,
                "outcome": pl.String,
                "kind": pl.String,
            }
        )
    )
    pools = [
        _quota(
            frame.filter(pl.col("kind") == kind).height,
            rules[kind],
            earlier.filter(pl.col("kind") == kind),
            rounding,
        )
        for kind in ACCOMMODATION_KINDS
        if frame.filter(pl.col("kind") == kind).height
    ]
    return Quotas(
        eligible=frame.filter(pl.col("kind").is_not_null()).sort("request_id"),
        pools=pools,
        left_pending=frame.filter(pl.col("kind").is_null()).drop("kind"),
        earlier=earlier,
        rules=rules,
        rounding=rounding,
    )


def select(
    requests: pl.DataFrame,
    policy: Policy,
    on: dt.date,
    seed: int,
    decided: pl.DataFrame | None = None,
    settings: Mapping[str, Value] | None = None,
) -> Selection:
    """Decide the pending ``requests`` under ``policy`` on ``on`` (:func:`quotas`), the
    lotteries drawn with ``seed``."""
    found = quotas(requests, policy, on, decided, settings)
    parts: list[pl.DataFrame] = []
    pools: list[dict[str, Any]] = []
    for pool in found.pools:
        kind = pool["kind"]
        pending = found.eligible.filter(pl.col("kind") == kind).drop("kind")
        part, ranked = _decide_kind(pending, found.rules[kind], pool, seed)
        parts.append(part)
        pools.append(pool if ranked is None else {**pool, "ranked": ranked})
    decisions = (
        pl.concat(parts).select(pl.col(c).cast(t) for c, t in DECISION_SCHEMA.items())
        if parts
        else pl.DataFrame(schema=DECISION_SCHEMA)
    )
    return Selection(decisions, pools, found.left_pending, seed)


def _quota(pending: int, rule: KindRule, earlier: pl.DataFrame, rounding: str) -> dict[str, Any]:
    """One kind's pool record: its rule, share, counts and free places."""
    granted_before = earlier.filter(pl.col("outcome") == "granted").height
    pool: dict[str, Any] = {
        "kind": rule.kind,
        "share_pct": None if rule.share_pct is None else str(rule.share_pct),
        "source": rule.source,
        "pending": pending,
        "decided_before": earlier.height,
        "granted_before": granted_before,
    }
    if rule.share_pct is None:
        pool.update(places=0, rule="no_provision")
    elif rule.share_pct >= 100:
        pool.update(places=pending, rule="all_granted")
    else:
        total = earlier.height + pending
        allowed = min(places(rule.share_pct, total, rounding), total)
        free = max(0, allowed - granted_before)
        pool.update(places=free, allowed=allowed, rounding=rounding, rule="lottery")
    return pool


def _decide_kind(
    pending: pl.DataFrame, rule: KindRule, pool: dict[str, Any], seed: int
) -> tuple[pl.DataFrame, list[dict[str, Any]] | None]:
    """The decisions on the ``pending`` requests of one kind (``pool``: its :func:`_quota`),
    and for a lottery the ranked list."""
    kind = rule.kind
    if pool["rule"] == "no_provision":
        part = _decide(pending, "denied", "no_provision", f"denied: {rule.source}", None, None)
        return part, None
    if pool["rule"] == "all_granted":
        reason = f"granted: every {kind} request ({rule.source})"
        return _decide(pending, "granted", "all_granted", reason, None, None), None
    free, allowed, rounding = pool["places"], pool["allowed"], pool["rounding"]
    total = pool["decided_before"] + pool["pending"]
    ranked = (
        pending.with_columns(
            pl.Series("ticket", [lottery_ticket(seed, r) for r in pending["request_id"]])
        )
        .sort("ticket", "request_id")
        .with_row_index("lottery_rank", offset=1)
        .with_columns(pl.col("lottery_rank").cast(pl.Int64))
    )
    n = ranked.height
    basis_text = (
        f"{allowed} place(s) = {rule.share_pct}% of {total} {kind} request(s), "
        f"{rounding}; {pool['granted_before']} granted before; {rule.source}"
    )
    part = ranked.with_columns(
        pl.when(pl.col("lottery_rank") <= free)
        .then(pl.lit("granted"))
        .otherwise(pl.lit("denied"))
        .alias("outcome"),
        pl.lit("lottery").alias("rule"),
        pl.lit(n, dtype=pl.Int64).alias("pool_size"),
        pl.lit(free, dtype=pl.Int64).alias("places"),
        (
            pl.when(pl.col("lottery_rank") <= free)
            .then(pl.lit("granted: drawn "))
            .otherwise(pl.lit("denied: drawn "))
            + pl.col("lottery_rank").cast(pl.String)
            + pl.lit(f" of {n} in the lottery (seed {seed}) for {free} free place(s); ")
            + pl.lit(basis_text)
        ).alias("reason"),
    ).select(*DECISION_SCHEMA)
    return part, ranked.select("lottery_rank", "request_id", "ticket").to_dicts()


# ---------------------------------------------------------------------- commit-reveal

SEED_BITS = 62
"""A drawn seed: ``secrets.randbits(SEED_BITS)`` (fits the store's 64-bit integer)."""


def draw_seed() -> int:
    """A lottery seed from the operating system's secure random source."""
    return secrets.randbits(SEED_BITS)


def draw_nonce() -> str:
    """The commitment's secret nonce: 128 random bits, hex."""
    return secrets.token_hex(16)


def commitment_digest(seed: int, nonce: str) -> str:
    """What is recorded before the draw: ``sha256("schoolmode-lottery:<nonce>:<seed>")``."""
    if seed < 0:
        raise SchoolmodeError(f"a lottery seed is a whole number from 0, not {seed}")
    return hashlib.sha256(f"schoolmode-lottery:{nonce}:{seed}".encode()).hexdigest()


def pool_digest(request_ids: Iterable[str]) -> str:
    """sha256 of the eligible request ids, sorted, one a line: the pool a commitment covers."""
    return hashlib.sha256("\n".join(sorted(request_ids)).encode()).hexdigest()


def quota_rules(found: Quotas) -> dict[str, Any]:
    """The quota rule a commitment records: each kind's share and its source, the rounding."""
    return {
        "rounding": found.rounding,
        "kinds": {
            k: {"share_pct": None if r.share_pct is None else str(r.share_pct), "source": r.source}
            for k, r in found.rules.items()
        },
    }


def _decide(
    pending: pl.DataFrame,
    outcome: str,
    rule: str,
    reason: str,
    rank: int | None,
    size: int | None,
) -> pl.DataFrame:
    return pending.select(
        "request_id",
        "person_id",
        "basis",
        pl.lit(outcome).alias("outcome"),
        pl.lit(rule).alias("rule"),
        pl.lit(rank, dtype=pl.Int64).alias("lottery_rank"),
        pl.lit(size, dtype=pl.Int64).alias("pool_size"),
        pl.lit(None, dtype=pl.Int64).alias("places"),
        pl.lit(reason).alias("reason"),
    )


# ---------------------------------------------------------------------- role views


def role_view(decisions: pl.DataFrame, role: str, on: dt.date | None = None) -> pl.DataFrame:
    """What ``role`` may see of ``decisions`` (current decisions, :data:`DECISION_SCHEMA` plus
    optional ``decision_id``, ``appealed``, ``seed``).

    - ``district-hr`` (decides and holds the medical evidence): everything.
    - ``union`` (represents members): each request, its pseudonymous person and its outcome
      (and the lottery's seed), nothing that maps onto the medical basis: not the basis, nor
      HR's reason, nor the pool, its size and places, the rule applied or the lottery rank
      (each kind has its own rule and share in the policy, so any of them says which kind a
      request was). The union checks the draws with ``accommodations verify``, which recomputes
      every lottery from its committed seed.
    - ``public``: the number of requests decided and of each outcome, across kinds (a kind's
      counts with the policy's public share for it would give the hidden ones back), through
      ``disclosure/`` (the dated small-count rule in force ``on``, default today: counts from 1
      to 10 hidden with complements so that the total cannot give one back), a hidden count
      shown as ``suppressed`` whatever the reason.
    """
    if role not in ROLES:
        raise SchoolmodeError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role == "district-hr":
        return decisions
    if role == "union":
        return decisions.select(
            *(c for c in ("decision_id",) if c in decisions.columns),
            "request_id",
            "person_id",
            "outcome",
            *(c for c in ("seed", "appealed") if c in decisions.columns),
        )
    return public_counts(decisions, rule_on(on or dt.date.today()))


def public_counts(decisions: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """The public view of :func:`role_view`: ``outcome`` (each outcome, then ``all``) and
    ``count`` (a number, or ``suppressed``)."""
    by = (
        decisions.group_by("outcome").agg(pl.len().cast(pl.Int64).alias("n")).sort("outcome")
        if decisions.height
        else pl.DataFrame(schema={"outcome": pl.String, "n": pl.Int64})
    )
    outcomes = [str(o) for o in by["outcome"].to_list()]
    wide = pl.DataFrame(
        {"unit": ["all"], "date": [dt.date.min], "all": [decisions.height]}
        | {o: [int(n)] for o, n in zip(outcomes, by["n"].to_list(), strict=True)},
        schema={"unit": pl.String, "date": pl.Date, "all": pl.Int64}
        | dict.fromkeys(outcomes, pl.Int64),
    )
    release = Release()
    release.add("decided", wide, ("unit", "date"), (*outcomes, "all"))
    release.across("decided", "all", outcomes)
    shown = release.apply(rule)["decided"].row(0, named=True)
    return pl.DataFrame(
        {
            "outcome": [*outcomes, "all"],
            "count": [
                "suppressed" if shown[c] is None else str(shown[c]) for c in (*outcomes, "all")
            ],
        },
        schema={"outcome": pl.String, "count": pl.String},
    )
