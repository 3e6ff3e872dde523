"""Use cases of the union safety committee's concerns: file one (about a school in its scope,
or the district as a whole), answer it (district operations: acknowledged, answered, closed),
follow it up (the committee: a comment, or reopened), and list those in a principal's scope
with their history. Concerns and their events are append-only: a concern's status is its
latest event's (``open`` before any)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, insert, select

from schoolmode.access.roles import Principal
from schoolmode.app.context import Context
from schoolmode.policy.errors import SchoolmodeError, UnknownIdError
from schoolmode.store.db import as_utc, begin_write
from schoolmode.store.tables import RECORD_TABLES, concern, concern_event


class ConcernError(SchoolmodeError):
    """A concern cannot be filed or answered as asked: the message says why."""


class UnknownConcern(ConcernError, UnknownIdError):
    """No such concern (or none the principal may see)."""


class Status(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    answered = "answered"
    closed = "closed"
    reopened = "reopened"


class Step(StrEnum):
    """What an event does: a new status, or a comment that keeps the status."""

    acknowledged = "acknowledged"
    answered = "answered"
    closed = "closed"
    reopened = "reopened"
    comment = "comment"


ANSWERS = frozenset({Step.acknowledged, Step.answered, Step.closed, Step.comment})
"""What the district answers (``concerns:answer``)."""
FOLLOW_UPS = frozenset({Step.comment, Step.reopened, Step.closed})
"""What the committee adds to its own concern (``concerns:write``): a comment, reopening one
closed or answered, or closing it (withdrawn or settled)."""


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    step: Step
    note: str
    at: dt.datetime
    by: str
    role: str


class Concern(BaseModel):
    """A concern with its whole history, newest event last."""

    model_config = ConfigDict(frozen=True)

    id: int
    school_id: str | None
    """None: the district as a whole."""
    subject: str
    body: str
    filed_at: dt.datetime
    filed_by: str
    filed_role: str
    status: Status
    events: list[Event]


class FileConcernRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    school_id: str | None
    subject: str
    body: str


class StepRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    concern_id: int
    step: Step
    note: str


def _covers(who: Principal, school: str | None) -> bool:
    whole = who.scope.kind.value == "district"
    return whole if school is None else who.scope.covers_school(school)


def file_concern(ctx: Context, who: Principal, req: FileConcernRequest) -> Concern:
    """File a concern about a school in ``who``'s scope (or the district: district scope only)."""
    if not req.subject.strip() or not req.body.strip():
        raise ConcernError("a concern needs a subject and a text")
    if not _covers(who, req.school_id):
        raise ConcernError(
            f"school {req.school_id} is outside your scope ({who.scope})"
            if req.school_id
            else f"a concern about the whole district needs the district scope (yours: {who.scope})"
        )
    schools = RECORD_TABLES["school"]
    with begin_write(ctx.engine) as conn:
        if req.school_id is not None:
            known = conn.execute(
                select(schools.c.school_id).where(schools.c.school_id == req.school_id).limit(1)
            ).first()
            if known is None:
                raise UnknownIdError(f"no school {req.school_id!r} in the store; nothing filed")
        key = conn.execute(
            insert(concern).values(
                school_id=req.school_id,
                subject=req.subject.strip(),
                body=req.body,
                filed_at=dt.datetime.now(dt.UTC),
                filed_by=who.name,
                filed_role=who.role.value,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    return get_concern(ctx, who, int(key))


def add_step(ctx: Context, who: Principal, req: StepRequest, allowed: frozenset[Step]) -> Concern:
    """Record an answer or a follow-up (``allowed``: what ``who``'s permission lets them do)
    on a concern in their scope; a step that would not change anything is refused."""
    if req.step not in allowed:
        raise ConcernError(
            f"{req.step.value!r} is not yours to record here; you may: "
            + ", ".join(sorted(s.value for s in allowed))
        )
    if not req.note.strip():
        raise ConcernError("an answer or a follow-up needs a note")
    found = get_concern(ctx, who, req.concern_id)
    if req.step == Step.reopened and found.status not in (Status.answered, Status.closed):
        raise ConcernError(
            f"concern {found.id} is {found.status.value}: only an answered or "
            "closed concern can be reopened"
        )
    if req.step != Step.comment and req.step != Step.reopened and found.status == req.step.value:
        raise ConcernError(f"concern {found.id} is already {found.status.value}")
    if found.status == Status.closed and req.step not in (Step.reopened, Step.comment):
        raise ConcernError(f"concern {found.id} is closed: reopen it first")
    with begin_write(ctx.engine) as conn:
        conn.execute(
            insert(concern_event).values(
                concern_id=found.id,
                status=req.step.value,
                note=req.note,
                at=dt.datetime.now(dt.UTC),
                by=who.name,
                role=who.role.value,
            )
        )
    return get_concern(ctx, who, found.id)


def get_concern(ctx: Context, who: Principal, concern_id: int) -> Concern:
    """One concern in ``who``'s scope (one outside it is reported as unknown, never shown)."""
    found = _load(ctx, concern.c.id == concern_id)
    if not found or not _covers(who, found[0].school_id):
        raise UnknownConcern(f"no concern {concern_id} in your scope")
    return found[0]


def concerns_in_scope(ctx: Context, who: Principal, status: Status | None = None) -> list[Concern]:
    """The concerns ``who`` may see, newest first (``status``: only those in it)."""
    found = [c for c in _load(ctx, None) if _covers(who, c.school_id)]
    if status is not None:
        found = [c for c in found if c.status == status]
    return sorted(found, key=lambda c: c.id, reverse=True)


def _load(ctx: Context, where: ColumnElement[bool] | None) -> list[Concern]:
    query = select(concern)
    events = select(concern_event).order_by(concern_event.c.id)
    if where is not None:
        query = query.where(where)
        events = events.where(concern_event.c.concern_id.in_(select(concern.c.id).where(where)))
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        history: dict[int, list[Event]] = {}
        for e in conn.execute(events).mappings():
            history.setdefault(int(e["concern_id"]), []).append(
                Event(
                    id=int(e["id"]),
                    step=Step(e["status"]),
                    note=e["note"],
                    at=as_utc(e["at"]),
                    by=e["by"],
                    role=e["role"],
                )
            )
    out = []
    for r in rows:
        steps = history.get(int(r["id"]), [])
        moves = [s.step for s in steps if s.step != Step.comment]
        out.append(
            Concern(
                id=int(r["id"]),
                school_id=r["school_id"],
                subject=r["subject"],
                body=r["body"],
                filed_at=as_utc(r["filed_at"]),
                filed_by=r["filed_by"],
                filed_role=r["filed_role"],
                status=Status(moves[-1].value) if moves else Status.open,
                events=steps,
            )
        )
    return out
