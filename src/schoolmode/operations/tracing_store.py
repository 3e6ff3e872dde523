"""The store's edge of contact tracing: record trace runs, read the orders in force, record
the local health department's decision on a detected outbreak.

Everything here is append-only (tables of migration 0005, guarded by triggers):

- ``trace_run``: one row per recording, with the content hash of every policy the rules were
  read from and the rule periods in force (so each order's rule and policy hash are audited);
- ``traced_contact``, ``traced_order``: contacts and orders as issued (one row per change: an
  order whose dates change when a case is traced again gets a new row; an order a later trace of
  the same case no longer issues gets a ``withdrawn`` row). Recording the same result twice
  writes nothing (idempotent);
- ``trace_exception``: cases that could not be traced (the queue a person works through);
- ``outbreak_confirmation``: the LHD's answer on a detected outbreak.

Orders in force (:func:`effective_orders`) are the imported ``quarantine_order`` rows plus the
latest state of each traced order, merged per person and kind by
:func:`schoolmode.operations.tracing_orders.merge_orders` (latest end wins).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Connection, Engine, func, insert, select

from schoolmode.operations.tracing import (
    CONTACT_COLUMNS,
    FAR,
    ISOLATION,
    QUARANTINE,
    TEST_TO_STAY,
    WINDOW,
    Rosters,
    Tracing,
    outbreaks,
    rules_in_force,
    trace,
)
from schoolmode.operations.tracing_orders import merge_orders
from schoolmode.policy.errors import SchoolmodeError, UnknownIdError
from schoolmode.policy.loader import Registry, policy_hash
from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES
from schoolmode.store.db import begin_write, whoami
from schoolmode.store.frames import load_frames, table_frame
from schoolmode.store.locks import writing
from schoolmode.store.tables import (
    RECORD_TABLES,
    outbreak_confirmation,
    trace_exception,
    trace_run,
    traced_contact,
    traced_order,
)

ORDER_COLUMNS = list(frame_schema(RECORD_TYPES["quarantine_order"]))
ORDER_VALUES = [*ORDER_COLUMNS, "status", "rule", "policy_id"]


@dataclass(frozen=True)
class Recorded:
    """What one recording wrote (``run_id`` is ``None`` when nothing was new)."""

    run_id: int | None
    orders_added: int
    orders_withdrawn: int
    contacts_added: int
    exceptions_added: int

    def summary(self) -> str:
        if self.run_id is None:
            return "unchanged: every order, contact and exception is already stored"
        return (
            f"trace run #{self.run_id}: {self.orders_added} order row(s) added, "
            f"{self.orders_withdrawn} withdrawn, {self.contacts_added} contact(s), "
            f"{self.exceptions_added} exception(s)"
        )


_ORDER_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    **frame_schema(RECORD_TYPES["quarantine_order"]),
    "status": pl.String(),
    "rule": pl.String(),
    "policy_id": pl.String(),
    "policy_hash": pl.String(),
    "run_id": pl.Int64(),
}
_CONTACT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "case_id": pl.String(),
    "person_id": pl.String(),
    "setting": pl.String(),
    "classroom_id": pl.String(),
    "last_exposure": pl.Date(),
    "attendance": pl.String(),
    "rule": pl.String(),
    "policy_id": pl.String(),
}
_EXCEPTION_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "run_id": pl.Int64(),
    "case_id": pl.String(),
    "person_id": pl.String(),
    "reason": pl.String(),
}


def order_history(bind: Engine | Connection) -> pl.DataFrame:
    """Every stored traced-order row (``id`` order is issue order)."""
    return table_frame(bind, traced_order, _ORDER_SCHEMA).sort("id")


def _latest(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    return frame.sort("id").unique(list(keys), keep="last", maintain_order=True)


def traced_orders(engine: Engine) -> pl.DataFrame:
    """The latest state of each traced order that is not withdrawn (with rule and policy)."""
    latest = _latest(order_history(engine), ["order_id"])
    return latest.filter(pl.col("status") == "issued").drop("status")


def trace_exceptions(bind: Engine | Connection) -> pl.DataFrame:
    """Stored exceptions (cases that could not be traced), one row per case and reason."""
    return _latest(table_frame(bind, trace_exception, _EXCEPTION_SCHEMA), ["case_id", "reason"])


TRACING = "tracing"
"""The lock name of the traced orders, contacts and exceptions (``store.locks``)."""


def _changes(
    conn: Connection, result: Tracing, ids: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``(new, gone, new_contacts, exceptions)``: what ``result`` (a trace of ``ids``) changes
    in the stored state read through ``conn``."""
    issued = result.issued.select(
        *ORDER_COLUMNS, pl.lit("issued").alias("status"), "rule", "policy_id"
    )
    stored = _latest(order_history(conn), ["order_id"])
    mine = stored.filter(pl.col("case_id").is_in(ids))
    new = issued.join(mine.select(ORDER_VALUES), on=ORDER_VALUES, how="anti", nulls_equal=True)
    gone = (
        mine.filter(pl.col("status") == "issued")
        .join(issued.select("order_id"), on="order_id", how="anti")
        .select(*ORDER_COLUMNS, pl.lit("withdrawn").alias("status"), "rule", "policy_id")
    )
    contacts = result.contacts.select(CONTACT_COLUMNS)
    old_contacts = _latest(
        table_frame(conn, traced_contact, _CONTACT_SCHEMA), ["case_id", "person_id"]
    )
    new_contacts = contacts.join(
        old_contacts.select(CONTACT_COLUMNS), on=CONTACT_COLUMNS, how="anti", nulls_equal=True
    )
    exceptions = result.exceptions
    if exceptions.height:
        queued = trace_exceptions(conn).select("case_id", "reason")
        exceptions = exceptions.join(queued, on=["case_id", "reason"], how="anti")
    return new, gone, new_contacts, exceptions


def record_tracing(
    engine: Engine,
    result: Tracing,
    registry: Registry,
    traced_cases: Sequence[str],
    local: Sequence[tuple[str, str]] = (),
    created_by: str | None = None,
    now: dt.datetime | None = None,
) -> Recorded:
    """Append ``result`` (a trace of ``traced_cases``) to the store, in one transaction.

    Writes only what differs from the stored state: orders new or with other dates/rule, orders
    of these cases no longer issued (as ``withdrawn``), contacts new or changed, exceptions not
    yet queued. Nothing new: no run is written."""
    ids = sorted(set(traced_cases))
    # the stored state read and the difference written holding the tracing lock: two traces
    # of the same cases at once write their orders once
    with writing(engine, [TRACING], "trace") as conn:
        new, gone, new_contacts, exceptions = _changes(conn, result, ids)
        if new.height + gone.height + new_contacts.height + exceptions.height == 0:
            return Recorded(None, 0, 0, 0, 0)
        used = sorted({QUARANTINE, ISOLATION, TEST_TO_STAY, WINDOW[0], *(p for p, _ in local)})
        hashes = {p: policy_hash(registry.get(p).policy) for p in used}
        rules = rules_in_force(registry, local)
        run_id = conn.execute(
            insert(trace_run)
            .values(
                cases=len(ids),
                case_ids_sha256=hashlib.sha256("\n".join(ids).encode()).hexdigest(),
                policies_json=json.dumps(hashes, sort_keys=True),
                rules_json=json.dumps(rules.to_dicts(), default=str, sort_keys=True),
                local_json=json.dumps([list(p) for p in local]),
                created_at=now or dt.datetime.now(dt.UTC),
                created_by=created_by or whoami(),
            )
            .returning(trace_run.c.id)
        ).scalar_one()
        orders = pl.concat([new, gone]).with_columns(
            pl.lit(run_id).alias("run_id"),
            pl.col("policy_id").replace_strict(hashes, default=None).alias("policy_hash"),
        )
        for piece in orders.iter_slices(5000):
            conn.execute(insert(traced_order), piece.to_dicts())
        for piece in new_contacts.with_columns(pl.lit(run_id).alias("run_id")).iter_slices(5000):
            conn.execute(insert(traced_contact), piece.to_dicts())
        if exceptions.height:
            rows = exceptions.with_columns(pl.lit(run_id).alias("run_id")).to_dicts()
            conn.execute(insert(trace_exception), rows)
    return Recorded(int(run_id), new.height, gone.height, new_contacts.height, exceptions.height)


def stored_rosters(engine: Engine) -> tuple[pl.DataFrame, Rosters]:
    """``(case, rosters)`` frames from the store."""
    frames = load_frames(engine, ("case", "person", "enrolment", "staff_assignment", "absence"))
    rosters = Rosters(
        frames["person"], frames["enrolment"], frames["staff_assignment"], frames["absence"]
    )
    return frames["case"], rosters


def trace_and_record(
    engine: Engine,
    registry: Registry,
    case_ids: Sequence[str] | None = None,
    local: Sequence[tuple[str, str]] = (),
    created_by: str | None = None,
) -> tuple[Tracing, Recorded]:
    """Trace stored cases (all when ``case_ids`` is ``None``) and record the result. Unknown
    case ids raise :class:`SchoolmodeError` before anything is written; cases whose person is
    on no roster are queued as exceptions (recorded, nothing else lost)."""
    cases, rosters = stored_rosters(engine)
    if case_ids is not None:
        missing = sorted(set(case_ids) - set(cases["case_id"]))
        if missing:
            raise UnknownIdError(f"no case {', '.join(map(repr, missing))} in the store")
        cases = cases.filter(pl.col("case_id").is_in(list(case_ids)))
    result = trace(cases, rosters, registry, local=local)
    recorded = record_tracing(
        engine, result, registry, cases["case_id"].to_list(), local, created_by
    )
    return result, recorded


def effective_orders(engine: Engine) -> pl.DataFrame:
    """Orders in force: imported ``quarantine_order`` rows and traced orders, merged per person
    and kind (standard columns)."""
    imported = load_frames(engine, ("quarantine_order",))["quarantine_order"]
    traced = traced_orders(engine).select(ORDER_COLUMNS)
    merged, _ = merge_orders(pl.concat([imported, traced]).unique("order_id", keep="first"))
    return merged


def quarantine_list(engine: Engine, school_id: str, on: dt.date) -> pl.DataFrame:
    """Orders in force on ``on`` (:func:`effective_orders`) for people at ``school_id`` that day
    (students enrolled in one of its classrooms, staff assigned to it). A school the store
    does not know (no profile, classroom or staff assignment) is an unknown id."""
    frames = load_frames(engine, ("enrolment", "staff_assignment", "classroom"))
    day = pl.lit(on)
    active = (pl.col("start_date") <= day) & (pl.col("end_date").fill_null(FAR) >= day)
    rooms = frames["classroom"].filter(pl.col("school_id") == school_id)["classroom_id"]
    if (
        rooms.is_empty()
        and frames["staff_assignment"].filter(pl.col("school_id") == school_id).is_empty()
    ):
        school = RECORD_TABLES["school"]
        with engine.connect() as conn:
            listed = conn.execute(
                select(school.c.school_id).where(school.c.school_id == school_id).limit(1)
            ).first()
        if listed is None:
            raise UnknownIdError(
                f"no school {school_id!r} in the store (import its school records first)"
            )
    students = frames["enrolment"].filter(active & pl.col("classroom_id").is_in(rooms.implode()))
    staff = frames["staff_assignment"].filter(active & (pl.col("school_id") == school_id))
    people = pl.concat([students.select("person_id"), staff.select("person_id")]).unique()
    return (
        effective_orders(engine)
        .filter(active)
        .join(people, on="person_id")
        .sort("kind", "person_id", "start_date")
    )


_CONFIRMATION_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "classroom_id": pl.String(),
    "detected_on": pl.Date(),
    "confirmed": pl.Boolean(),
    "decided_by": pl.String(),
    "decided_on": pl.Date(),
    "note": pl.String(),
    "recorded_at": pl.Datetime(time_zone="UTC"),
    "recorded_by": pl.String(),
}


def outbreak_decisions(engine: Engine) -> pl.DataFrame:
    """Every recorded LHD decision (append-only history, oldest first)."""
    schema = {k: v for k, v in _CONFIRMATION_SCHEMA.items() if k != "recorded_at"}
    return table_frame(engine, outbreak_confirmation, schema).sort("id")


def stored_outbreaks(engine: Engine, registry: Registry) -> pl.DataFrame:
    """:func:`~schoolmode.operations.tracing.outbreaks` of the stored cases, with
    ``lhd_confirmed`` from the latest recorded decision for each classroom and day."""
    cases, rosters = stored_rosters(engine)
    return outbreaks(cases, rosters, registry, confirmations=outbreak_decisions(engine))


def confirm_outbreak(
    engine: Engine,
    registry: Registry,
    classroom_id: str,
    detected_on: dt.date,
    confirmed: bool,
    decided_by: str,
    decided_on: dt.date,
    note: str | None = None,
    recorded_by: str | None = None,
) -> int:
    """Record the local health department's decision on the outbreak detected in
    ``classroom_id`` on ``detected_on`` (appended; a later decision supersedes on reading).

    Raises :class:`SchoolmodeError`, writing nothing, when the stored cases do not meet the
    outbreak definition there on that day, or when the decision predates the detection."""
    if not decided_by.strip():
        raise SchoolmodeError("decided_by: name the local health department that decided")
    detected = stored_outbreaks(engine, registry).filter(
        (pl.col("classroom_id") == classroom_id)
        & (pl.col("date") == detected_on)
        & pl.col("meets_definition")
    )
    if detected.height == 0:
        raise SchoolmodeError(
            f"no outbreak detected in classroom {classroom_id!r} on {detected_on}: the stored "
            "cases do not meet the outbreak definition there that day (see "
            "`schoolmode outbreak list`); nothing recorded"
        )
    if decided_on < detected_on:
        raise SchoolmodeError(
            f"decided_on {decided_on} is before the detection on {detected_on}; nothing recorded"
        )
    with begin_write(engine) as conn:
        new_id = conn.execute(
            insert(outbreak_confirmation)
            .values(
                classroom_id=classroom_id,
                detected_on=detected_on,
                confirmed=confirmed,
                decided_by=decided_by,
                decided_on=decided_on,
                note=note,
                recorded_at=dt.datetime.now(dt.UTC),
                recorded_by=recorded_by or whoami(),
            )
            .returning(outbreak_confirmation.c.id)
        ).scalar_one()
    return int(new_id)


def trace_run_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(trace_run)).scalar_one())
