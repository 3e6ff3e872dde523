"""Explanations in plain language, rendered from the trace.

Written for parents and staff, not engineers: what the unit's mode is, which rule put it
there (or that none did), the figures behind each condition, the clause quoted with its
source and how sure we are of it, and who decides when a rule only makes a unit eligible.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache

from schoolmode.engine.trace import Node, ParamUse, RuleTrace, Trace

CONFIDENCE = {
    "V": "verified in the text",
    "S": "from a secondary source",
    "U": "unverified; our reading",
}
MARK = {True: "[met]", False: "[not met]", None: "[no data]"}


@lru_cache(maxsize=1024)
def _quoted(quote: str) -> tuple[str, ...]:
    """A clause's quotation wrapped to 96 columns (a day's run quotes the same few clauses for
    thousands of units: wrapped once each)."""
    return tuple(textwrap.wrap(f'"{quote}"', 96, initial_indent="    ", subsequent_indent="    "))


@lru_cache(maxsize=4096)
def long_date(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d.strftime('%A')} {d.day} {d.strftime('%B %Y')}"


def _status_words(status: str, labels: dict[str, str]) -> str:
    if status.startswith("eligible_for_"):
        mode = status.removeprefix("eligible_for_")
        return f"eligible for {labels.get(mode, mode.replace('_', ' ')).lower()}"
    return labels.get(status, status.replace("_", " ")).lower()


def explain(trace: Trace, *, all_rules: bool = False) -> str:
    """A plain-language answer to "why is this unit in this mode on this day?"."""
    unit_word = trace.scope.capitalize()
    lines = [
        f"{unit_word} {trace.unit} on {long_date(trace.date)}: {_status_words(trace.status, trace.mode_labels)}.",
        f"Policy: {trace.policy_title} ({trace.policy_id}).",
    ]
    active = [
        r for r in trace.rules if r.triggered or r.in_effect or (r.level and r.level != "unknown")
    ]
    if trace.mode == "not_in_force":
        lines.append("The policy is not in force on this day (outside its term).")
    elif not active:
        lines.append("No rule of this policy was met, so the default mode applies.")
    shown = trace.rules if all_rules or not active else active
    for rule in shown:
        lines.append("")
        lines.extend(_rule(rule))
    if trace.missing_metrics:
        lines.append("")
        lines.append(
            "Missing data: "
            + ", ".join(trace.missing_metrics)
            + " (rules that need them could not be met)."
        )
    chosen = [i for i in trace.interpretations if not i.default]
    if chosen:
        lines.append("")
        lines.append(
            "Readings differing from the policy's defaults: "
            + ", ".join(f"{i.name} = {i.value}" for i in chosen)
            + "."
        )
    return "\n".join(lines)


def _rule(rule: RuleTrace) -> list[str]:
    out: list[str] = []
    if rule.level is not None:
        head = f'Rule "{rule.title}": level {rule.level}.'
    elif rule.in_effect:
        head = (
            f'Rule "{rule.title}" is in effect: {rule.mode.replace("_", " ") if rule.mode else ""}'
            f" since {long_date(rule.spell_start) if rule.spell_start else 'this day'}"
            + (
                f"; earliest return {long_date(rule.earliest_return)}."
                if rule.earliest_return
                else "."
            )
        )
    elif rule.triggered:
        head = f'Rule "{rule.title}" was met on this day.'
    else:
        head = f'Rule "{rule.title}" was not met.'
    out.append(head)
    if rule.not_in_force:
        out.append(f"  (not applied: {rule.not_in_force})")
    if rule.in_effect and not rule.triggered and rule.spell_start:
        out.append(
            f"  The rule was met before {long_date(rule.spell_start)}, when the effect began; it lasts "
            "its set duration. The figures of this day:"
        )
    if rule.condition is not None:
        out.extend(_node(rule.condition, 1))
        if rule.triggered or rule.in_effect:
            changes = what_would_change(rule.condition)
            if changes:
                out.append("  What would change it:")
                out.extend(f"    - {c}" for c in changes)
    if rule.triggered and rule.action == "eligible":
        who = rule.decided_by or "the body named in the policy"
        out.append(f"  This makes the unit eligible only; {who} decides whether it changes mode.")
    if rule.clause:
        confidence = CONFIDENCE.get(rule.confidence, rule.confidence)
        out.append(f"  Clause: {rule.clause} ({confidence}).")
    if rule.quote:
        out.extend(_quoted(rule.quote))
    if rule.source_title:
        out.append(
            f"  Source: {rule.source_title}" + (f", {rule.source_url}" if rule.source_url else "")
        )
    return out


def _node(node: Node, depth: int) -> list[str]:
    pad = "  " * depth
    mark = (
        MARK.get(node.met, "") if node.kind not in ("bands", "most_severe", "if", "operand") else ""
    )
    text = node.note or node.label
    if node.kind in ("all", "any"):
        text = (node.label + ": " if node.label else "") + (
            "all of:" if node.kind == "all" else "any of:"
        )
    elif node.kind == "sustained" and node.children:
        text = f"{node.label} {node.note}"
    elif node.kind == "choose" and node.children:
        return _node(node.children[0], depth) + _params(node.params, depth + 1)
    lines = [f"{pad}{mark + ' ' if mark else ''}{text}"]
    for day, value in node.days:
        lines.append(f"{pad}    {long_date(day)}: {value}")
    lines.extend(_params(node.params, depth + 1))
    if node.kind in ("all", "any", "at_least", "not", "most_severe", "if"):
        for child in node.children:
            lines.extend(_node(child, depth + 1))
    elif node.kind == "sustained" and node.children:
        lines.extend(_params(node.children[0].params, depth + 1))
    return lines


def _params(params: list[ParamUse], depth: int) -> list[str]:
    pad = "  " * depth
    lines = []
    for p in params:
        if p.interpretation:
            lines.append(
                f"{pad}reading: {p.name} = {p.value}" + ("" if p.default else " (not the default)")
            )
        elif p.clause:
            conf = f"[{p.confidence}]" if p.confidence else ""
            lines.append(
                f"{pad}{p.name} = {p.value} {conf} from {p.clause}"
                + (f", {p.url}" if p.url else f", {p.source}" if p.source else "")
            )
        else:
            lines.append(f"{pad}{p.name} = {p.value} (set for this evaluation)")
    return lines


NEGATED = {
    ">=": "under",
    ">": "at most",
    "<=": "above",
    "<": "at least",
    "==": "other than",
    "!=": "equal to",
}


def what_would_change(node: Node) -> list[str]:
    """For each condition that holds, what would have to change for it not to hold.

    Counts are given in whole units where the figure is a share of two counts ("12 of 40
    classroom teachers absent; at most 11 of 40 would be under 30%: 1 fewer").
    """
    if node.kind == "threshold" and node.met:
        return [_threshold_change(node)]
    if node.kind in ("sustained", "trend") and node.met:
        inner = [c for child in node.children for c in what_would_change(child)]
        tail = (
            "the run of days ends on the first day this is not met"
            if node.kind == "sustained"
            else "one day without a rise, or below the weekly factor, ends the run"
        )
        return [*inner, tail] if inner else [tail]
    if node.kind == "all" and node.met:
        options = [c for child in node.children for c in what_would_change(child)]
        return [f"any one of these: {options[0]}", *options[1:]] if len(options) > 1 else options
    if node.kind in ("any", "at_least", "choose") and node.met:
        return [c for child in node.children if child.met for c in what_would_change(child)]
    return []


def _threshold_change(node: Node) -> str:
    left = node.children[0] if node.children else None
    op, limit = node.op or ">=", node.limit
    label = (left.label if left else node.label) or "the figure"
    wanted = f"{NEGATED.get(op, 'other than')} {node.limit_text or limit}"
    counts = _counts(left)
    if (
        counts is not None
        and limit is not None
        and op in (">=", ">")
        and left is not None
        and left.percent
    ):
        have, of = counts
        bound = Decimal(limit) * of / 100
        most = (
            int(bound.to_integral_value(rounding=ROUND_CEILING)) - 1
            if op == ">="
            else int(bound.to_integral_value(rounding=ROUND_FLOOR))
        )
        most = max(most, 0)
        return (
            f"{label}: {have} of {of} now; {most} of {of} or fewer would be {wanted} "
            f"({have - most} fewer)"
        )
    return f"{label} ({left.value if left else ''}) would have to be {wanted}"


def _counts(node: Node | None) -> tuple[int, int] | None:
    if node is None or len(node.children) != 2:
        return None
    try:
        a, b = (Decimal(c.raw) for c in node.children if c.raw is not None)
    except (ValueError, TypeError, ArithmeticError):
        return None
    if a != a.to_integral_value() or b != b.to_integral_value() or b <= 0:
        return None
    return int(a), int(b)
