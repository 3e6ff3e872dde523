"""What counts: the events an event-derived metric counts, said in the policy file.

A policy's ``counts:`` maps an event-derived metric (one the metrics code computes from raw
records: absences, cases, rosters) to the events it counts: the absence reason codes, whether
household-linked cases are left out, which people (students, staff). A metric the policy does
not name counts as it always has (:data:`DEFAULTS`); a ``reading`` lets an interpretation of
the policy change what counts. :func:`counting_rules` resolves a policy and its chosen readings
into :class:`CountingRules`, the plain values ``metrics/school.py`` filters by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from schoolmode.policy.base import Confidence, Strict

if TYPE_CHECKING:
    from schoolmode.policy.model import Policy

ABSENCE_REASONS = (
    "documented_positive",
    "directed_quarantine_isolation",
    "personal",
    "self_reported_unconfirmed",
)
"""The data standard's absence reason codes (``standard.models.AbsenceReason``; a test keeps
the two lists equal: the policy floor reads no standard module)."""

COVID_REASONS = ("documented_positive", "directed_quarantine_isolation")
"""The reasons counted as documented COVID-19 when a policy says nothing else."""

AbsenceReasonCode = Literal[
    "documented_positive", "directed_quarantine_isolation", "personal", "self_reported_unconfirmed"
]
Household = Literal["count", "exclude"]
People = Literal["students", "staff"]

COUNTED: dict[str, tuple[str, ...]] = {
    "covid_absent_teachers": ("reasons",),
    "staff_isolation_quarantine": ("reasons",),
    "school_cases": ("household_linked", "people"),
    "in_outbreak": ("household_linked",),
    "qualifying_cases": ("household_linked",),
}
"""The event-derived metrics a policy can say what counts for, and what it can say of each."""


class CountChoice(Strict):
    """What counts (all keys optional: a key left out keeps the default or the metric's own)."""

    reasons: list[AbsenceReasonCode] | None = Field(
        default=None,
        min_length=1,
        description="Absence reason codes that count (covid_absent_teachers, "
        "staff_isolation_quarantine); default documented_positive, "
        "directed_quarantine_isolation.",
    )
    household_linked: Household | None = Field(
        default=None,
        description="count or exclude cases linked to an earlier household case (school_cases: "
        "default count; in_outbreak, qualifying_cases: default exclude).",
    )
    people: list[People] | None = Field(
        default=None,
        min_length=1,
        description="Whose cases count (school_cases): students, staff; default both.",
    )


class CountReading(Strict):
    """What counts under each choice of an interpretation (each choice a branch)."""

    interp: str
    cases: dict[str, CountChoice]


class CountRule(CountChoice):
    """What an event-derived metric counts, with where the policy says so."""

    clause: str = Field(description="Where in the source the counting rule comes from.")
    quote: str | None = None
    source: str = Field(description="Key of an entry in the policy's `sources`.")
    confidence: Confidence
    reading: CountReading | None = Field(
        default=None,
        description="An interpretation whose chosen reading overrides what counts.",
    )

    @model_validator(mode="after")
    def _says_something(self) -> CountRule:
        said = (self.reasons, self.household_linked, self.people, self.reading)
        if all(v is None for v in said):
            raise ValueError("say what counts: reasons, household_linked or people")
        return self


@dataclass(frozen=True)
class CountingRules:
    """What each event-derived metric counts (the defaults: what the metrics always counted)."""

    absent_teacher_reasons: tuple[str, ...] = COVID_REASONS
    staff_out_reasons: tuple[str, ...] = COVID_REASONS
    school_cases_household: Household = "count"
    school_cases_people: tuple[str, ...] = ("students", "staff")
    outbreak_household: Household = "exclude"
    qualifying_household: Household = "exclude"


DEFAULTS = CountingRules()

_FIELDS: dict[tuple[str, str], str] = {
    ("covid_absent_teachers", "reasons"): "absent_teacher_reasons",
    ("staff_isolation_quarantine", "reasons"): "staff_out_reasons",
    ("school_cases", "household_linked"): "school_cases_household",
    ("school_cases", "people"): "school_cases_people",
    ("in_outbreak", "household_linked"): "outbreak_household",
    ("qualifying_cases", "household_linked"): "qualifying_household",
}


def counting_rules(
    policy: Policy, readings: Mapping[str, Decimal | bool | str] | None = None
) -> CountingRules:
    """``policy``'s counting rules under ``readings`` (interpretation -> chosen reading; an
    interpretation not given takes the policy's default)."""
    rules = DEFAULTS
    for metric, rule in policy.counts.items():
        said: list[CountChoice] = [rule]
        if rule.reading is not None:
            interp = policy.interpretations[rule.reading.interp]
            chosen = (readings or {}).get(rule.reading.interp, interp.default)
            branch = rule.reading.cases.get(str(chosen))
            if branch is not None:
                said.append(branch)
        for choice in said:
            for key in COUNTED[metric]:
                value = getattr(choice, key)
                if value is not None:
                    plain: object = tuple(value) if isinstance(value, list) else value
                    rules = replace(rules, **{_FIELDS[(metric, key)]: plain})  # type: ignore[arg-type]
    return rules


def counting_problems(policy: Policy) -> list[tuple[tuple[str | int, ...], str]]:
    """The problems of ``policy``'s ``counts:``: a metric not event-derived or not declared, a
    key the metric has no use for, an unknown source or interpretation, a reading without one
    branch per choice."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for metric, rule in policy.counts.items():
        base: tuple[str | int, ...] = ("counts", metric)
        if metric not in COUNTED:
            problems.append(
                (
                    base,
                    f"counts: {metric!r} is not an event-derived metric; what counts can be "
                    f"said for {', '.join(COUNTED)}",
                )
            )
            continue
        if metric not in policy.metrics:
            problems.append((base, f"counts: metric {metric!r} is not declared in `metrics`"))
        if rule.source not in policy.sources:
            problems.append(
                ((*base, "source"), f"counts: source {rule.source!r} is not in `sources`")
            )
        branches: list[tuple[tuple[str | int, ...], CountChoice]] = [(base, rule)]
        if rule.reading is not None:
            problems += _reading_problems(policy, (*base, "reading"), rule.reading)
            branches += [((*base, "reading", "cases", k), v) for k, v in rule.reading.cases.items()]
        for where, choice in branches:
            for key in ("reasons", "household_linked", "people"):
                if getattr(choice, key) is not None and key not in COUNTED[metric]:
                    problems.append(
                        (
                            (*where, key),
                            f"counts: {metric} does not count by {key}; it counts by "
                            f"{', '.join(COUNTED[metric])}",
                        )
                    )
    return problems


def _reading_problems(
    policy: Policy, where: tuple[str | int, ...], reading: CountReading
) -> list[tuple[tuple[str | int, ...], str]]:
    interp = policy.interpretations.get(reading.interp)
    if interp is None:
        return [(where, f"counts: interpretation {reading.interp!r} is not in `interpretations`")]
    choices = {str(c) for c in interp.choices}
    if set(reading.cases) != choices:
        return [
            (
                where,
                f"counts: the reading on {reading.interp!r} must give one branch per choice "
                f"{sorted(choices)} (missing {sorted(choices - set(reading.cases))}, unknown "
                f"{sorted(set(reading.cases) - choices)})",
            )
        ]
    return []
