"""The stored decision runs, one row each (what ``schoolmode decisions list`` shows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from schoolmode.store.tables import decision, decision_run


@dataclass(frozen=True)
class DecisionRunRow:
    """One stored decision run and how many decisions it holds."""

    run_id: int
    policy_id: str
    first: dt.date
    last: dt.date
    created_at: dt.datetime
    created_by: str | None
    decisions: int


def decision_runs(engine: Engine) -> list[DecisionRunRow]:
    """Every stored decision run, oldest first, with its number of decisions."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                decision_run.c.id,
                decision_run.c.policy_id,
                decision_run.c.first_date,
                decision_run.c.last_date,
                decision_run.c.created_at,
                decision_run.c.created_by,
                func.count(decision.c.id),
            )
            .join(decision, decision.c.run_id == decision_run.c.id, isouter=True)
            .group_by(decision_run.c.id)
            .order_by(decision_run.c.id)
        ).all()
    return [DecisionRunRow(*r) for r in rows]
