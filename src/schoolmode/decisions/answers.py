"""A named body's answers on eligible rules: decisions to act (``authorisation``) and refusals
(``refusal``), each with its reason, append-only and linked in the hash chain; and the latest
answer per rule and unit, for the role views."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Table, insert, select

from schoolmode.decisions.record import DecisionError, UnknownDecisionId
from schoolmode.policy import model as m
from schoolmode.policy.loader import LoadedPolicy
from schoolmode.store.chain import append_link
from schoolmode.store.db import as_utc, begin_write, whoami
from schoolmode.store.tables import RECORD_TABLES, authorisation, refusal


def authorise(
    engine: Engine,
    loaded: LoadedPolicy,
    rule_id: str,
    unit: str,
    day: dt.date,
    decided_by: str,
    reason: str,
    recorded_by: str | None = None,
) -> int:
    """Record a named body's decision to act on an eligible rule from ``day``."""
    return _answer(
        authorisation, engine, loaded, rule_id, unit, day, decided_by, reason, recorded_by
    )


def refuse(
    engine: Engine,
    loaded: LoadedPolicy,
    rule_id: str,
    unit: str,
    day: dt.date,
    decided_by: str,
    reason: str,
    recorded_by: str | None = None,
) -> int:
    """Record a named body's refusal to act on an eligible rule on ``day``, with its reason
    (the unit stays in its mode; the refusal is part of the audit trail)."""
    return _answer(refusal, engine, loaded, rule_id, unit, day, decided_by, reason, recorded_by)


def _answer(
    table: Table,
    engine: Engine,
    loaded: LoadedPolicy,
    rule_id: str,
    unit: str,
    day: dt.date,
    decided_by: str,
    reason: str,
    recorded_by: str | None,
) -> int:
    """A named body's answer (``authorisation`` or ``refusal``) on an eligible rule."""
    rules = {r.id: r for r in loaded.policy.rules}
    rule = rules.get(rule_id)
    if rule is None:
        raise UnknownDecisionId(
            f"policy {loaded.id!r} has no rule {rule_id!r} (rules: {', '.join(rules)})"
        )
    if rule.effect is None or rule.effect.action != m.Action.eligible:
        raise DecisionError(
            f"rule {rule_id!r} acts automatically; only eligible rules are decided by a body"
        )
    if not reason.strip():
        raise DecisionError("a decision needs a reason")
    with begin_write(engine) as conn:
        _check_unit(conn, rule.scope.value, unit)
        key = conn.execute(
            insert(table).values(
                policy_id=loaded.id,
                rule=rule_id,
                scope=rule.scope.value,
                unit=unit,
                date=day,
                decided_by=decided_by,
                reason=reason,
                recorded_at=dt.datetime.now(dt.UTC),
                recorded_by=recorded_by or whoami(),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        append_link(conn, table.name, int(key))
    return int(key)


def _check_unit(conn: Connection, scope: str, unit: str) -> None:
    """Refuse an authorisation for a school or classroom the store does not hold (an
    append-only record for a unit that does not exist could never be taken back)."""
    if scope not in ("school", "classroom"):
        return
    table = RECORD_TABLES[scope]
    column = table.c[f"{scope}_id"]
    if conn.execute(select(column).where(column == unit).limit(1)).first() is None:
        raise UnknownDecisionId(
            f"no {scope} {unit!r} in the store (import its {scope} records first); nothing recorded"
        )


@dataclass(frozen=True)
class Answer:
    """A named body's latest recorded answer on an eligible rule for a unit."""

    kind: str
    """``authorisation`` (act) or ``refusal``."""
    key: int
    date: dt.date
    decided_by: str
    reason: str
    recorded_at: dt.datetime


def latest_answers(
    engine: Engine, policy_id: str, day: dt.date, since: dt.date
) -> dict[tuple[str, str], Answer]:
    """Per (rule, unit): the latest answer (authorisation or refusal) of a policy's named body
    for a day from ``since`` to ``day``, the later recorded winning."""
    found: dict[tuple[str, str], Answer] = {}
    with engine.connect() as conn:
        for table in (authorisation, refusal):
            rows = conn.execute(
                select(
                    table.c.id,
                    table.c.rule,
                    table.c.unit,
                    table.c.date,
                    table.c.decided_by,
                    table.c.reason,
                    table.c.recorded_at,
                ).where(
                    (table.c.policy_id == policy_id)
                    & (table.c.date <= day)
                    & (table.c.date >= since)
                )
            ).all()
            for key, rule, unit, date, by, reason, at in rows:
                answer = Answer(table.name, int(key), date, by, reason, as_utc(at))
                kept = found.get((rule, unit))
                if kept is None or (answer.recorded_at, answer.key) > (kept.recorded_at, kept.key):
                    found[(rule, unit)] = answer
    return found
