"""The public explanation of a stored decision, written from the engine's trace (never from
the role view's text): which rules were met, and for each threshold whether it was met and by
how much, as a band of the figure against the threshold. No figure that counts people, nor a
share of a small group, is given: a share with a published denominator would give the count
back; the band does not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict

from schoolmode.app.context import Context
from schoolmode.app.metrics import RuleInfo
from schoolmode.decisions.record import stored_trace
from schoolmode.disclosure import rule_on
from schoolmode.engine.trace import Node, RuleTrace
from schoolmode.engine.words import long_date
from schoolmode.i18n import N_

BANDS = (
    (Decimal("0.5"), N_("under half the threshold")),
    (Decimal("1"), N_("between half the threshold and the threshold")),
    (Decimal("1.5"), N_("from the threshold to one and a half times it")),
    (Decimal("2"), N_("from one and a half to twice the threshold")),
)
ABOVE = N_("more than twice the threshold")
"""The bands in English (the API's text); the pages translate them (``N_``: in the catalogs)."""


class PublicCondition(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    met: bool | None
    """None: no data."""
    band: str | None
    """Where the day's figure stands against the threshold (None: no figure or threshold)."""


class PublicRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: str
    title: str
    status: str
    """``met``, ``in effect`` or ``not met``."""
    conditions: list[PublicCondition]
    decided_by: str | None
    clause: str | None
    quote: str | None = None
    """The words of the agreement or proposal the rule encodes (the policy is public)."""
    source_title: str | None = None
    source_url: str | None = None
    confidence: str | None = None
    """How sure the encoding is of the source (the policy's confidence label)."""
    earliest_return: dt.date | None = None
    """A rule in effect: the first day the unit may leave its mode (only while ahead)."""
    returns_when: str | None = None
    """A rule in effect or met: what would have to change for the unit to leave its mode
    (``conditions``: its conditions no longer met; ``return_condition``: its own return
    condition, ``return_label``; ``duration``: its duration ends)."""
    return_label: str | None = None
    return_met: bool | None = None
    """Whether the return condition holds on the day (None: no data)."""


class PublicExplanation(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: int
    policy_id: str
    scope: str
    unit: str
    date: dt.date
    mode: str
    rules: list[PublicRule]
    text: str
    """The same in plain language."""
    suppression: RuleInfo


def band(value: str | None, limit: str | None) -> str | None:
    """The band of ``value`` against the threshold ``limit`` (decimal strings)."""
    try:
        v, t = Decimal(value or ""), Decimal(limit or "")
    except InvalidOperation:
        return None
    if t <= 0:
        return None
    ratio = v / t
    return next((words for top, words in BANDS if ratio < top), ABOVE)


def _banded(node: Node, figure: str | None, small: int) -> bool:
    """Whether a band may be given for a threshold: a share, a figure that is not a whole
    number (a rate: no count of people), or a threshold above the small counts (``small``, the
    suppression rule's high). A band of a whole figure against a small threshold could give a
    count back (threshold 2: "between half the threshold and the threshold" is exactly 1)."""
    if node.percent or any(child.percent for child in node.children):
        return True
    try:
        value = Decimal(figure or "")
        if value != value.to_integral_value():
            return True
        return Decimal(node.limit or "") > small
    except InvalidOperation:
        return False


def _conditions(node: Node, small: int) -> list[PublicCondition]:
    if node.kind == "threshold":
        figure = node.raw if node.raw is not None or not node.children else node.children[0].raw
        shown = band(figure, node.limit) if _banded(node, figure, small) else None
        return [PublicCondition(label=node.label, met=node.met, band=shown)]
    return [c for child in node.children for c in _conditions(child, small)]


def _returns(rule: RuleTrace, day: dt.date) -> dict[str, object]:
    """What would have to change for the unit to leave the rule's mode (no figure)."""
    if not (rule.triggered or rule.in_effect) or rule.action == "eligible":
        return {}
    back = rule.earliest_return
    out: dict[str, object] = {
        "earliest_return": dt.date.fromisoformat(back) if back and back > day.isoformat() else None
    }
    if rule.return_condition is not None:
        node = rule.return_condition
        out |= {
            "returns_when": "return_condition",
            "return_label": node.label or node.note,
            "return_met": node.met,
        }
    elif rule.exit_when == "min_duration_elapsed":
        out["returns_when"] = "duration"
    else:
        out["returns_when"] = "conditions"
    return out


def _rule(rule: RuleTrace, small: int, day: dt.date) -> PublicRule:
    status = "met" if rule.triggered else "in effect" if rule.in_effect else "not met"
    return PublicRule(
        **_returns(rule, day),
        rule=rule.rule_id,
        title=rule.title,
        status=status,
        conditions=[] if rule.condition is None else _conditions(rule.condition, small),
        decided_by=rule.decided_by if rule.action == "eligible" else None,
        clause=rule.clause,
        quote=rule.quote,
        source_title=rule.source_title,
        source_url=rule.source_url,
        confidence=rule.confidence,
    )


def _text(out: PublicExplanation, mode_label: str) -> str:
    lines = [
        f"{out.scope.capitalize()} {out.unit} on {long_date(out.date.isoformat())}: {mode_label}."
    ]
    if all(r.status == "not met" for r in out.rules):
        lines.append("No rule of this policy was met, so the default mode applies.")
    for r in out.rules:
        lines.append(f'Rule "{r.title}": {r.status}.')
        for c in r.conditions:
            met = {True: "met", False: "not met", None: "no data"}[c.met]
            lines.append(f"  {c.label}: {met}" + (f", {c.band}." if c.band else "."))
        if r.decided_by and r.status == "met":
            lines.append(f"  This makes the unit eligible only; {r.decided_by} decides.")
        if r.returns_when:
            lines.append("  " + RETURNS[r.returns_when].format(label=r.return_label or ""))
        if r.earliest_return:
            lines.append(
                f"  It can end on {long_date(r.earliest_return.isoformat())} at the earliest."
            )
    return "\n".join(lines)


RETURNS = {
    "conditions": "To return, the conditions met above would have to stop holding.",
    "return_condition": 'It returns when "{label}".',
    "duration": "It returns when its set duration ends.",
}


def public_explanation(ctx: Context, scope: str, unit: str, day: dt.date) -> PublicExplanation:
    """Why a unit is in its mode on a day, for anyone: no count of people."""
    run_id, found = stored_trace(ctx.engine, scope, unit, day, ctx.evaluations)
    active = [r for r in found.rules if r.triggered or r.in_effect] or found.rules
    rule = rule_on(day)
    out = PublicExplanation(
        run_id=run_id,
        policy_id=found.policy_id,
        scope=scope,
        unit=unit,
        date=day,
        mode=found.mode,
        rules=[_rule(r, rule.high, day) for r in active],
        text="",
        suppression=RuleInfo.of(rule),
    )
    label = found.mode_labels.get(found.mode, found.mode.replace("_", " ")).lower()
    return out.model_copy(update={"text": _text(out, label)})
