"""Explanations in plain language, rendered from the trace.

Written for parents and staff, not engineers: what the unit's mode is, which rule put it
there (or that none did), the figures behind each condition, the clause quoted with its
source and how sure we are of it, and who decides when a rule only makes a unit eligible.
"""

from __future__ import annotations

import datetime as dt
import textwrap

from schoolmode.engine.trace import Node, ParamUse, RuleTrace, Trace

CONFIDENCE = {
    "V": "verified in the text",
    "S": "from a secondary source",
    "U": "unverified; our reading",
}
MARK = {True: "[met]", False: "[not met]", None: "[no data]"}


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
    if rule.condition is not None:
        out.extend(_node(rule.condition, 1))
    if rule.triggered and rule.action == "eligible":
        who = rule.decided_by or "the body named in the policy"
        out.append(f"  This makes the unit eligible only; {who} decides whether it changes mode.")
    if rule.clause:
        confidence = CONFIDENCE.get(rule.confidence, rule.confidence)
        out.append(f"  Clause: {rule.clause} ({confidence}).")
    if rule.quote:
        out.extend(
            textwrap.wrap(f'"{rule.quote}"', 96, initial_indent="    ", subsequent_indent="    ")
        )
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
