"""The case file format: a small input, the decision a published rule implies, and why.

Cases live beside their policy (``policies/<id>/cases/*.yaml``) and keep the ids of the
project's collection of worked cases from the published rules. A union safety committee or a
journalist can add one without writing Python: see ``docs/case-format.md``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from schoolmode.policy.case_events import CaseEvents
from schoolmode.policy.model import Confidence, Scope, Strict
from schoolmode.policy.yamlio import load_yaml, validate

if TYPE_CHECKING:
    from schoolmode.policy.loader import LoadedPolicy

CASES_DIR = "cases"

SettingValue = Decimal | bool | str | None


class Expectation(Strict):
    """What must hold for one unit on one day (or on every day of a range)."""

    scope: Scope = Scope.school
    unit: str
    date: dt.date | None = None
    from_: dt.date | None = Field(default=None, alias="from")
    through: dt.date | None = None
    mode: str | None = Field(default=None, description="The mode in effect that day.")
    status: str | None = Field(default=None, description="Mode, or eligible_for_<mode>.")
    rule: str | None = Field(default=None, description="The rule responsible for the mode.")
    trigger: dict[str, bool] | None = Field(
        default=None, description="rule id -> its trigger held that day"
    )
    level: dict[str, str] | None = Field(default=None, description="rule id -> level that day")
    node: dict[str, bool] | None = Field(
        default=None, description="condition id -> its value that day"
    )
    values: dict[str, Decimal] | None = Field(
        default=None, description="operand id -> value that day, compared at the decimals written"
    )
    spell_start: dt.date | None = None
    earliest_return: dt.date | None = None
    no_rule: bool | None = Field(
        default=None,
        description="true: the policy has no rule at this scope (nothing decides the unit)",
    )
    run: dict[str, int] | None = Field(
        default=None,
        description=(
            "condition id (a sustained or trend condition) -> the length of its current run of "
            "met days that day (school days for a school-day unit)"
        ),
    )
    broke_on: dict[str, dt.date | None] | None = Field(
        default=None,
        description=(
            "condition id (a sustained or trend condition) -> the latest day up to that day on "
            "which its daily condition was not met (null: none in the case's days)"
        ),
    )
    lacking_data: dict[str, bool] | None = Field(
        default=None,
        description=(
            "rule id -> whether the rule lacked its data that day (a trigger rule's metrics "
            "outside their series' days, a level rule without a level)"
        ),
    )


class Reading(Strict):
    """The same input under another reading of the policy's interpretation parameters."""

    name: str
    settings: dict[str, SettingValue] = Field(default_factory=dict)
    expect: list[Any] = Field(default_factory=list)


class Authorisation(Strict):
    unit: str
    date: dt.date
    rule: str
    decided_by: str | None = None


class CalendarSpec(Strict):
    school_days: list[dt.date] | None = None
    holidays: list[dt.date] = Field(default_factory=list)


class OtherPolicy(Strict):
    """Expectations for another policy on the same input (a disagreement)."""

    settings: dict[str, SettingValue] = Field(default_factory=dict)
    expect: list[Any] = Field(default_factory=list)
    readings: list[Reading] = Field(default_factory=list)


class CaseBase(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    confidence: Confidence
    tags: list[str] = Field(default_factory=list)
    justification: str
    note: str | None = None
    settings: dict[str, SettingValue] = Field(default_factory=dict)
    readings: list[Reading] = Field(default_factory=list)
    also: dict[str, OtherPolicy] = Field(default_factory=dict)


class EngineCase(CaseBase):
    kind: Literal["engine"] = "engine"
    apply: Literal["in_term", "counterfactual"] = Field(
        default="in_term",
        description="in_term: the policy decides only within its term (outside it the mode is "
        "not_in_force and nothing else can be expected); counterfactual: the policy is applied "
        "from the case's first day as if in force, whatever its term (said in the output).",
    )
    calendar: CalendarSpec | None = None
    frames: dict[Scope, list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="Metric values per scope: one row per unit and day (or give `events`).",
    )
    events: CaseEvents | None = Field(
        default=None,
        description="Raw events (rosters, absences, cases, orders, substitutes) the case runner "
        "turns into school and classroom frames through the metrics code and the policy's "
        "counting rules; `frames` may add other scopes or columns.",
    )
    authorisations: list[Authorisation] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_input(self) -> EngineCase:
        if not self.frames and self.events is None:
            raise ValueError("a case needs its input: `frames` (metric values) or `events`")
        return self


class Example(Strict):
    input: dict[str, Any]
    expect: dict[str, Any]


class OperationCase(CaseBase):
    kind: Literal["operation"]
    operation: str
    examples: list[Example] = Field(default_factory=list)


Case = Annotated[
    Annotated[EngineCase, Tag("engine")] | Annotated[OperationCase, Tag("operation")],
    Discriminator(lambda v: v.get("kind", "engine") if isinstance(v, dict) else v.kind),
]


class CaseFile(Strict):
    cases: list[Case] = Field(min_length=1)


def load_case_file(path: Path, cache_dir: Path | None = None) -> CaseFile:
    """A case file, read and validated (``cache_dir``: keep and reuse the parsed YAML there,
    as the policies' registry does: ``policy/yamlcache.py``)."""
    return validate(CaseFile, load_yaml(path, cache_dir))


def case_files(loaded: LoadedPolicy) -> list[Path]:
    """The case files beside a policy (``cases/*.yaml``), in name order."""
    return sorted((loaded.folder / CASES_DIR).glob("*.yaml"))
