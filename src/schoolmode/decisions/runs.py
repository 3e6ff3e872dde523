"""The stored decision runs, one row each (what ``schoolmode decisions list`` shows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Engine, func, select

from schoolmode.store.db import as_utc
from schoolmode.store.tables import RECORD_TABLES, decision, decision_run


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
    return [
        DecisionRunRow(
            run_id=r[0],
            policy_id=r[1],
            first=r[2],
            last=r[3],
            created_at=as_utc(r[4]),
            created_by=r[5],
            decisions=r[6],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class UnitDecision:
    """One unit's stored decision on a day (no trace: what anyone may read)."""

    scope: str
    unit: str
    mode: str
    status: str
    rule: str | None
    action: str | None
    decided_by: str | None


@dataclass(frozen=True)
class DayDecisions:
    """A page of the decisions of the latest run that decided ``day``."""

    day: dt.date
    run_id: int
    policy_id: str
    policy_hash: str
    total: int
    rows: list[UnitDecision]


def day_decisions(
    engine: Engine,
    day: dt.date,
    scope: str | None = None,
    units: Collection[str] | None = None,
    limit: int = 100,
    offset: int = 0,
    run_id: int | None = None,
) -> DayDecisions | None:
    """The decisions of ``day`` in its latest run (``run_id``: in that run, when it decided
    the day; None when no run decided it), of ``scope`` and ``units`` when given, ordered by
    scope and unit: ``total`` rows, ``limit`` from ``offset``."""
    with engine.connect() as conn:
        run = conn.execute(
            select(decision_run.c.id, decision_run.c.policy_id, decision_run.c.policy_hash)
            .where(
                decision_run.c.first_date <= day,
                decision_run.c.last_date >= day,
                *([] if run_id is None else [decision_run.c.id == run_id]),
            )
            .order_by(decision_run.c.id.desc())
            .limit(1)
        ).first()
        if run is None:
            return None
        where = [decision.c.run_id == run.id, decision.c.date == day]
        if scope is not None:
            where.append(decision.c.scope == scope)
        if units is not None:
            where.append(decision.c.unit.in_(sorted(units)))
        total = conn.execute(select(func.count()).select_from(decision).where(*where)).scalar_one()
        rows = conn.execute(
            select(
                decision.c.scope,
                decision.c.unit,
                decision.c.mode,
                decision.c.status,
                decision.c.rule,
                decision.c.action,
                decision.c.decided_by,
            )
            .where(*where)
            .order_by(decision.c.scope, decision.c.unit)
            .limit(limit)
            .offset(offset)
        ).all()
    return DayDecisions(
        day, run.id, run.policy_id, run.policy_hash, int(total), [UnitDecision(*r) for r in rows]
    )


def run_policy(engine: Engine, run_id: int) -> tuple[str, str]:
    """The policy id and content hash a stored run decided with."""
    with engine.connect() as conn:
        row = conn.execute(
            select(decision_run.c.policy_id, decision_run.c.policy_hash).where(
                decision_run.c.id == run_id
            )
        ).one()
    return str(row[0]), str(row[1])


def latest_run_for_day(engine: Engine, day: dt.date) -> int | None:
    """The latest run that decided ``day`` (None: none did)."""
    with engine.connect() as conn:
        found = conn.execute(
            select(func.max(decision_run.c.id)).where(
                decision_run.c.first_date <= day, decision_run.c.last_date >= day
            )
        ).scalar_one()
    return None if found is None else int(found)


def school_of(engine: Engine, scope: str, unit: str) -> str | None:
    """The school a unit belongs to: itself for a school, its school for a classroom (any
    school year), None for the district or an unknown classroom."""
    if scope == "school":
        return unit
    if scope != "classroom":
        return None
    table = RECORD_TABLES["classroom"]
    with engine.connect() as conn:
        row = conn.execute(
            select(table.c.school_id).where(table.c.classroom_id == unit).limit(1)
        ).first()
    return None if row is None else str(row[0])


def latest_decided_day(engine: Engine) -> dt.date | None:
    """The last day any stored run decided (None: no run yet)."""
    with engine.connect() as conn:
        found: dt.date | None = conn.execute(
            select(func.max(decision_run.c.last_date))
        ).scalar_one()
    return found


def mode_counts(engine: Engine, day: dt.date, run_id: int) -> dict[tuple[str, str], int]:
    """(scope, mode) -> how many units of that scope ``run_id`` put in that mode on ``day``
    (counts of schools and classrooms, never of people)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(decision.c.scope, decision.c.mode, func.count())
            .where(decision.c.run_id == run_id, decision.c.date == day)
            .group_by(decision.c.scope, decision.c.mode)
        ).all()
    return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


@dataclass(frozen=True)
class DatedDecision:
    """A unit's decision on a day, from the latest run that decided the day."""

    day: dt.date
    run_id: int
    policy_id: str
    mode: str
    status: str
    rule: str | None


def unit_history(
    engine: Engine, scope: str, unit: str, first: dt.date, last: dt.date
) -> list[DatedDecision]:
    """``unit``'s decisions from ``first`` to ``last``, each day's from the latest run that
    decided the day (:func:`latest_run_for_day`: a later run's decision of a day supersedes an
    earlier one's), oldest first."""
    with engine.connect() as conn:
        runs = conn.execute(
            select(decision_run.c.id, decision_run.c.first_date, decision_run.c.last_date).where(
                decision_run.c.first_date <= last, decision_run.c.last_date >= first
            )
        ).all()
        rows = conn.execute(
            select(
                decision.c.date,
                decision.c.run_id,
                decision_run.c.policy_id,
                decision.c.mode,
                decision.c.status,
                decision.c.rule,
            )
            .join(decision_run, decision_run.c.id == decision.c.run_id)
            .where(
                decision.c.date.between(first, last),
                decision.c.scope == scope,
                decision.c.unit == unit,
            )
            .order_by(decision.c.date)
        ).all()

    def latest(day: dt.date) -> int:
        return max(int(r.id) for r in runs if r.first_date <= day <= r.last_date)

    return [DatedDecision(*r) for r in rows if r[1] == latest(r[0])]


def newest_run(engine: Engine) -> int:
    """The id of the newest stored run (0: none): anything read from the decisions is the same
    for as long as it is."""
    with engine.connect() as conn:
        found = conn.execute(select(func.max(decision_run.c.id))).scalar_one()
    return 0 if found is None else int(found)


def scope_history(
    engine: Engine,
    scope: str,
    first: dt.date,
    last: dt.date,
    units: Collection[str] | None = None,
) -> pl.DataFrame:
    """The decisions of ``scope``'s units (``units`` only, when given) from ``first`` to
    ``last``, each day's from the latest run that decided it: columns date, unit, run_id,
    policy_id, mode, status, by unit and date."""
    with engine.connect() as conn:
        runs = conn.execute(
            select(decision_run.c.id, decision_run.c.first_date, decision_run.c.last_date).where(
                decision_run.c.first_date <= last, decision_run.c.last_date >= first
            )
        ).all()
        rows = conn.execute(
            select(
                decision.c.date,
                decision.c.unit,
                decision.c.run_id,
                decision_run.c.policy_id,
                decision.c.mode,
                decision.c.status,
            )
            .join(decision_run, decision_run.c.id == decision.c.run_id)
            .where(
                decision.c.date.between(first, last),
                decision.c.scope == scope,
                *([] if units is None else [decision.c.unit.in_(sorted(units))]),
            )
        ).all()
    schema = {
        "date": pl.Date,
        "unit": pl.String,
        "run_id": pl.Int64,
        "policy_id": pl.String,
        "mode": pl.String,
        "status": pl.String,
    }
    frame = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    days = pl.date_range(first, last, eager=True).to_frame("date")
    latest = days.with_columns(
        pl.max_horizontal(
            pl.when((pl.col("date") >= f) & (pl.col("date") <= t)).then(pl.lit(rid))
            for rid, f, t in runs
        ).alias("run_id")
        if runs
        else pl.lit(None, pl.Int64).alias("run_id")
    )
    return frame.join(latest, on=["date", "run_id"], how="semi").sort("unit", "date")


def classroom_schools(engine: Engine, classrooms: Collection[str]) -> dict[str, str]:
    """Each of ``classrooms``' school (any school year; an unknown classroom is left out)."""
    if not classrooms:
        return {}
    table = RECORD_TABLES["classroom"]
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.classroom_id, table.c.school_id)
            .where(table.c.classroom_id.in_(sorted(set(classrooms))))
            .distinct()
        ).all()
    return {str(r[0]): str(r[1]) for r in rows}
