"""The explanation for parents (issue 15, item 9), rendered from the trace.

A first paragraph that says what the unit does on the day and why, in plain words, each figure
with its denominator and each day as a weekday and a date; then each rule that counts, its
figures day by day, what would change it and what the policy says; then each source once, with
how sure we are of what we take from it, in words. No parameter, reading or metric ids and no
engine words: those are in the technical explanation (``explain(..., technical=True)``,
``--technical``). Every sentence goes through the catalog of the language given, as in
:mod:`schoolmode.engine.explain`, with the words and renderers of :mod:`schoolmode.engine.words`.
"""

from __future__ import annotations

from schoolmode.engine.evaluate import UNASSIGNED_LEVEL
from schoolmode.engine.trace import OUTSIDE_TERM, Node, RuleTrace, Trace
from schoolmode.engine.words import (
    CONFIDENCE,
    SOURCE_LANGUAGE,
    _ahead,
    _changes,
    _count,
    _label,
    _lasting,
    _metric_words,
    _node,
    _note,
    _quoted,
    _value,
    _Words,
    counterfactual_words,
    return_words,
    term_words,
)
from schoolmode.i18n import DEFAULT, N_, Language, language

UNIT_WORDS = {
    "district": N_("district {unit}"),
    "school": N_("school {unit}"),
    "grade": N_("grade {unit}"),
    "classroom": N_("classroom {unit}"),
}


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
    if node.kind == "bands" and node.children and "reason" in node.args:
        child = node.children[0]
        figure = w.gettext(
            "{label} was {value}, which the table puts in no level ({reason})"
        ).format(label=_label(child, w), value=_value(child, w), reason=node.args["reason"])
        return [(figure, "")]
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


def _unassigned_band(node: Node | None) -> Node | None:
    """The first band table under ``node`` whose value it leaves in no band."""
    if node is None:
        return None
    if node.kind == "bands" and "reason" in node.args and node.children:
        return node
    for child in node.children:
        found = _unassigned_band(child)
        if found is not None:
            return found
    return None


def summary(trace: Trace, *, lang: Language | None = None) -> str:
    """The first paragraph of a plain explanation: what the unit does on the day and why."""
    return _summary(trace, _Words(lang or language(DEFAULT), plain=True))


def _summary(trace: Trace, w: _Words) -> str:
    _ = w.gettext
    day = w.date(trace.date)
    unit = _unit_words(trace, w)
    if trace.mode == "not_in_force":
        return _(
            "On {date}, this policy is not in force. The day is outside its term ({term})."
        ).format(date=day, term=term_words(trace, w))
    gaps = [r for r in trace.rules if r.level == UNASSIGNED_LEVEL]
    if (trace.mode == "no_data" or trace.status == "no_data") and gaps:
        band = _unassigned_band(gaps[0].condition)
        said = [_("On {date}, no mode is decided for {unit}.").format(date=day, unit=unit)]
        if band is not None:
            said.append(
                _("{figure}. The policy's table gives no level for that value.").format(
                    figure=_upper(
                        w.gettext("{label} was {value}").format(
                            label=_label(band.children[0], w), value=_value(band.children[0], w)
                        )
                    )
                )
            )
        return " ".join(said)
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
    if decider is not None and decider.level is None:
        sentences.append(_('The rule: "{title}".').format(title=w.policy(decider.title)))
    if decider is not None and decider.in_effect:
        if decider.spell_start and decider.spell_start < trace.date and decider.triggered:
            sentences.append(_("It began on {start}.").format(start=w.date(decider.spell_start)))
        sentences.append(_lasting(decider, w))
        back = return_words(decider, w)
        if back:
            sentences.append(back)
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
            _('Rule "{title}": "{mode}" since {date}.').format(
                title=title,
                date=w.date(rule.spell_start or trace.date),
                mode=_mode_label(rule.mode, trace.mode_labels, w),
            )
        ]
        out.append("  " + _lasting(rule, w))
        back = return_words(rule, w)
        if back:
            out.append("  " + back)
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
    if rule.not_in_force == OUTSIDE_TERM:
        return [
            _('Rule "{title}": not evaluated, as the policy is not in force.').format(title=title)
        ]
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
        *([counterfactual_words(trace, w)] if trace.counterfactual else []),
        _('Policy: "{title}".').format(title=w.policy(trace.policy_title)),
    ]
    active = [
        r for r in trace.rules if r.triggered or r.in_effect or (r.level and r.level != "unknown")
    ]
    sources = _Sources()
    shown = trace.rules if all_rules or not active else active
    for rule in shown:
        paragraphs.append("\n".join(_plain_rule(rule, trace, w, sources)))
    derived = _derived(shown, w)
    if derived:
        paragraphs.append(" ".join(derived))
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


DERIVED_FROM = {
    "positivity_7d_pct": N_("the weekly ZIP-code tests"),
    "positivity_14d_pct": N_("the weekly ZIP-code tests"),
}
"""Where a metric's value comes from on the days it is derived (``Node.args["derived"]``)."""


def _derived(rules: list[RuleTrace], w: _Words) -> list[str]:
    """A sentence for each figure of the day derived from another series ("On this day, test
    positivity over 7 days is derived from the weekly ZIP-code tests.")."""
    said: dict[str, str] = {}
    for rule in rules:
        for node in _walk(rule.condition):
            metric = node.args.get("metric", "")
            if node.args.get("derived") and metric not in said:
                source = DERIVED_FROM.get(metric)
                said[metric] = w.gettext("On this day, {label} is derived from {source}.").format(
                    label=_label(node, w),
                    source=w.gettext(source) if source else w.gettext("another series"),
                )
    return list(said.values())


def _walk(node: Node | None) -> list[Node]:
    if node is None:
        return []
    return [node, *(n for child in node.children for n in _walk(child))]
