"""Use cases of contact tracing: trace a stored case (and record it), the quarantine orders in
force at a school, the outbreaks the stored cases meet and the health department's decision.

They compose the pure tracer (``operations/tracing.py``) with its store
(``operations/tracing_store.py``).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from pydantic import BaseModel, ConfigDict

from schoolmode.access.roles import Principal
from schoolmode.app.context import Context
from schoolmode.decisions.runs import classroom_schools
from schoolmode.operations.tracing import CPS_QUARANTINE, trace_stored_case
from schoolmode.operations.tracing_store import Recorded, stored_outbreaks, trace_and_record
from schoolmode.operations.tracing_store import confirm_outbreak as record_confirmation
from schoolmode.operations.tracing_store import quarantine_list as active_orders


class TraceRequest(BaseModel):
    """Trace one stored case; ``store``: record the contacts and orders (idempotent);
    ``district_rule``: quarantine by CPS's own rule where it has one, else by the guidance."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    store: bool = True
    district_rule: bool = True


class TracedContact(BaseModel):
    """A close contact of the case: where, last exposure (day 0), attendance and rule."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    setting: str
    classroom_id: str | None
    last_exposure: dt.date
    attendance: str
    rule: str | None


class Order(BaseModel):
    """A quarantine or isolation order (``case_id``: the case it follows)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    person_id: str
    start_date: dt.date | None
    end_date: dt.date | None
    case_id: str | None = None


class TraceRecording(BaseModel):
    """What recording the trace wrote (``run_id`` is None when everything was stored already)."""

    model_config = ConfigDict(frozen=True)

    run_id: int | None
    orders_added: int
    orders_withdrawn: int
    contacts_added: int
    exceptions_added: int

    def summary(self) -> str:
        """The recording in one line (``tracing_store.Recorded.summary``)."""
        return Recorded(**self.model_dump()).summary()


class TraceResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    contacts: list[TracedContact]
    orders: list[Order]
    recorded: TraceRecording | None
    """None when the trace was not stored."""


def _orders(frame: pl.DataFrame) -> list[Order]:
    return [
        Order(
            kind=r["kind"],
            person_id=r["person_id"],
            start_date=r["start_date"],
            end_date=r["end_date"],
            case_id=r["case_id"],
        )
        for r in frame.iter_rows(named=True)
    ]


def trace(ctx: Context, req: TraceRequest) -> TraceResult:
    """Close contacts and orders of the case (an unknown or untraceable case is refused
    before anything is written), recorded in the store when asked."""
    local = CPS_QUARANTINE if req.district_rule else ()
    result = trace_stored_case(ctx.engine, req.case_id, ctx.registry, local)
    recorded = None
    if req.store:
        result, written = trace_and_record(ctx.engine, ctx.registry, [req.case_id], local)
        recorded = TraceRecording(
            run_id=written.run_id,
            orders_added=written.orders_added,
            orders_withdrawn=written.orders_withdrawn,
            contacts_added=written.contacts_added,
            exceptions_added=written.exceptions_added,
        )
    contacts = [
        TracedContact(
            person_id=r["person_id"],
            setting=r["setting"],
            classroom_id=r["classroom_id"],
            last_exposure=r["last_exposure"],
            attendance=r["attendance"],
            rule=r["rule"],
        )
        for r in result.contacts.iter_rows(named=True)
    ]
    return TraceResult(
        case_id=req.case_id, contacts=contacts, orders=_orders(result.orders), recorded=recorded
    )


class QuarantineListRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    school_id: str
    day: dt.date


class QuarantineListResult(BaseModel):
    """Orders in force on the day for people at the school (imported and traced, merged)."""

    model_config = ConfigDict(frozen=True)

    orders: list[Order]


def quarantine_list(ctx: Context, req: QuarantineListRequest) -> QuarantineListResult:
    """Quarantine and isolation orders in force on a day at a school."""
    return QuarantineListResult(orders=_orders(active_orders(ctx.engine, req.school_id, req.day)))


class Outbreak(BaseModel):
    """A classroom and day meeting the outbreak definition, with the health department's
    latest recorded decision (None: awaiting it)."""

    model_config = ConfigDict(frozen=True)

    classroom_id: str
    date: dt.date
    cases_in_window: int | None
    group_size: int | None
    lhd_confirmed: bool | None


class OutbreakListResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outbreaks: list[Outbreak]


def outbreak_list(ctx: Context) -> OutbreakListResult:
    """Classrooms and days where the stored cases meet the outbreak definition."""
    found = stored_outbreaks(ctx.engine, ctx.registry).filter(pl.col("meets_definition"))
    return OutbreakListResult(
        outbreaks=[
            Outbreak(
                classroom_id=r["classroom_id"],
                date=r["date"],
                cases_in_window=r["cases_in_window"],
                group_size=r["group_size"],
                lhd_confirmed=r["lhd_confirmed"],
            )
            for r in found.iter_rows(named=True)
        ]
    )


def outbreaks_in_scope(
    ctx: Context,
    who: Principal,
    first: dt.date | None = None,
    last: dt.date | None = None,
    awaiting: bool = False,
) -> list[Outbreak]:
    """The outbreaks from ``first`` to ``last`` in the classrooms of ``who``'s scope
    (``awaiting``: only those without the health department's decision), in the order of
    :func:`outbreak_list`."""
    found = [
        o
        for o in outbreak_list(ctx).outbreaks
        if (first is None or o.date >= first)
        and (last is None or o.date <= last)
        and (not awaiting or o.lhd_confirmed is None)
    ]
    if who.scope.kind.value != "district":
        rooms = classroom_schools(ctx.engine, {o.classroom_id for o in found})
        found = [
            o
            for o in found
            if o.classroom_id in rooms and who.scope.covers_school(rooms[o.classroom_id])
        ]
    return found


class ConfirmOutbreakRequest(BaseModel):
    """The local health department's decision (``decided_by``) on the outbreak detected in
    ``classroom_id`` on ``detected_on``; ``decided_on`` defaults to ``detected_on``."""

    model_config = ConfigDict(frozen=True)

    classroom_id: str
    detected_on: dt.date
    confirmed: bool
    decided_by: str
    decided_on: dt.date | None = None
    note: str | None = None


class ConfirmOutbreakResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision_id: int
    """The recorded decision's id."""


def confirm_outbreak(ctx: Context, req: ConfirmOutbreakRequest) -> ConfirmOutbreakResult:
    """Record the decision (append-only; refused when no outbreak was detected there then)."""
    new_id = record_confirmation(
        ctx.engine,
        ctx.registry,
        req.classroom_id,
        req.detected_on,
        req.confirmed,
        req.decided_by,
        req.decided_on or req.detected_on,
        req.note,
    )
    return ConfirmOutbreakResult(decision_id=new_id)
