"""Raw events in a case: rosters, absences, cases, orders and substitutes, as the alternative to
precomputed metric values. The case runner (``cases/events.py``) turns them into metric frames
through the metrics code and the policy's counting rules (``counts:``).

A person field (and a classroom field) may name many at once with a range or a list in braces:
``T{1..40}`` is T1 .. T40, ``room-{a,b}`` room-a and room-b; in one row, the fields with a range must have the same number of
values (``{person: "T{1..40}", classroom: "R{1..40}"}`` puts T1 in R1, T2 in R2 ...).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from schoolmode.policy.base import Strict
from schoolmode.policy.counting import AbsenceReasonCode


class ClassroomEvent(Strict):
    """A homeroom (a core group) and its school."""

    classroom: str
    school: str


class StudentEvent(Strict):
    """A student's enrolment in a homeroom (open at both ends unless dated)."""

    person: str
    classroom: str
    from_: dt.date | None = Field(default=None, alias="from")
    through: dt.date | None = None
    learning_choice: Literal["in_person", "remote"] | None = None


class StaffEvent(Strict):
    """A staff member's assignment to a school: a classroom teacher when a classroom is given
    (unless ``role`` says otherwise), other staff when not."""

    person: str
    school: str
    classroom: str | None = None
    role: Literal["classroom_teacher", "other_staff"] | None = None
    from_: dt.date | None = Field(default=None, alias="from")
    through: dt.date | None = None


class AbsenceEvent(Strict):
    """A person's absence on a day, with the data standard's reason code."""

    person: str
    date: dt.date
    reason: AbsenceReasonCode
    school: str | None = Field(
        default=None, description="The school the person was expected at (default: their own)."
    )


class SubstituteEvent(Strict):
    """Whether an absent teacher's class was covered by a substitute on a day."""

    person: str = Field(description="The absent teacher.")
    date: dt.date
    covered: bool = True


class OrderEvent(Strict):
    """A quarantine or isolation order."""

    person: str
    from_: dt.date = Field(alias="from")
    through: dt.date
    kind: Literal["quarantine", "isolation"] = "quarantine"

    @model_validator(mode="after")
    def _ordered(self) -> OrderEvent:
        if self.through < self.from_:
            raise ValueError(f"through {self.through} is before from {self.from_}")
        return self


class CaseEvent(Strict):
    """A case: the person, its dates and its household."""

    person: str
    report: dt.date = Field(description="Report date (the school's notification).")
    onset: dt.date | None = None
    specimen: dt.date | None = None
    household: str | None = Field(
        default=None,
        description="Household id: a case is household-linked when an earlier case (by onset, "
        "else specimen, else report date) is in the same household.",
    )
    household_linked: bool | None = Field(
        default=None, description="Say the link directly (instead of, or overriding, household)."
    )


class CaseEvents(Strict):
    """The raw events of a case (every list optional)."""

    from_: dt.date | None = Field(
        default=None,
        alias="from",
        description="First day of the frames (default: the earliest day of the events and "
        "expectations).",
    )
    through: dt.date | None = Field(
        default=None, description="Last day of the frames (default: the latest such day)."
    )
    classrooms: list[ClassroomEvent] = Field(default_factory=list)
    students: list[StudentEvent] = Field(default_factory=list)
    staff: list[StaffEvent] = Field(default_factory=list)
    absences: list[AbsenceEvent] = Field(default_factory=list)
    substitutes: list[SubstituteEvent] = Field(default_factory=list)
    orders: list[OrderEvent] = Field(default_factory=list)
    cases: list[CaseEvent] = Field(default_factory=list)
