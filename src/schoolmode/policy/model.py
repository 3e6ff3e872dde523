"""The policy file format, as pydantic models.

A policy is data, never code. Every node of a rule is a one-key mapping
(``threshold:``, ``all:``, ``sustained:`` ...) so that a YAML file reads like the
clause it encodes. ``docs/policy-format.md`` documents every field; the JSON Schema in
``docs/policy.schema.json`` is generated from these models (``schoolmode policy schema``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from schoolmode.policy.base import Confidence, Strict
from schoolmode.policy.counting import CountRule, counting_problems
from schoolmode.policy.durations import no_hours
from schoolmode.policy.errors import PATH_MARK
from schoolmode.policy.walk import walk_paths

__all__ = [
    "Action",
    "Condition",
    "Confidence",
    "DatedValue",
    "Duration",
    "Interpretation",
    "LevelExpr",
    "Mode",
    "Operand",
    "Overlay",
    "Parameter",
    "Policy",
    "Rule",
    "Scope",
    "Source",
    "Strict",
    "Term",
    "ValueRef",
]

IDENT = r"^[a-z0-9][a-z0-9_.-]*$"


class Scope(StrEnum):
    classroom = "classroom"
    grade = "grade"  # any group of classrooms of a school a population declares
    school = "school"
    district = "district"


class Action(StrEnum):
    automatic = "automatic"  # the unit switches by itself
    eligible = "eligible"  # the unit becomes eligible; a named body decides


class DayUnit(StrEnum):
    calendar_days = "calendar_days"
    school_days = "school_days"


# --------------------------------------------------------------------------- values


class ParamRef(Strict):
    """``{param: NAME}``: the value of a dated parameter on the day evaluated."""

    param: str


class InterpRef(Strict):
    """``{interp: NAME}``: the chosen reading of an interpretation parameter."""

    interp: str


ValueRef = Decimal | bool | str | ParamRef | InterpRef
DaysUnit = Annotated[ValueRef, AfterValidator(no_hours)]  # a window's or run's: not hours
"""A literal (number, boolean, word) or a reference to a parameter or interpretation."""


class Source(Strict):
    title: str
    url: str | None = None
    published: dt.date | None = None
    note: str | None = None


class DatedValue(Strict):
    """One value of a parameter, in force from ``from`` until the next value."""

    from_: dt.date = Field(alias="from")
    value: Decimal | bool | str | list[int] | None = Field(
        description=(
            "The value (a list of whole numbers for a list-valued parameter, e.g. test days); "
            "null ends the parameter (the rule it feeds stops applying)."
        )
    )
    clause: str = Field(description="Where in the source the value comes from.")
    quote: str | None = Field(default=None, description="The words of the source.")
    source: str = Field(description="Key of an entry in the policy's `sources`.")
    confidence: Confidence


class Parameter(Strict):
    description: str
    unit: str | None = Field(default=None, description="percent, days, count, cases per 100k ...")
    values: list[DatedValue] = Field(min_length=1)

    @model_validator(mode="after")
    def _numbers_are_numbers(self) -> Parameter:
        import re

        numeric = self.unit in ("percent", "ratio", "days", "count", "cases")
        for value in self.values:
            if isinstance(value.value, str):
                if re.fullmatch(r"\s*-?\d+(\.\d+)?\s*%\s*", value.value):
                    raise ValueError(
                        f"the value {value.value!r} from {value.from_} is text; write percentages as plain "
                        "numbers (30 means 30%, the parameter's unit says percent)"
                    )
                if numeric:
                    raise ValueError(
                        f"the value {value.value!r} from {value.from_} is text, but the unit is "
                        f"{self.unit!r}; write a plain number"
                    )
        return self

    @field_validator("values")
    @classmethod
    def _dates_increase(cls, values: list[DatedValue]) -> list[DatedValue]:
        for before, after in itertools.pairwise(values):
            if after.from_ <= before.from_:
                raise ValueError(
                    f"dated values must be in increasing date order: {after.from_} comes after "
                    f"{before.from_}; sort the list by `from`"
                )
        return values


class Interpretation(Strict):
    """A reading the source leaves open, with the choice we default to."""

    description: str
    choices: list[Decimal | bool | str] = Field(min_length=1)
    default: Decimal | bool | str
    rationale: str = Field(description="Why the default was chosen.")
    confidence: Confidence = Confidence.U
    cases: list[str] = Field(default_factory=list, description="Case ids that turn on it.")

    @model_validator(mode="after")
    def _default_is_a_choice(self) -> Interpretation:
        if self.default not in self.choices:
            raise ValueError(f"default {self.default!r} is not one of the choices {self.choices}")
        return self


class Term(Strict):
    from_: dt.date = Field(alias="from")
    to: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        return self.from_ <= day and (self.to is None or day <= self.to)

    def words(self) -> str:
        """``2021-02-11 to 2021-08-24``, or ``from 2021-02-11`` when open-ended."""
        return f"{self.from_} to {self.to}" if self.to else f"from {self.from_}"


class Mode(Strict):
    id: str = Field(pattern=IDENT)
    label: str
    description: str | None = None
    masking: Literal["universal", "optional"] | None = Field(
        default=None,
        description="What the mode requires of masks in school: universal (everyone masks) or "
        "optional (not required); unsaid, the simulator keeps the scenario's masking.",
    )


# --------------------------------------------------------------------------- operands


class NodeMeta(Strict):
    id: str | None = Field(default=None, pattern=IDENT, description="Name for traces and cases.")
    label: str | None = Field(default=None, description="Plain-language name in explanations.")


class MetricOp(NodeMeta):
    metric: str


class ConstOp(NodeMeta):
    value: ValueRef


class ShareSpec(Strict):
    of: Operand
    per: Operand
    percent: bool = True


class ShareOp(NodeMeta):
    share: ShareSpec


class DifferenceSpec(Strict):
    of: Operand
    minus: Operand
    floor_zero: bool = Field(default=True, description="Negative results count as zero.")


class DifferenceOp(NodeMeta):
    difference: DifferenceSpec


class WindowSpec(Strict):
    """Sum of a count over a window of days ending on the day evaluated.

    ``last_days``: the last N days, the day itself included. ``within_days_of_each_other``:
    N+1 days, so that any two events counted are at most N days apart ("within 14
    calendar days of each other"). ``to_date``: every day so far (``days`` is ignored).
    """

    of: Operand
    days: ValueRef
    unit: DaysUnit = DayUnit.calendar_days.value
    kind: Literal["last_days", "within_days_of_each_other", "to_date"] = "last_days"


class WindowSumOp(NodeMeta):
    window_sum: WindowSpec


class LagSpec(Strict):
    of: Operand
    days: ValueRef


class LagOp(NodeMeta):
    lag: LagSpec


class PickSpec(Strict):
    interp: str
    cases: dict[str, Operand]


class PickOp(NodeMeta):
    """``pick``: the operand chosen by an interpretation parameter (e.g. a denominator)."""

    pick: PickSpec


def _one_key(value: Any) -> str | None:
    if isinstance(value, dict):
        keys = [k for k in value if k not in ("id", "label")]
        if len(keys) == 1:
            return str(keys[0])
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if name not in ("id", "label"):
                return name
    return None


Operand = Annotated[
    Annotated[MetricOp, Tag("metric")]
    | Annotated[ConstOp, Tag("value")]
    | Annotated[ShareOp, Tag("share")]
    | Annotated[DifferenceOp, Tag("difference")]
    | Annotated[WindowSumOp, Tag("window_sum")]
    | Annotated[LagOp, Tag("lag")]
    | Annotated[PickOp, Tag("pick")],
    Discriminator(_one_key),
]

# --------------------------------------------------------------------------- conditions

Comparator = Literal[">=", ">", "<=", "<", "==", "!="]


class ThresholdSpec(Strict):
    of: Operand
    op: Comparator | InterpRef
    value: ValueRef
    round_to: int | None = Field(
        default=None, ge=0, le=6, description="Round the value half-up to N decimals first."
    )


class ThresholdCond(NodeMeta):
    threshold: ThresholdSpec


class AllCond(NodeMeta):
    all: list[Condition] = Field(min_length=1)


class AnyCond(NodeMeta):
    any: list[Condition] = Field(min_length=1)


class NotCond(NodeMeta):
    not_: Condition = Field(alias="not")


class AtLeastSpec(Strict):
    k: ValueRef
    of: list[Condition] = Field(min_length=1)


class AtLeastCond(NodeMeta):
    at_least: AtLeastSpec


class SustainedSpec(Strict):
    condition: Condition
    days: ValueRef
    unit: DaysUnit = DayUnit.calendar_days.value


class SustainedCond(NodeMeta):
    sustained: SustainedSpec


class TrendSpec(Strict):
    of: Operand
    rising_days: ValueRef = Field(description="Consecutive calendar days of strict daily rise.")
    factor: ValueRef = Field(
        description="Each of those days at least FACTOR x the value LAG days earlier."
    )
    lag_days: ValueRef = Decimal(7)
    factor_op: Comparator = ">="


class TrendCond(NodeMeta):
    trend: TrendSpec


class ShareOfUnitsSpec(Strict):
    scope: Scope
    condition: Condition
    op: Comparator | InterpRef = ">="
    value: ValueRef


class ShareOfUnitsCond(NodeMeta):
    share_of_units: ShareOfUnitsSpec


class ChooseSpec(Strict):
    interp: str
    cases: dict[str, Condition]


class ChooseCond(NodeMeta):
    choose: ChooseSpec


class AttributeSpec(Strict):
    name: str
    in_: list[str] = Field(alias="in", min_length=1)


class AttributeCond(NodeMeta):
    attribute: AttributeSpec


class ConstantCond(NodeMeta):
    constant: bool


Condition = Annotated[
    Annotated[ThresholdCond, Tag("threshold")]
    | Annotated[AllCond, Tag("all")]
    | Annotated[AnyCond, Tag("any")]
    | Annotated[NotCond, Tag("not_")]
    | Annotated[AtLeastCond, Tag("at_least")]
    | Annotated[SustainedCond, Tag("sustained")]
    | Annotated[TrendCond, Tag("trend")]
    | Annotated[ShareOfUnitsCond, Tag("share_of_units")]
    | Annotated[ChooseCond, Tag("choose")]
    | Annotated[AttributeCond, Tag("attribute")]
    | Annotated[ConstantCond, Tag("constant")],
    Discriminator(lambda v: "not_" if _one_key(v) == "not" else _one_key(v)),
]

# --------------------------------------------------------------------------- levels


BOUNDARIES = ("lower_inclusive", "upper_inclusive", "unassigned")
"""Where a value equal to a cut falls: in the band above (``lower_inclusive``), in the band
below (``upper_inclusive``), or in neither (``unassigned``: the table leaves it out)."""


class Cut(Strict):
    """``{at: VALUE, boundary: WORD}``: one cut with its own boundary convention (a word of
    ``BOUNDARIES`` or an interpretation choosing one); without ``boundary``, the table's."""

    at: ValueRef
    boundary: ValueRef | None = None


class BandsSpec(Strict):
    of: Operand
    cuts: list[Cut | ValueRef] = Field(
        min_length=1, description="Ascending boundaries between bands."
    )
    boundary: ValueRef = Field(
        default="lower_inclusive",
        description="lower_inclusive: a value equal to a cut is in the upper band; "
        "upper_inclusive: it stays in the lower band; unassigned: it is in neither. "
        "A cut written {at, boundary} has its own.",
    )
    unassigned: list[int] = Field(
        default_factory=list,
        description="Bands (0 below the first cut, i above cut i) that the table leaves "
        "unassigned: a value there gives the level `unassigned`; the other bands keep "
        "consecutive levels from `offset`.",
    )
    reason: str | None = Field(
        default=None,
        description="Why a value can be unassigned (the source's gap), shown in the trace "
        "and the explanation.",
    )
    round_to: int | None = Field(default=None, ge=0, le=6)
    offset: int = Field(
        default=0, ge=0, description="Index of the lowest level this scale can give."
    )

    def cut_list(self) -> list[tuple[ValueRef, ValueRef]]:
        """Each cut's value and boundary convention (the table's where the cut has none)."""
        return [
            (c.at, c.boundary if c.boundary is not None else self.boundary)
            if isinstance(c, Cut)
            else (c, self.boundary)
            for c in self.cuts
        ]

    @model_validator(mode="after")
    def _gaps(self) -> BandsSpec:
        bad = [b for b in self.unassigned if not 0 <= b <= len(self.cuts)]
        if bad:
            raise ValueError(
                f"unassigned bands {bad} out of range: a table with {len(self.cuts)} cuts has "
                f"bands 0 to {len(self.cuts)}"
            )
        if self.unassigned and not self.reason:
            raise ValueError("a table with unassigned bands needs a `reason` (the source's gap)")
        words = [self.boundary, *(c.boundary for c in self.cuts if isinstance(c, Cut))]
        for word in words:
            if isinstance(word, str) and word not in BOUNDARIES:
                raise ValueError(f"boundary {word!r} is none of {', '.join(BOUNDARIES)}")
        return self


class BandsLevel(NodeMeta):
    bands: BandsSpec


class MostSevereLevel(NodeMeta):
    most_severe: list[LevelExpr] = Field(min_length=1)


class IfLevelSpec(Strict):
    condition: Condition
    then: LevelExpr
    else_: LevelExpr = Field(alias="else")


class IfLevel(NodeMeta):
    if_: IfLevelSpec = Field(alias="if")


def _level_key(v: Any) -> str | None:
    key = _one_key(v)
    return "if_" if key == "if" else key


LevelExpr = Annotated[
    Annotated[BandsLevel, Tag("bands")]
    | Annotated[MostSevereLevel, Tag("most_severe")]
    | Annotated[IfLevel, Tag("if_")],
    Discriminator(_level_key),
]

# --------------------------------------------------------------------------- rules


class Duration(Strict):
    days: ValueRef
    unit: ValueRef = DayUnit.calendar_days.value


class Effect(Strict):
    mode: str
    action: Action = Action.automatic


class Timing(Strict):
    """When a triggered rule takes effect and how long it lasts.

    A rule evaluated on day d (data through d) starts its effect on the (N+1)-th day of
    the notice unit after d, N being ``notice.days`` (default 0: the next calendar day). The effect lasts at least ``min_duration`` and at
    most ``max_duration``; after the minimum it ends on the day after ``exit_when`` holds
    (default: the trigger no longer holds), or with ``return_notice`` of R days on the
    (R+1)-th day of its unit after that day.
    """

    notice: Duration = Duration(days=Decimal(0), unit=DayUnit.calendar_days.value)
    min_duration: Duration | None = None
    max_duration: Duration | None = None
    exit_when: Condition | Literal["trigger_cleared", "min_duration_elapsed"] = "trigger_cleared"
    return_notice: Duration = Field(
        default=Duration(days=Decimal(0), unit=DayUnit.calendar_days.value),
        description=(
            "Notice before a return: when `exit_when` holds on day d (after the minimum), the "
            "effect ends on the (N+1)-th day of the unit after d (0: the next day). The return "
            "is announced then and stands even if the exit condition stops holding during "
            "the notice; `max_duration` still ends the effect on time."
        ),
    )


class Recommendation(Strict):
    when: Condition | None = None
    modes: dict[str, str] = Field(description="level -> mode")


class Rule(Strict):
    id: str = Field(pattern=IDENT)
    title: str
    scope: Scope
    clause: str | None = Field(default=None, description="The clause this rule encodes.")
    quote: str | None = None
    source: str | None = None
    confidence: Confidence
    decided_by: str | None = Field(
        default=None, description="The body that decides, for eligible rules."
    )
    when: Condition | None = None
    effect: Effect | None = None
    timing: Timing = Timing()
    classify: LevelExpr | None = None
    levels: list[str] | None = None
    recommend: list[Recommendation] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        if (self.when is None) == (self.classify is None):
            raise ValueError(
                "a rule has either `when` (a trigger) or `classify` (levels), not both"
            )
        if self.when is not None and self.effect is None:
            raise ValueError("a trigger rule (`when`) needs an `effect` (mode and action)")
        if self.classify is not None and not self.levels:
            raise ValueError("a `classify` rule needs `levels`, from least to most severe")
        return self


class Policy(Strict):
    id: str = Field(pattern=IDENT)
    title: str
    kind: Literal["agreement", "proposal", "guidance", "offer", "demand"]
    jurisdiction: str
    parties: list[str] = Field(min_length=1)
    status: Literal[
        "offered",
        "proposed",
        "ratified",
        "adopted",
        "superseded",
        "expired",
        "published",
        "withdrawn",
    ]
    version: int = Field(ge=1)
    term: Term
    summary: str
    sources: dict[str, Source] = Field(min_length=1)
    modes: list[Mode] = Field(
        min_length=1, description="Least to most severe; the first is the default."
    )
    metrics: dict[str, str] = Field(default_factory=dict, description="metric name -> meaning")
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    interpretations: dict[str, Interpretation] = Field(default_factory=dict)
    counts: dict[str, CountRule] = Field(
        default_factory=dict,
        description="event-derived metric -> the events it counts (absence reasons, household "
        "links, people); a metric not named counts as the metrics code always has "
        "(docs/metrics.md)",
    )
    rules: list[Rule] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> Policy:
        check_references(self)
        return self

    def mode_ids(self) -> list[str]:
        return [m.id for m in self.modes]

    def decides_masking(self) -> bool:
        """Whether a mode of the policy says what it requires of masks."""
        return any(mode.masking is not None for mode in self.modes)


class RuleChanges(Strict):
    add: list[Rule] = Field(default_factory=list)
    replace: list[Rule] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


class OverlayChanges(Strict):
    parameters: dict[str, list[DatedValue]] = Field(default_factory=dict)
    interpretations: dict[str, Decimal | bool | str] = Field(default_factory=dict)
    rules: RuleChanges = RuleChanges()
    sources: dict[str, Source] = Field(default_factory=dict)
    counts: dict[str, CountRule] = Field(
        default_factory=dict, description="what an event-derived metric counts (replaced whole)"
    )


class Overlay(Strict):
    """A proposal written as a base policy plus a diff."""

    id: str = Field(pattern=IDENT)
    overlay_of: str
    title: str
    kind: Literal["agreement", "proposal", "guidance", "offer", "demand"] = "proposal"
    parties: list[str] = Field(min_length=1)
    status: Literal[
        "offered",
        "proposed",
        "ratified",
        "adopted",
        "superseded",
        "expired",
        "published",
        "withdrawn",
    ] = "proposed"
    version: int = Field(default=1, ge=1)
    summary: str
    term: Term | None = None
    changes: OverlayChanges = OverlayChanges()


# ------------------------------------------------------------------ cross-references
# Run when a policy is validated: every ``{param: X}`` names a parameter, every ``{interp: X}``
# an interpretation, every ``metric:`` a declared metric, every effect a declared mode, every
# dated value a source. Problems are raised as one ValueError, each entry
# ``PATH_MARK path PATH_MARK message`` so the YAML reader can point at the line.

Problems = list[tuple[tuple[str | int, ...], str]]


def check_references(policy: Policy) -> None:
    """Raise a ValueError listing every unresolved reference of ``policy``."""
    problems = _source_problems(policy) + counting_problems(policy)
    modes = set(policy.mode_ids())
    seen: set[str] = set()
    for index, rule in enumerate(policy.rules):
        problems += _rule_problems(policy, index, rule, modes, seen)
        seen.add(rule.id)
        where = f"rule {rule.id!r}"
        for path, node in walk_paths(rule, ("rules", index)):
            problems += _node_problems(policy, where, path, node)
    if problems:
        raise ValueError(
            "\n".join(
                f"{PATH_MARK}{'/'.join(map(str, loc))}{PATH_MARK}{msg}" for loc, msg in problems
            )
        )


def _source_problems(policy: Policy) -> Problems:
    problems: Problems = []
    for name, param in policy.parameters.items():
        for value in param.values:
            if value.source not in policy.sources:
                problems.append(
                    (
                        ("parameters", name, "values", param.values.index(value), "source"),
                        f"parameter {name!r} cites source {value.source!r}, which is not in `sources` "
                        f"(known: {', '.join(sorted(policy.sources))})",
                    )
                )
    return problems


def _rule_problems(
    policy: Policy, index: int, rule: Rule, modes: set[str], seen: set[str]
) -> Problems:
    """The rule's own fields: a unique id, its source, its effect and recommendations."""
    where = f"rule {rule.id!r}"
    base = ("rules", index)
    problems: Problems = []
    if rule.id in seen:
        problems.append(((*base, "id"), f"{where}: the id is used twice; rule ids must be unique"))
    if rule.source is not None and rule.source not in policy.sources:
        problems.append(((*base, "source"), f"{where}: source {rule.source!r} is not in `sources`"))
    if rule.effect is not None and rule.effect.mode not in modes:
        problems.append(
            (
                (*base, "effect", "mode"),
                f"{where}: effect mode {rule.effect.mode!r} is not one of the policy's modes "
                f"({', '.join(policy.mode_ids())})",
            )
        )
    for rec in rule.recommend or []:
        for level, mode in rec.modes.items():
            if level not in (rule.levels or []):
                problems.append(
                    ((*base, "recommend"), f"{where}: recommendation for unknown level {level!r}")
                )
            if mode not in modes:
                problems.append(
                    (
                        (*base, "recommend"),
                        f"{where}: recommended mode {mode!r} is not a declared mode",
                    )
                )
    return problems


def _node_problems(
    policy: Policy, where: str, path: tuple[str | int, ...], node: BaseModel
) -> Problems:
    """One node of a rule tree: the parameter, interpretation or metric it names."""
    if isinstance(node, ParamRef) and node.param not in policy.parameters:
        return [
            (
                path,
                f"{where}: parameter {node.param!r} is not defined in `parameters`"
                + _suggest(node.param, policy.parameters),
            )
        ]
    if isinstance(node, InterpRef) and node.interp not in policy.interpretations:
        return [
            (
                path,
                f"{where}: interpretation {node.interp!r} is not defined in `interpretations`"
                + _suggest(node.interp, policy.interpretations),
            )
        ]
    if isinstance(node, MetricOp) and node.metric not in policy.metrics:
        return [
            (
                (*path, "metric"),
                f"{where}: metric {node.metric!r} is not declared in `metrics`"
                + _suggest(node.metric, policy.metrics),
            )
        ]
    if isinstance(node, ChooseSpec | PickSpec):
        return _choice_problems(policy, where, path, node)
    return []


def _choice_problems(
    policy: Policy, where: str, path: tuple[str | int, ...], node: ChooseSpec | PickSpec
) -> Problems:
    """A ``choose``/``pick`` gives one branch per choice of a known interpretation."""
    word = "choose" if isinstance(node, ChooseSpec) else "pick"
    interp = policy.interpretations.get(node.interp)
    if interp is None:
        return [(path, f"{where}: `{word}` names unknown interpretation {node.interp!r}")]
    choices = {str(c) for c in interp.choices}
    missing = choices - set(node.cases)
    extra = set(node.cases) - choices
    if missing or extra:
        return [
            (
                path,
                f"{where}: `{word}` on {node.interp!r} must give one branch per "
                f"choice {sorted(choices)} (missing {sorted(missing)}, unknown {sorted(extra)})",
            )
        ]
    return []


def _suggest(name: str, known: object) -> str:
    options = list(known) if isinstance(known, dict) else []
    close = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
