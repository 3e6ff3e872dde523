"""Store edges of screening: save a plan, read its pools, ingest results, the exceptions queue.

Thin functions around the pure ones of ``screening.py`` and ``screening_results.py``. Plans,
pool members and results are append-only (database triggers); an exception is resolved once.
Every ingest is one transaction: a malformed file stores nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, func, insert, select, update

from schoolmode.operations.pooling import Deconvolution, deconvolve, positivity
from schoolmode.operations.screening import ZIP_CASES_METRIC, ScreeningError
from schoolmode.operations.screening_plan import ScreeningPlan
from schoolmode.operations.screening_results import (
    RESULT_SCHEMA,
    ResultsCheck,
    check_results,
    read_results,
    split_results,
)
from schoolmode.store.db import begin_write, whoami
from schoolmode.store.frames import load_frames, query_frame, record_frame
from schoolmode.store.locks import writing
from schoolmode.store.tables import (
    RECORD_TABLES,
    screening_exception,
    screening_plan,
    screening_pool_member,
    screening_result,
)

PLAN_INPUTS = (
    "school",
    "classroom",
    "person",
    "enrolment",
    "staff_assignment",
    "testing_consent",
)


def plan_inputs(engine: Engine) -> dict[str, pl.DataFrame]:
    """The standard frames a plan reads, from the store: rosters and consent whole; of
    ``community_indicator`` only the ZIP weekly cases, of ``test`` only screening tests."""
    frames = load_frames(engine, PLAN_INPUTS)
    indicator, test = RECORD_TABLES["community_indicator"].c, RECORD_TABLES["test"].c
    with engine.connect() as conn:
        frames["community_indicator"] = record_frame(
            conn,
            "community_indicator",
            (indicator.geography_type == "zip") & (indicator.metric == ZIP_CASES_METRIC),
        )
        frames["test"] = record_frame(conn, "test", test.screening.is_(True))
    return frames


RESULTS = "screening-results"
"""The lock name of the screening results and their exceptions (``store.locks``)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def save_plan(engine: Engine, plan: ScreeningPlan, by: str | None = None) -> int:
    """Store a plan and its pool members (one transaction); returns the plan id."""
    with begin_write(engine) as conn:
        plan_id = conn.execute(
            insert(screening_plan)
            .values(
                policy_id=plan.policy_id,
                week_start=plan.week,
                seed=plan.seed,
                parameters_day=plan.on,
                settings_json=json.dumps(plan.settings, sort_keys=True),
                top_zips_json=plan.top_zips.write_json(),
                schools_json=plan.schools.write_json(),
                created_at=_now(),
                created_by=by or whoami(),
            )
            .returning(screening_plan.c.id)
        ).scalar_one()
        rows = plan.tests.select(
            pl.lit(plan_id).alias("plan_id"),
            "person_id",
            "pool_id",
            "school_id",
            pl.col("group").alias("person_group"),
        ).to_dicts()
        if rows:
            conn.execute(insert(screening_pool_member), rows)
    return int(plan_id)


@dataclass(frozen=True)
class StoredPlan:
    id: int
    policy_id: str
    week: dt.date
    seed: int
    settings: dict[str, Any]
    schools: pl.DataFrame
    members: pl.DataFrame
    """``person_id``, ``pool_id``, ``school_id``, ``group``."""


def plan_id_for(engine: Engine, plan_id: int | None, week: dt.date | None = None) -> int:
    """``plan_id`` if it exists, else the latest plan (of ``week`` when given)."""
    with engine.connect() as conn:
        if plan_id is not None:
            found = conn.execute(
                select(screening_plan.c.id).where(screening_plan.c.id == plan_id)
            ).scalar()
            if found is None:
                raise ScreeningError(f"no screening plan {plan_id} in the store")
            return int(found)
        query = select(func.max(screening_plan.c.id))
        if week is not None:
            query = query.where(screening_plan.c.week_start == week)
        latest = conn.execute(query).scalar()
    if latest is None:
        where = f" for the week of {week}" if week else ""
        raise ScreeningError(f"no screening plan{where} in the store: run `screening plan`")
    return int(latest)


def load_plan(engine: Engine, plan_id: int) -> StoredPlan:
    with engine.connect() as conn:
        row = conn.execute(select(screening_plan).where(screening_plan.c.id == plan_id)).one()
        member = screening_pool_member.c
        frame = query_frame(
            conn,
            select(member.person_id, member.pool_id, member.school_id, member.person_group).where(
                member.plan_id == plan_id
            ),
            {
                "person_id": pl.String,
                "pool_id": pl.String,
                "school_id": pl.String,
                "group": pl.String,
            },
        )
    return StoredPlan(
        id=row.id,
        policy_id=row.policy_id,
        week=row.week_start,
        seed=row.seed,
        settings=json.loads(row.settings_json),
        schools=pl.read_json(row.schools_json.encode()),
        members=frame.sort("pool_id", "person_id"),
    )


def _stored(conn: Connection, plan_id: int) -> pl.DataFrame:
    cols = [screening_result.c[c] for c in RESULT_SCHEMA]
    query = (
        select(*cols).where(screening_result.c.plan_id == plan_id).order_by(screening_result.c.id)
    )
    return query_frame(conn, query, RESULT_SCHEMA)


def stored_results(engine: Engine, plan_id: int) -> pl.DataFrame:
    with engine.connect() as conn:
        return _stored(conn, plan_id)


def ingest_results(
    engine: Engine, plan_id: int, path: Path, today: dt.date, by: str | None = None
) -> ResultsCheck:
    """Read ``path``, check it against the plan and what is stored, and store the new results
    and the exceptions in one transaction (see ``screening_results``)."""
    rows = read_results(path)
    plan = load_plan(engine, plan_id)
    who = by or whoami()
    now = _now()
    # checked against what is stored and written holding the results' lock: two ingests of
    # one file at once store its results once
    with writing(engine, [RESULTS], "results ingest or resolution") as conn:
        stored = _stored(conn, plan_id)
        checked = check_results(rows, plan.members, stored, today)
        base = {"plan_id": plan_id, "file_name": str(path), "recorded_at": now, "recorded_by": who}
        if checked.accepted.height:
            conn.execute(
                insert(screening_result),
                [{**base, **r} for r in checked.accepted.to_dicts()],
            )
        if checked.exceptions.height:
            conn.execute(
                insert(screening_exception),
                [{**base, **r, "status": "open"} for r in checked.exceptions.to_dicts()],
            )
    return checked


@dataclass(frozen=True)
class PlanOutcome:
    plan: StoredPlan
    results: pl.DataFrame
    outcome: Deconvolution
    positivity: dict[str, dict[str, str | float | int | None]]
    open_exceptions: int


def plan_outcome(engine: Engine, plan_id: int) -> PlanOutcome:
    """Deconvolve every stored result of a plan; positivity by test and by person."""
    plan = load_plan(engine, plan_id)
    results = stored_results(engine, plan_id)
    pools, singles = split_results(results)
    outcome = deconvolve(plan.members.select("person_id", "pool_id"), pools, singles)
    rates = {r: positivity(pools, singles, outcome, r) for r in ("by_test", "by_person")}
    with engine.connect() as conn:
        open_count = conn.execute(
            select(func.count())
            .select_from(screening_exception)
            .where(screening_exception.c.plan_id == plan_id, screening_exception.c.status == "open")
        ).scalar_one()
    return PlanOutcome(plan, results, outcome, dict(rates), int(open_count))


EXCEPTION_COLUMNS = (
    "id",
    "plan_id",
    "kind",
    "file_name",
    "file_row",
    "field",
    "value",
    "detail",
    "status",
    "resolved_by",
    "resolution",
)


def list_exceptions(
    engine: Engine,
    status: str | None = "open",
    plan_id: int | None = None,
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> pl.DataFrame:
    """The exceptions (``status``: open, resolved or None for both) of one plan or all,
    recorded from ``first`` to ``last`` (UTC days, both included), oldest first."""
    query = select(*(screening_exception.c[c] for c in EXCEPTION_COLUMNS)).order_by(
        screening_exception.c.id
    )
    recorded = screening_exception.c.recorded_at
    if first is not None:
        query = query.where(recorded >= dt.datetime.combine(first, dt.time(), dt.UTC))
    if last is not None:
        after = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
        query = query.where(recorded < after)
    if status is not None:
        query = query.where(screening_exception.c.status == status)
    if plan_id is not None:
        query = query.where(screening_exception.c.plan_id == plan_id)
    schema = {
        c: pl.Int64 if c in ("id", "plan_id", "file_row") else pl.String for c in EXCEPTION_COLUMNS
    }
    with engine.connect() as conn:
        return query_frame(conn, query, schema)


def resolve_exception(engine: Engine, exception_id: int, note: str, by: str | None = None) -> None:
    """Mark an open exception resolved with a note (once; the row itself is kept)."""
    if not note.strip():
        raise ScreeningError("a resolution needs a note saying what was done")
    with writing(engine, [RESULTS], "results ingest or resolution") as conn:
        status = conn.execute(
            select(screening_exception.c.status).where(screening_exception.c.id == exception_id)
        ).scalar()
        if status is None:
            raise ScreeningError(f"no screening exception {exception_id}")
        if status != "open":
            raise ScreeningError(f"screening exception {exception_id} is already {status}")
        conn.execute(
            update(screening_exception)
            .where(screening_exception.c.id == exception_id)
            .values(
                status="resolved", resolved_at=_now(), resolved_by=by or whoami(), resolution=note
            )
        )


def week_tests(engine: Engine, monday: dt.date) -> pl.DataFrame:
    """The store's standard ``test`` rows with a specimen collected Monday to Sunday."""
    collected = RECORD_TABLES["test"].c.specimen_date
    return record_frame(engine, "test", collected.between(monday, monday + dt.timedelta(days=6)))
