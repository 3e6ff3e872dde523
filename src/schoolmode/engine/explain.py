"""Explanations in plain language, rendered from the trace.

:func:`explain` gives the explanation for parents (:mod:`schoolmode.engine.plain`: what the unit
does on the day and why, the figures with their denominators, each source once) or, with
``technical``, the technical explanation written here: the trace rule by rule, each condition
with its figures, the parameters and readings each figure comes from with their clauses and
sources, the clause quoted and who decides when a rule only makes a unit eligible.

Every sentence goes through the gettext catalog of the ``lang`` the renderer is given
(``schoolmode.i18n``; English, the messages as written here, by default), dates and figures
through Babel for its locale. The trace's own notes are English; each is written again
(:mod:`schoolmode.engine.words`) from the figures and names the trace keeps beside it
(``Node.args``), so that every language states the same figures. What a policy file says (rule
titles, labels, the body that decides) is looked up in the catalog under the ``policy`` context
and kept as written when it has no translation; a clause's quotation always stays in its
original language, marked as such.
"""

from __future__ import annotations

from schoolmode.engine.evaluate import UNASSIGNED_LEVEL
from schoolmode.engine.plain import plain_explanation
from schoolmode.engine.trace import OUTSIDE_TERM, RuleTrace, Trace
from schoolmode.engine.words import (
    CONFIDENCE,
    SCOPE_WORDS,
    SOURCE_LANGUAGE,
    STATUS_WORDS,
    _ahead,
    _lasting,
    _node,
    _quoted,
    _Words,
    counterfactual_words,
    return_words,
    term_words,
    what_would_change,
)
from schoolmode.i18n import DEFAULT, Language, language


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
    (default: English): for parents (:func:`schoolmode.engine.plain.plain_explanation`), or
    with ``technical`` the whole trace with its parameter and reading names
    (:func:`technical_explanation`)."""
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
    if trace.counterfactual:
        lines.append(counterfactual_words(trace, w))
    if trace.mode == "not_in_force":
        lines.append(
            _(
                "The policy is not in force on this day: the day is outside its term ({term})."
            ).format(term=term_words(trace, w))
        )
    elif trace.mode == "no_data" and any(r.level == UNASSIGNED_LEVEL for r in active):
        lines.append(
            _(
                "A rule's value is in no band of its table (level unassigned), and no other "
                "rule applied: no mode is decided, never the default mode."
            )
        )
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
    if rule.not_in_force == OUTSIDE_TERM:
        return _('Rule "{title}" was not evaluated.').format(title=title)
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
            else _("the day is outside the policy's term")
            if rule.not_in_force == OUTSIDE_TERM
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
    if rule.condition is not None and rule.not_in_force != OUTSIDE_TERM:
        out.extend(_node(rule.condition, 1, w))
        if rule.return_condition is not None:
            out.append("  " + (return_words(rule, w) or ""))
            out.extend(_node(rule.return_condition, 2, w))
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
