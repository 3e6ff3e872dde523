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

    def __init__(self, lang: Language, *, plain: bool = False) -> None:
        self.lang = lang
        self.plain = plain
        """Written for parents: no parameter or reading names, metrics by their plain names."""
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


def explain(
    trace: Trace, *, all_rules: bool = False, lang: Language | None = None, technical: bool = False
) -> str:
    """A plain-language answer to "why is this unit in this mode on this day?", in ``lang``
    (default: English): for parents (:func:`plain_explanation`), or with ``technical`` the
    whole trace with its parameter and reading names (:func:`technical_explanation`)."""
    if technical:
        return technical_explanation(trace, all_rules=all_rules, lang=lang)
    return plain_explanation(trace, all_rules=all_rules, lang=lang)


def technical_explanation(
    trace: Trace, *, all_rules: bool = False, lang: Language | None = None
) -> str:
    """The trace in words, rule by rule, with the parameters and readings each figure comes
    from (for engineers and auditors)."""
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
    elif not active:
        lines.append(_("No rule of this policy was met, so the default mode applies."))
    shown = trace.rules if all_rules or not active else active
    for rule in shown:
        lines.append("")
        lines.extend(_rule(rule, trace.mode_labels, w, trace.date))
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


def _head(rule: RuleTrace, labels: dict[str, str], w: _Words, day: str | None = None) -> str:
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
        if rule.earliest_return and _ahead(rule.earliest_return, day):
            return head + _("; earliest return {date}.").format(date=w.date(rule.earliest_return))
        return head + "."
    if rule.triggered:
        return _('Rule "{title}" was met on this day.').format(title=title)
    return _('Rule "{title}" was not met.').format(title=title)


def _rule(rule: RuleTrace, labels: dict[str, str], w: _Words, day: str | None = None) -> list[str]:
    _ = w.gettext
    out = [_head(rule, labels, w, day)]
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
                "The rule was met before {date}, when the effect began. {lasting} The figures "
                "of this day:"
            ).format(date=w.date(rule.spell_start), lasting=_lasting(rule, w))
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
    metric = node.args.get("metric")
    if w.plain and metric and node.label == metric.replace("_", " "):
        return _metric_words(metric, w)
    scope = node.args.get("scope", "")
    if node.kind == "share_of_units" and node.label == f"share of {scope}s":
        units = w.gettext(SCOPE_PLURALS[scope]) if scope in SCOPE_PLURALS else f"{scope}s"
        return w.gettext("share of {units}").format(units=units)
    return w.policy(node.label)


_FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)?")
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
    if w.plain and "pct" in node.args.get("metric", "").split("_") and _FIGURE.fullmatch(value):
        value += "%"  # a percentage kept as a plain number by its metric
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
        label = _label(left, w)
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
    if kind == "choose" and w.plain:
        return _("under the reading chosen")
    if kind == "attribute" and w.plain:
        return _label(node, w) if node.label != a.get("name") else _metric_words(node.label, w)
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
            label=_label(node.children[0], w), n=w.figures(a["rising"])
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
            label=_label(child, w),
            value=_value(child, w) if w.plain else w.token(child.value or ""),
            level=w.policy(node.value or ""),
            cuts=w.figures(a["cuts"]),
        )
    return w.figures(node.note)


CONSTANT_NOTES = (N_("this clause does not apply under the reading chosen"),)


def _params(params: list[ParamUse], depth: int, w: _Words) -> list[str]:
    _ = w.gettext
    if w.plain:  # parameters and readings are named in the technical explanation only
        return []
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
    named = _label(left, w) if left else w.policy(node.label)
    label = named or _("the figure")
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


# -- for parents -------------------------------------------------------------------------
#
# The plain explanation: a first paragraph that says what the unit does on the day and why,
# in plain words with each figure's denominator; then each rule that counts, its figures day
# by day, what would change it and what the policy says; then each source once, with how sure
# we are of what we take from it. No parameter, reading or metric names: those are in the
# technical explanation (``explain(..., technical=True)``, ``--technical``).

METRIC_WORDS = {
    "absences_covered_by_substitutes": N_("absences a substitute covered"),
    "admissions_per_100k_7d": N_("new COVID-19 hospital admissions per 100,000 people in 7 days"),
    "cases_per_100k_14d": N_("new cases per 100,000 people in 14 days"),
    "cases_per_100k_7d": N_("new cases per 100,000 people in 7 days"),
    "classroom_teachers": N_("classroom teachers"),
    "closed_for_covid": N_("days closed for COVID-19"),
    "cohorts_with_cases_14d": N_("groups with a case in the last 14 days"),
    "core_group_cases": N_("cases in the group"),
    "covid_absent_teachers": N_("teachers absent with COVID-19"),
    "covid_closures_started": N_("closures for COVID-19"),
    "enrolled": N_("students enrolled"),
    "exposure_lead_days": N_("days from the last day in the group to the first symptoms"),
    "grade_band": N_("grade level of the school"),
    "group_size": N_("people in the group"),
    "household_linked_cases": N_("cases linked through a household"),
    "in_outbreak": N_("outbreak declared"),
    "in_person_students": N_("students learning in person"),
    "key_mitigations_implemented": N_("key safety measures in place"),
    "mitigations_consistent": N_("safety measures used well every day"),
    "pct_beds_covid": N_("hospital beds used by COVID-19 patients"),
    "positive_cases": N_("people who tested positive"),
    "positive_cases_reported": N_("positive cases reported that day"),
    "positivity_14d_pct": N_("test positivity over 14 days"),
    "positivity_7d_pct": N_("test positivity over 7 days"),
    "qualifying_cases": N_("cases that count"),
    "safety_committee_determination": N_("decision of the school safety committee"),
    "school_cases": N_("new cases at the school"),
    "school_population": N_("students and staff of the school"),
    "staff_isolation_quarantine": N_("staff in isolation or quarantine"),
    "staff_surveillance_positivity_pct": N_("positivity of staff screening tests"),
    "staff_total": N_("staff of the school"),
    "students_quarantine_isolation": N_("students in quarantine or isolation"),
    "wastewater_copies_per_ml": N_("virus copies per mL of wastewater"),
    "weekly_screening_testing": N_("weekly screening tests"),
}
"""Plain names of the metrics a policy compares without a label of its own."""

UNIT_WORDS = {
    "district": N_("district {unit}"),
    "school": N_("school {unit}"),
    "classroom": N_("classroom {unit}"),
}
DAY_UNITS = ("calendar_days", "school_days")


def _metric_words(metric: str, w: _Words) -> str:
    """A metric's plain name in ``w``'s language (its id in words when it has none)."""
    return w.gettext(METRIC_WORDS[metric]) if metric in METRIC_WORDS else metric.replace("_", " ")


def _ahead(day: str | None, today: str | None) -> bool:
    """Whether ``day`` is a day to come (after ``today``; any day when there is no today)."""
    return bool(day) and (today is None or str(day) > today)


def _lasting(rule: RuleTrace, w: _Words) -> str:
    """How long a rule's effect lasts, in one or two sentences: a minimum only where the rule
    has one, then what ends it."""
    _ = w.gettext
    least = (
        rule.min_duration if rule.min_duration and _FIGURE.fullmatch(rule.min_duration) else None
    )
    parts = []
    if least is not None:
        n, shown = _count(least), w.figures(least)
        if rule.min_duration_unit == "school_days":
            parts.append(
                w.ngettext(
                    "It lasts at least {n} school day.", "It lasts at least {n} school days.", n
                ).format(n=shown)
            )
        else:
            parts.append(
                w.ngettext("It lasts at least {n} day.", "It lasts at least {n} days.", n).format(
                    n=shown
                )
            )
    if rule.exit_when == "condition":
        parts.append(
            _("After that, it ends when its return condition is met.")
            if least
            else _("It lasts until its return condition is met.")
        )
    elif rule.exit_when != "min_duration_elapsed" or least is None:
        parts.append(
            _("After that, it ends when the rule is no longer met.")
            if least
            else _("It lasts while the rule is met.")
        )
    return " ".join(parts)


def _unit_words(trace: Trace, w: _Words) -> str:
    words = UNIT_WORDS.get(trace.scope)
    if words is None:
        return f"{trace.scope} {trace.unit}"
    return w.gettext(words).format(unit=trace.unit)


def _mode_label(mode: str | None, labels: dict[str, str], w: _Words) -> str:
    """A mode by the policy's label for it, in this language."""
    if not mode:
        return ""
    return w.policy(labels.get(mode, mode.replace("_", " ")))


def _reasons(node: Node | None, w: _Words) -> list[tuple[str, str]]:
    """(figure, limit) of each condition that holds under ``node``, in plain words:
    ("share of classroom teachers absent was 30.0% (12 of 40)", "at least 30.0% on each of the
    last 2 school days")."""
    if node is None or (not node.met and node.kind not in ("bands", "most_severe", "if")):
        return []
    if node.kind == "threshold" and node.children:
        left = node.children[0]
        figure = w.gettext("{label} was {value}").format(
            label=_label(left, w), value=_value(left, w)
        )
        return [(figure, f"{w.op(node.op)} {w.figures(node.limit_text or '')}")]
    if node.kind == "sustained" and node.children:
        n = _count(node.args.get("days", "1"))
        run = _run_plain(node.args.get("unit", ""), node.args.get("days", "1"), w) if n > 1 else ""
        return [
            (figure, f"{limit} {run}".strip()) for figure, limit in _reasons(node.children[0], w)
        ]
    if node.kind == "trend" and node.children:
        rising = node.args.get("rising", "1")
        figure = w.ngettext(
            "{label} rose on each of the last {n} day",
            "{label} rose on each of the last {n} days",
            _count(rising),
        ).format(label=_label(node.children[0], w), n=w.figures(rising))
        return [(figure, "")]
    if node.kind == "share_of_units":
        return [(_note(node, w) or "", "")]
    if node.kind == "bands" and node.children:
        child = node.children[0]
        figure = w.gettext("{label} was {value}, which gives level {level}").format(
            label=_label(child, w), value=_value(child, w), level=w.policy(node.value or "")
        )
        return [(figure, "")]
    if node.kind == "if" and node.children:  # the condition chose the scale: its level counts
        return _reasons(node.children[-1], w)
    if node.kind in ("all", "any", "at_least", "choose", "most_severe"):
        return [r for child in node.children for r in _reasons(child, w)]
    return []


def _run_plain(unit: str, count: str, w: _Words) -> str:
    n, shown = _count(count), w.figures(count)
    if unit == "school_days":
        return w.ngettext(
            "on each of the last {n} school day", "on each of the last {n} school days", n
        ).format(n=shown)
    return w.ngettext("on each of the last {n} day", "on each of the last {n} days", n).format(
        n=shown
    )


def _figures_said(reasons: list[tuple[str, str]], w: _Words) -> list[str]:
    """Sentences after the first: the other figures that hold, then the limit of the first."""
    _ = w.gettext
    out = []
    first_limit = reasons[0][1] if reasons else ""
    if first_limit:
        out.append(_("The limit is {limit}.").format(limit=first_limit))
    for figure, limit in reasons[1:3]:
        out.append(
            (_("Also, {figure} (limit: {limit}).") if limit else _("Also, {figure}.")).format(
                figure=figure, limit=limit
            )
        )
    return out


def summary(trace: Trace, *, lang: Language | None = None) -> str:
    """The first paragraph of a plain explanation: what the unit does on the day and why."""
    return _summary(trace, _Words(lang or language(DEFAULT), plain=True))


def _summary(trace: Trace, w: _Words) -> str:
    _ = w.gettext
    day = w.date(trace.date)
    unit = _unit_words(trace, w)
    if trace.mode == "not_in_force":
        return _("On {date}, this policy is not in force. The day is outside its term.").format(
            date=day
        )
    if trace.mode == "no_data" or trace.status == "no_data":
        return _(
            "On {date}, no mode is decided for {unit}, because a rule lacks the data it needs."
        ).format(date=day, unit=unit)
    eligible = trace.status.startswith("eligible_for_")
    mode = trace.status.removeprefix("eligible_for_")
    decider = _decider(trace, mode, eligible)
    what = (
        _('On {date}, {unit} is eligible for "{mode}"')
        if eligible
        else _('On {date}, the mode for {unit} is "{mode}"')
    ).format(date=day, unit=unit, mode=_mode_label(mode, trace.mode_labels, w))
    sentences: list[str] = []
    if decider is not None and decider.level is not None:
        reasons = _reasons(decider.condition, w)
        sentences.append(
            _("{what} because the level is {level}.").format(
                what=what, level=w.policy(decider.level)
            )
        )
        sentences += [_("{figure}.").format(figure=_upper(f)) for f, _limit in reasons[:3]]
    elif decider is not None and decider.triggered:
        reasons = _reasons(decider.condition, w)
        if reasons:
            sentences.append(_("{what} because {reason}.").format(what=what, reason=reasons[0][0]))
            sentences += _figures_said(reasons, w)
        else:
            sentences.append(_("{what} because a rule was met.").format(what=what))
    elif decider is not None and decider.in_effect:
        sentences.append(
            _("{what} because a rule took effect on {start}.").format(
                what=what, start=w.date(decider.spell_start or trace.date)
            )
        )
    else:
        waiting = [r for r in trace.rules if r.triggered and not r.in_effect and r.level is None]
        if waiting:
            sentences.append(_("{what}.").format(what=what))
            sentences.append(_("A rule was met on this day, but it takes effect later."))
            reasons = _reasons(waiting[0].condition, w)
            sentences += [_("{figure}.").format(figure=_upper(f)) for f, _limit in reasons[:2]]
        else:
            levels = any(r.level is not None for r in trace.rules)
            sentences.append(
                (
                    _("{what} because no rule sets another mode.")
                    if levels
                    else _("{what} because no rule was met.")
                ).format(what=what)
            )
            sentences.append(_("This is the usual mode of the policy."))
            if trace.missing_metrics:
                sentences.append(_("Some figures are missing, so some rules could not be met."))
    if decider is not None and decider.in_effect:
        if decider.spell_start and decider.spell_start < trace.date and decider.triggered:
            sentences.append(_("It began on {start}.").format(start=w.date(decider.spell_start)))
        sentences.append(_lasting(decider, w))
        if _ahead(decider.earliest_return, trace.date):
            sentences.append(
                _("It can end on {date} at the earliest.").format(
                    date=w.date(decider.earliest_return or "")
                )
            )
    if eligible and decider is not None:
        who = (
            w.policy(decider.decided_by)
            if decider.decided_by
            else _("the body named in the policy")
        )
        sentences.append(_("{who} decides whether it changes mode.").format(who=_upper(who)))
    return " ".join(s for s in sentences if s)


def _decider(trace: Trace, mode: str, eligible: bool) -> RuleTrace | None:
    """The rule that gives the unit its status: the trace's, or for an eligibility the first
    rule met that makes the unit eligible for that mode."""
    found = next((r for r in trace.rules if r.rule_id == trace.rule), None)
    if found is None and eligible:
        found = next(
            (r for r in trace.rules if r.triggered and r.action == "eligible" and r.mode == mode),
            None,
        )
    return found


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Sources:
    """The sources an explanation cites, numbered in order of first citation, each with how
    sure we are of what we take from it."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[str, str | None], int] = {}
        self.confidence: dict[tuple[str, str | None], list[str]] = {}

    def cite(self, title: str | None, url: str | None, confidence: str | None) -> int | None:
        if not title and not url:
            return None
        key = (title or url or "", url)
        number = self.numbers.setdefault(key, len(self.numbers) + 1)
        said = self.confidence.setdefault(key, [])
        if confidence and confidence not in said:
            said.append(confidence)
        return number

    def lines(self, w: _Words) -> list[str]:
        if not self.numbers:
            return []
        out = [w.gettext("Sources:")]
        for (title, url), number in self.numbers.items():
            codes = sorted(self.confidence[(title, url)], key=list(CONFIDENCE).index)
            sure = "; ".join(w.gettext(CONFIDENCE[c]) for c in codes if c in CONFIDENCE)
            cited = title + (f", {url}" if url and url != title else "")
            out.append(f"  [{number}] {cited}" + (f" ({sure})" if sure else ""))
        return out


def _cite_params(node: Node | None, sources: _Sources) -> None:
    if node is None:
        return
    for p in node.params:
        if not p.interpretation:
            sources.cite(p.source, p.url, p.confidence)
    for child in node.children:
        _cite_params(child, sources)


def _plain_rule(rule: RuleTrace, trace: Trace, w: _Words, sources: _Sources) -> list[str]:
    _ = w.gettext
    title = w.policy(rule.title)
    if rule.level is not None:
        out = [_('Rule "{title}": level {level}.').format(title=title, level=w.policy(rule.level))]
    elif rule.in_effect:
        out = [
            _('Rule "{title}": in effect since {date} ({mode}).').format(
                title=title,
                date=w.date(rule.spell_start or trace.date),
                mode=_mode_label(rule.mode, trace.mode_labels, w),
            )
        ]
        out.append("  " + _lasting(rule, w))
        if _ahead(rule.earliest_return, trace.date):
            out.append(
                "  "
                + _("It can end on {date} at the earliest.").format(
                    date=w.date(rule.earliest_return or "")
                )
            )
        if not rule.triggered:
            out.append("  " + _("The figures of this day:"))
    elif rule.triggered:
        out = [_('Rule "{title}": met on this day.').format(title=title)]
    else:
        out = [_('Rule "{title}": not met.').format(title=title)]
    if rule.not_in_force:
        out.append("  " + _("(not applied on this day)"))
    if rule.condition is not None:
        out.extend(_node(rule.condition, 1, w))
        if rule.triggered or rule.in_effect:
            changes = _changes(rule.condition, w)
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
    _cite_params(rule.condition, sources)
    number = sources.cite(rule.source_title, rule.source_url, rule.confidence)
    if rule.quote:
        where = (
            _("What the policy says (source [{number}]):").format(number=number)
            if number
            else _("What the policy says:")
        )
        out.append("  " + where)
        if w.code != SOURCE_LANGUAGE:
            name = language(SOURCE_LANGUAGE).locale.get_language_name(w.lang.locale)
            out.append(
                "  " + _("Quoted in its original language ({language}):").format(language=name)
            )
        out.extend(_quoted(rule.quote))
    elif number:
        out.append("  " + _("Source: [{number}]").format(number=number))
    return out


def plain_explanation(
    trace: Trace, *, all_rules: bool = False, lang: Language | None = None
) -> str:
    """The explanation for parents: the summary paragraph, then each rule that counts (every
    rule with ``all_rules``) with its figures, then the sources, each once."""
    w = _Words(lang or language(DEFAULT), plain=True)
    _ = w.gettext
    paragraphs = [
        _summary(trace, w),
        _('Policy: "{title}".').format(title=w.policy(trace.policy_title)),
    ]
    active = [
        r for r in trace.rules if r.triggered or r.in_effect or (r.level and r.level != "unknown")
    ]
    sources = _Sources()
    for rule in trace.rules if all_rules or not active else active:
        paragraphs.append("\n".join(_plain_rule(rule, trace, w, sources)))
    if trace.missing_metrics:
        names = [_metric_words(m.partition(".")[2] or m, w) for m in trace.missing_metrics]
        paragraphs.append(
            _(
                "Figures missing on this day: {names}. Rules that need them could not be met."
            ).format(names=", ".join(dict.fromkeys(names)))
        )
    if any(not i.default for i in trace.interpretations):
        paragraphs.append(
            _(
                "This explanation reads the policy in a way other than its default; the "
                "technical explanation names the readings."
            )
        )
    cited = sources.lines(w)
    if cited:
        paragraphs.append("\n".join(cited))
    return "\n\n".join(paragraphs)
