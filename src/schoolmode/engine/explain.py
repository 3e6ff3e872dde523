"""Explanations in plain language, rendered from the trace.

Written for parents and staff, not engineers: what the unit's mode is, which rule put it
there (or that none did), the figures behind each condition, the clause quoted with its
source and how sure we are of it, and who decides when a rule only makes a unit eligible.

Every sentence goes through the gettext catalog of the ``lang`` the renderer is given
(``schoolmode.i18n``; English, the messages as written here, by default), dates and figures
through Babel for its locale. The trace's own notes are English; each is written again here
from the figures and names the trace keeps beside it (``Node.args``), so that every language
states the same figures. What a policy file says (rule titles, labels, the body that decides)
is looked up in the catalog under the ``policy`` context and kept as written when it has no
translation; a clause's quotation always stays in its original language, marked as such.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache

from schoolmode.engine.trace import Node, ParamUse, RuleTrace, Trace
from schoolmode.i18n import DEFAULT, N_, Language, language

SOURCE_LANGUAGE = "en"
"""The language of the policies' sources (their quotations are never translated)."""

CONFIDENCE = {
    "V": N_("verified in the text"),
    "S": N_("from a secondary source"),
    "U": N_("unverified; our reading"),
}
MARK = {True: N_("[met]"), False: N_("[not met]"), None: N_("[no data]")}
SCOPE_WORDS = {"district": N_("District"), "school": N_("School"), "classroom": N_("Classroom")}
SCOPE_PLURALS = {
    "district": N_("districts"),
    "school": N_("schools"),
    "classroom": N_("classrooms"),
}
TOKENS = {
    "no data": N_("no data"),
    "met": N_("met"),
    "not met": N_("not met"),
    "unknown": N_("unknown"),
    "none": N_("none"),
}
STATUS_WORDS = {"not_in_force": N_("not in force")}
"""Statuses that are no mode of the policy."""
OP_WORDS = {
    ">=": N_("at least"),
    ">": N_("above"),
    "<=": N_("at most"),
    "<": N_("under"),
    "==": N_("equal to"),
    "!=": N_("other than"),
}
NEGATED = {
    ">=": N_("under"),
    ">": N_("at most"),
    "<=": N_("above"),
    "<": N_("at least"),
    "==": N_("other than"),
    "!=": N_("equal to"),
}


@lru_cache(maxsize=1024)
def _quoted(quote: str) -> tuple[str, ...]:
    """A clause's quotation wrapped to 96 columns (a day's run quotes the same few clauses for
    thousands of units: wrapped once each)."""
    return tuple(textwrap.wrap(f'"{quote}"', 96, initial_indent="    ", subsequent_indent="    "))


@lru_cache(maxsize=4096)
def long_date(day: str, lang: str = DEFAULT) -> str:
    """``day`` written out in full in ``lang`` ("Monday 10 January 2022")."""
    return language(lang).date(day)


class _Words:
    """The renderer's language: gettext, plural forms, policy texts, dates and figures."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang
        self.code = lang.code
        self.gettext: Callable[[str], str] = lang.gettext
        self.ngettext: Callable[[str, str, int], str] = lang.ngettext
        self.figures: Callable[[str], str] = lang.figures

    def date(self, day: str) -> str:
        return long_date(day, self.code)

    def policy(self, text: str) -> str:
        """A policy file's words (a label, a level, a body's name) in this language when the
        catalog has them, else as written."""
        return self.lang.translations.pgettext("policy", text) if text else text

    def token(self, text: str) -> str:
        """A value the engine wrote in words ("no data") or in figures."""
        return self.gettext(TOKENS[text]) if text in TOKENS else self.figures(text)

    def op(self, op: str | None, table: dict[str, str] = OP_WORDS) -> str:
        return self.gettext(table[op]) if op in table else str(op)


def _count(text: str) -> int:
    """The count a plural form is chosen by (2 for a figure that is not a whole number)."""
    return int(text) if text.isdigit() else 2


def _status_words(status: str, labels: dict[str, str], w: _Words) -> str:
    if status.startswith("eligible_for_"):
        mode = status.removeprefix("eligible_for_")
        label = w.policy(labels.get(mode, mode.replace("_", " "))).lower()
        return w.gettext("eligible for {mode}").format(mode=label)
    if status not in labels and status in STATUS_WORDS:
        return w.gettext(STATUS_WORDS[status])
    return w.policy(labels.get(status, status.replace("_", " "))).lower()


def explain(trace: Trace, *, all_rules: bool = False, lang: Language | None = None) -> str:
    """A plain-language answer to "why is this unit in this mode on this day?", in ``lang``
    (default: English)."""
    w = _Words(lang or language(DEFAULT))
    _ = w.gettext
    unit_word = (
        _(SCOPE_WORDS[trace.scope]) if trace.scope in SCOPE_WORDS else trace.scope.capitalize()
    )
    lines = [
        _("{unit_word} {unit} on {date}: {status}.").format(
            unit_word=unit_word,
            unit=trace.unit,
            date=w.date(trace.date),
            status=_status_words(trace.status, trace.mode_labels, w),
        ),
        _("Policy: {title} ({policy_id}).").format(
            title=w.policy(trace.policy_title), policy_id=trace.policy_id
        ),
    ]
    active = [
        r for r in trace.rules if r.triggered or r.in_effect or (r.level and r.level != "unknown")
    ]
    if trace.mode == "not_in_force":
        lines.append(_("The policy is not in force on this day (outside its term)."))
    elif trace.mode == "no_data" and not active:
        lines.append(
            _(
                "A rule lacked the data it needs, and no other rule applied: no mode is "
                "decided (no data), never the default mode."
            )
        )
    elif not active:
        lines.append(_("No rule of this policy was met, so the default mode applies."))
    shown = trace.rules if all_rules or not active else active
    for rule in shown:
        lines.append("")
        lines.extend(_rule(rule, trace.mode_labels, w))
    if trace.missing_metrics:
        lines.append("")
        lines.append(
            _("Missing data: {metrics} (rules that need them could not be met).").format(
                metrics=", ".join(trace.missing_metrics)
            )
        )
    chosen = [i for i in trace.interpretations if not i.default]
    if chosen:
        lines.append("")
        lines.append(
            _("Readings differing from the policy's defaults: {readings}.").format(
                readings=", ".join(f"{i.name} = {w.figures(i.value)}" for i in chosen)
            )
        )
    return "\n".join(lines)


def _effect_mode(mode: str | None, labels: dict[str, str], w: _Words) -> str:
    """The mode a rule puts a unit in: its id in words in English (as explanations always
    wrote it), the policy's label for it in other languages."""
    if not mode:
        return ""
    if w.code == DEFAULT:
        return mode.replace("_", " ")
    return w.policy(labels.get(mode, mode.replace("_", " "))).lower()


def _head(rule: RuleTrace, labels: dict[str, str], w: _Words) -> str:
    _ = w.gettext
    title = w.policy(rule.title)
    if rule.level is not None:
        return _('Rule "{title}": level {level}.').format(title=title, level=w.policy(rule.level))
    if rule.in_effect:
        mode = _effect_mode(rule.mode, labels, w)
        head = (
            _('Rule "{title}" is in effect: {mode} since {date}').format(
                title=title, mode=mode, date=w.date(rule.spell_start)
            )
            if rule.spell_start
            else _('Rule "{title}" is in effect: {mode} since this day').format(
                title=title, mode=mode
            )
        )
        if rule.earliest_return:
            return head + _("; earliest return {date}.").format(date=w.date(rule.earliest_return))
        return head + "."
    if rule.triggered:
        return _('Rule "{title}" was met on this day.').format(title=title)
    return _('Rule "{title}" was not met.').format(title=title)


def _rule(rule: RuleTrace, labels: dict[str, str], w: _Words) -> list[str]:
    _ = w.gettext
    out = [_head(rule, labels, w)]
    if rule.not_in_force:
        reason = (
            _("parameter {name} has no value on this day").format(name=rule.inactive)
            if rule.inactive
            else rule.not_in_force
        )
        out.append("  " + _("(not applied: {reason})").format(reason=reason))
    if rule.in_effect and not rule.triggered and rule.spell_start:
        out.append(
            "  "
            + _(
                "The rule was met before {date}, when the effect began; it lasts its set "
                "duration. The figures of this day:"
            ).format(date=w.date(rule.spell_start))
        )
    if rule.condition is not None:
        out.extend(_node(rule.condition, 1, w))
        if rule.triggered or rule.in_effect:
            changes = what_would_change(rule.condition, lang=w.lang)
            if changes:
                out.append("  " + _("What would change it:"))
                out.extend(f"    - {c}" for c in changes)
    if rule.triggered and rule.action == "eligible":
        who = w.policy(rule.decided_by) if rule.decided_by else _("the body named in the policy")
        out.append(
            "  "
            + _("This makes the unit eligible only; {who} decides whether it changes mode.").format(
                who=who
            )
        )
    if rule.clause:
        confidence = _(CONFIDENCE[rule.confidence]) if rule.confidence in CONFIDENCE else ""
        out.append(
            "  "
            + _("Clause: {clause} ({confidence}).").format(
                clause=rule.clause, confidence=confidence or rule.confidence
            )
        )
    if rule.quote:
        if w.code != SOURCE_LANGUAGE:
            name = language(SOURCE_LANGUAGE).locale.get_language_name(w.lang.locale)
            out.append(
                "  " + _("Quoted in its original language ({language}):").format(language=name)
            )
        out.extend(_quoted(rule.quote))
    if rule.source_title:
        out.append(
            "  "
            + _("Source: {title}").format(title=rule.source_title)
            + (f", {rule.source_url}" if rule.source_url else "")
        )
    return out


def _node(node: Node, depth: int, w: _Words) -> list[str]:
    _ = w.gettext
    pad = "  " * depth
    mark = (
        _(MARK[node.met])
        if node.kind not in ("bands", "most_severe", "if", "operand") and node.met in MARK
        else ""
    )
    label = _label(node, w)
    text = _note(node, w) or label
    if node.kind in ("all", "any"):
        text = (label + ": " if label else "") + (
            _("all of:") if node.kind == "all" else _("any of:")
        )
    elif node.kind == "sustained" and node.children:
        text = f"{label} {_note(node, w)}"
    elif node.kind == "choose" and node.children:
        return _node(node.children[0], depth, w) + _params(node.params, depth + 1, w)
    lines = [f"{pad}{mark + ' ' if mark else ''}{text}"]
    for day, value in node.days:
        lines.append(f"{pad}    {w.date(day)}: {_day_value(value, w)}")
    lines.extend(_params(node.params, depth + 1, w))
    if node.kind in ("all", "any", "at_least", "not", "most_severe", "if"):
        for child in node.children:
            lines.extend(_node(child, depth + 1, w))
    elif node.kind == "sustained" and node.children:
        lines.extend(_params(node.children[0].params, depth + 1, w))
    return lines


def _label(node: Node, w: _Words) -> str:
    """A node's label: the policy's words, or the trace's default label in this language."""
    if not node.label:
        return node.label
    if node.kind == "trend" and node.children and node.label == f"{node.children[0].label} rising":
        return w.gettext("{label} rising").format(label=w.policy(node.children[0].label))
    scope = node.args.get("scope", "")
    if node.kind == "share_of_units" and node.label == f"share of {scope}s":
        units = w.gettext(SCOPE_PLURALS[scope]) if scope in SCOPE_PLURALS else f"{scope}s"
        return w.gettext("share of {units}").format(units=units)
    return w.policy(node.label)


_STATE = re.compile(r"(?P<value>.*?)(?: \((?P<state>met|not met|no data)\))?")
_SHARE = re.compile(r"(?P<value>.+), (?P<a>\S+) of (?P<b>\S+)")


def _day_value(text: str, w: _Words) -> str:
    """A day's value in a run or window, as the trace wrote it: ``12.5%, 5 of 40 (met)``,
    ``3``, ``not met``, ``no data (no data)``."""
    found = _STATE.fullmatch(text)
    assert found is not None  # the pattern matches any text
    value, state = found["value"], found["state"]
    share = _SHARE.fullmatch(value)
    shown = (
        w.gettext("{value}, {a} of {b}").format(
            value=w.figures(share["value"]), a=w.figures(share["a"]), b=w.figures(share["b"])
        )
        if share
        else w.token(value)
    )
    if state is None:
        return shown
    return w.gettext("{value} ({state})").format(value=shown, state=w.token(state))


def _value(node: Node, w: _Words) -> str:
    """An operand's value with its detail: ``12.5% (5 of 40)``."""
    value = w.token(node.value or "")
    detail = node.args.get("detail")
    if len(node.children) == 2 and all(c.value is not None for c in node.children) and detail:
        a, b = (w.token(c.value or "") for c in node.children)
        parts = (
            w.gettext("{a} of {b}") if detail == "share" else w.gettext("{a} minus {b}")
        ).format(a=a, b=b)
        return f"{value} ({parts})"
    return f"{value} ({w.figures(node.detail)})" if node.detail else value


def _criterion(node: Node, w: _Words) -> str | None:
    """The first threshold's criterion in ``node`` ("at least 30.0%")."""
    if node.op is not None and node.criterion:
        return f"{w.op(node.op)} {w.figures(node.limit_text or '')}"
    for child in node.children:
        found = _criterion(child, w)
        if found:
            return found
    return None


def _window_words(unit: str, count: str, w: _Words) -> str:
    """A window sum's days: "sum over 14 calendar days to this day"."""
    n, shown = _count(count), w.figures(count)
    if unit == "school_days":
        return w.ngettext(
            "sum over {n} school day to this day", "sum over {n} school days to this day", n
        ).format(n=shown)
    if unit == "calendar_days":
        return w.ngettext(
            "sum over {n} calendar day to this day", "sum over {n} calendar days to this day", n
        ).format(n=shown)
    return w.gettext("sum over {n} {unit} to this day").format(n=shown, unit=unit)


def _run_words(unit: str, count: str, w: _Words) -> str:
    """A run of days: "on 2 consecutive school days"."""
    n, shown = _count(count), w.figures(count)
    if unit == "school_days":
        return w.ngettext(
            "on {n} consecutive school day", "on {n} consecutive school days", n
        ).format(n=shown)
    if unit == "calendar_days":
        return w.ngettext(
            "on {n} consecutive calendar day", "on {n} consecutive calendar days", n
        ).format(n=shown)
    return w.gettext("on {n} consecutive {unit}").format(n=shown, unit=unit)


def _note(node: Node, w: _Words) -> str | None:
    """``node.note`` in the renderer's language, written from ``node.args`` and the children
    (as the trace wrote it when the trace keeps no figures for it)."""
    if node.note is None:
        return None
    _ = w.gettext
    a = node.args
    kind = node.kind
    if kind == "threshold" and node.children:
        left = node.children[0]
        label = w.policy(left.label)
        if node.met is None:
            return _("{label}: no data").format(label=label)
        criterion = f"{w.op(node.op)} {w.figures(node.limit_text or '')}"
        message = (
            _("{label} {value} is {criterion}")
            if node.met
            else _("{label} {value} is not {criterion}")
        )
        return message.format(label=label, value=_value(left, w), criterion=criterion)
    if kind == "operand" and "days" in a:
        return _window_words(a["unit"], a["days"], w)
    if kind == "choose" and "name" in a:
        return _("under the reading {name} = {value}").format(
            name=a["name"], value=w.figures(a["value"])
        )
    if kind == "attribute" and "name" in a:
        return _("{name} is {value} (rule applies to {values})").format(
            name=a["name"], value=w.token(a["value"]), values=a["in"]
        )
    if kind == "constant":
        return _(node.note) if node.note in CONSTANT_NOTES else node.note
    if kind == "at_least" and "k" in a:
        return _("at least {k} of {n}").format(k=w.figures(a["k"]), n=w.figures(a["n"]))
    if kind == "sustained" and "days" in a:
        crit = _criterion(node.children[0], w) if node.children else None
        run = _run_words(a["unit"], a["days"], w)
        return (f"{crit} " if crit else "") + run
    if kind == "trend" and "rising" in a and node.children:
        rising = w.ngettext(
            "{label} rose on each of {n} consecutive day",
            "{label} rose on each of {n} consecutive days",
            _count(a["rising"]),
        )
        lag = w.ngettext(
            ", each day at least {factor} times the value {n} day earlier",
            ", each day at least {factor} times the value {n} days earlier",
            _count(a["lag"]),
        )
        return rising.format(
            label=w.policy(node.children[0].label), n=w.figures(a["rising"])
        ) + lag.format(factor=w.figures(a["factor"]), n=w.figures(a["lag"]))
    if kind == "share_of_units" and "scope" in a:
        units = _(SCOPE_PLURALS[a["scope"]]) if a["scope"] in SCOPE_PLURALS else a["scope"] + "s"
        message = (
            _("{value} of the {units} met the condition, which is {criterion}")
            if node.met
            else _("{value} of the {units} met the condition, which is not {criterion}")
        )
        criterion = f"{w.op(a.get('op'))} {w.figures(a['value'] + '%')}"
        return message.format(value=w.token(node.value or ""), units=units, criterion=criterion)
    if kind == "bands" and "cuts" in a and node.children:
        child = node.children[0]
        return _("{label} {value} gives level {level} (cut-points {cuts})").format(
            label=w.policy(child.label),
            value=w.token(child.value or ""),
            level=w.policy(node.value or ""),
            cuts=w.figures(a["cuts"]),
        )
    return w.figures(node.note)


CONSTANT_NOTES = (N_("this clause does not apply under the reading chosen"),)


def _params(params: list[ParamUse], depth: int, w: _Words) -> list[str]:
    _ = w.gettext
    pad = "  " * depth
    lines = []
    for p in params:
        # an interpretation's value is the id of a reading (``none`` included), a parameter's a
        # figure or the word "none"
        value = w.figures(p.value) if p.interpretation else w.token(p.value)
        if p.interpretation:
            lines.append(
                pad
                + _("reading: {name} = {value}").format(name=p.name, value=value)
                + ("" if p.default else _(" (not the default)"))
            )
        elif p.clause:
            conf = f"[{p.confidence}]" if p.confidence else ""
            lines.append(
                pad
                + _("{name} = {value} {confidence} from {clause}").format(
                    name=p.name, value=value, confidence=conf, clause=p.clause
                )
                + (f", {p.url}" if p.url else f", {p.source}" if p.source else "")
            )
        else:
            lines.append(
                pad
                + _("{name} = {value} (set for this evaluation)").format(name=p.name, value=value)
            )
    return lines


def what_would_change(node: Node, *, lang: Language | None = None) -> list[str]:
    """For each condition that holds, what would have to change for it not to hold.

    Counts are given in whole units where the figure is a share of two counts ("12 of 40
    classroom teachers absent; at most 11 of 40 would be under 30%: 1 fewer").
    """
    return _changes(node, _Words(lang or language(DEFAULT)))


def _changes(node: Node, w: _Words) -> list[str]:
    _ = w.gettext
    if node.kind == "threshold" and node.met:
        return [_threshold_change(node, w)]
    if node.kind in ("sustained", "trend") and node.met:
        inner = [c for child in node.children for c in _changes(child, w)]
        tail = (
            _("the run of days ends on the first day this is not met")
            if node.kind == "sustained"
            else _("one day without a rise, or below the weekly factor, ends the run")
        )
        return [*inner, tail] if inner else [tail]
    if node.kind == "all" and node.met:
        options = [c for child in node.children for c in _changes(child, w)]
        if len(options) > 1:
            return [_("any one of these: {change}").format(change=options[0]), *options[1:]]
        return options
    if node.kind in ("any", "at_least", "choose") and node.met:
        return [c for child in node.children if child.met for c in _changes(child, w)]
    return []


def _threshold_change(node: Node, w: _Words) -> str:
    _ = w.gettext
    left = node.children[0] if node.children else None
    op, limit = node.op or ">=", node.limit
    named = left.label if left else node.label
    label = w.policy(named) if named else _("the figure")
    wanted = f"{w.op(op, NEGATED) if op in NEGATED else _('other than')} {w.figures(node.limit_text or limit or 'None')}"
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
        return _(
            "{label}: {have} of {of} now; {most} of {of} or fewer would be {wanted} ({fewer} fewer)"
        ).format(
            label=label,
            have=w.figures(str(have)),
            of=w.figures(str(of)),
            most=w.figures(str(most)),
            wanted=wanted,
            fewer=w.figures(str(have - most)),
        )
    return _("{label} ({value}) would have to be {wanted}").format(
        label=label, value=w.token(str(left.value)) if left else "", wanted=wanted
    )


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
