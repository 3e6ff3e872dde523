"""The words explanations are written in: the tables of words, the renderer's language
(:class:`_Words`: gettext, plural forms, policy texts, dates and figures) and the renderers of a
trace's conditions, notes and figures that the technical explanation
(:mod:`schoolmode.engine.explain`) and the explanation for parents (:mod:`schoolmode.engine.plain`)
share.
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
SCOPE_WORDS = {
    "district": N_("District"),
    "school": N_("School"),
    "grade": N_("Grade"),
    "classroom": N_("Classroom"),
}
SCOPE_PLURALS = {
    "district": N_("districts"),
    "school": N_("schools"),
    "grade": N_("grades"),
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
    percent = (
        w.plain
        and node.kind == "trend"
        and bool(node.children)
        and "pct" in node.children[0].args.get("metric", "").split("_")
    )
    for day, value in node.days:
        shown = _day_value(value, w)
        lines.append(
            f"{pad}    {w.date(day)}: {shown}{'%' if percent and _FIGURE.fullmatch(shown) else ''}"
        )
    if node.run is not None and not w.plain:
        lines.append(f"{pad}    {_run_line(node, w)}")
    lines.extend(_params(node.params, depth + 1, w))
    if node.kind in ("all", "any", "at_least", "not", "most_severe", "if"):
        for child in node.children:
            lines.extend(_node(child, depth + 1, w))
    elif node.kind == "sustained" and node.children:
        lines.extend(_params(node.children[0].params, depth + 1, w))
    return lines


def _run_line(node: Node, w: _Words) -> str:
    """The current run of a sustained or trend condition, and the day that broke the one
    before: "run so far: 1 consecutive school day; broken on Monday 17 January 2022 (27.5%)"."""
    n = node.run or 0
    school = node.args.get("unit") == "school_days"
    text = (
        w.ngettext(
            "run so far: {n} consecutive school day",
            "run so far: {n} consecutive school days",
            n,
        )
        if school
        else w.ngettext("run so far: {n} consecutive day", "run so far: {n} consecutive days", n)
    ).format(n=w.figures(str(n)))
    if node.broke_on is None:
        unknown = node.args.get("unknown_on")
        if unknown is None:
            return text
        return text + w.gettext("; no data on {date}").format(date=w.date(unknown))
    if node.broke_value is None:
        return text + w.gettext("; broken on {date}").format(date=w.date(node.broke_on))
    return text + w.gettext("; broken on {date} ({value})").format(
        date=w.date(node.broke_on), value=_day_value(node.broke_value, w)
    )


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
        words = {
            "label": _label(child, w),
            "value": _value(child, w) if w.plain else w.token(child.value or ""),
            "level": w.policy(node.value or ""),
            "cuts": w.figures(a["cuts"]),
        }
        if "reason" in a:
            return _(
                "{label} {value} gives level {level} (cut-points {cuts}): the table assigns "
                "no level to this value ({reason})"
            ).format(**words, reason=w.token(a["reason"]))
        return _("{label} {value} gives level {level} (cut-points {cuts})").format(**words)
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


# -- words shared with the explanation for parents (engine/plain.py) ---------------------

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


def metric_words(metric: str, lang: str = DEFAULT) -> str:
    """A metric's plain name in ``lang`` (its id in words when it has none)."""
    return (
        language(lang).gettext(METRIC_WORDS[metric])
        if metric in METRIC_WORDS
        else metric.replace("_", " ")
    )


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
        elif rule.min_duration_unit == "hours":
            parts.append(
                w.ngettext(
                    "It lasts at least {n} hour (whole days, rounded up).",
                    "It lasts at least {n} hours (whole days, rounded up).",
                    n,
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
    notice = rule.return_notice
    if notice and _FIGURE.fullmatch(notice) and rule.exit_when != "min_duration_elapsed":
        n, shown = _count(notice), w.figures(notice)
        parts.append(
            (
                w.ngettext(
                    "The return is announced {n} school day ahead.",
                    "The return is announced {n} school days ahead.",
                    n,
                )
                if rule.return_notice_unit == "school_days"
                else w.ngettext(
                    "The return is announced {n} hour ahead (whole days, rounded up).",
                    "The return is announced {n} hours ahead (whole days, rounded up).",
                    n,
                )
                if rule.return_notice_unit == "hours"
                else w.ngettext(
                    "The return is announced {n} day ahead.",
                    "The return is announced {n} days ahead.",
                    n,
                )
            ).format(n=shown)
        )
    return " ".join(parts)


def return_words(rule: RuleTrace, w: _Words) -> str | None:
    """What keeps a unit in the mode of a rule in effect that ends on a return condition of its
    own, and where that condition stands on the day (with its run so far, when it must hold
    for several days): "It returns when \"...\"; not yet on this day (3 of 7 days so far)."""
    node = rule.return_condition
    if node is None:
        return None
    _ = w.gettext
    condition = _label(node, w) or _note(node, w) or _("its return condition")
    if node.met:
        return _('Its return condition, "{condition}", holds on this day.').format(
            condition=condition
        )
    if node.met is None:
        return _('It returns when "{condition}"; this day has no data for it.').format(
            condition=condition
        )
    needed = node.args.get("days")
    if node.run is not None and needed and _FIGURE.fullmatch(needed):
        return _(
            'It returns when "{condition}"; not yet on this day ({n} of {days} so far).'
        ).format(condition=condition, n=w.figures(str(node.run)), days=w.figures(needed))
    return _('It returns when "{condition}"; not yet on this day.').format(condition=condition)


def term_words(trace: Trace, w: _Words) -> str:
    """The policy's own term, its dates in words."""
    first, _sep, last = trace.term.removeprefix("from ").partition(" to ")
    if not last:
        return w.gettext("from {start}").format(start=w.date(first))
    return w.gettext("{start} to {end}").format(start=w.date(first), end=w.date(last))


def counterfactual_words(trace: Trace, w: _Words) -> str:
    return w.gettext(
        "This policy is applied here outside its term ({term}), on request. It shows what the "
        "policy would have decided, not what was in force."
    ).format(term=term_words(trace, w))
