"""The trace: why a unit has its mode on a day.

A tree per rule: rule -> condition -> metric value -> inputs (with their days) ->
parameter value with its clause, quote, source and confidence. Explanations, audit
records and failing-case messages are renderings of this one tree. The tree is read
from an evaluation made with ``keep=True``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from schoolmode.engine import runs
from schoolmode.engine.evaluate import UNASSIGNED_LEVEL, Evaluation, RuleResult, Segment
from schoolmode.engine.grid import DERIVED_SUFFIX as GRID_DERIVED_SUFFIX
from schoolmode.engine.nodes import UNASSIGNED, CondValue
from schoolmode.engine.rational import Rational
from schoolmode.engine.states import NEVER
from schoolmode.policy import model as m
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.values import dated_value

OUTSIDE_TERM = "outside the policy's term"
"""A rule's ``not_in_force`` on a day outside the policy's term (the trace's ``term`` says
which): the cause, never a parameter that has no value there."""

DERIVED_SUFFIX = GRID_DERIVED_SUFFIX
"""A frame's 0/1 column ``<metric>_derived`` marks the days whose value of ``<metric>`` is
derived from another series (the trace says so: ``Node.args["derived"]``)."""


@dataclass
class ParamUse:
    name: str
    value: str
    unit: str | None
    clause: str | None = None
    quote: str | None = None
    source: str | None = None
    url: str | None = None
    confidence: str | None = None
    from_: str | None = None
    interpretation: bool = False
    default: bool = True


@dataclass
class Node:
    kind: str
    label: str
    met: bool | None = None  # conditions
    value: str | None = None  # operands, in plain figures
    detail: str | None = None  # e.g. "12 of 40"
    percent: bool = False
    params: list[ParamUse] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    days: list[tuple[str, str]] = field(default_factory=list)  # (date, value) for runs and windows
    note: str | None = None
    criterion: str | None = None  # e.g. "at least 30.0%"
    raw: str | None = None  # exact value of an operand, as a decimal string
    op: str | None = None  # thresholds: the comparator
    limit: str | None = None  # thresholds: the value compared with, as a decimal string
    limit_text: str | None = None  # thresholds: the same, formatted ("30.0%")
    args: dict[str, str] = field(default_factory=dict)
    """The figures and names ``note`` is written from, for renderers in other languages
    (``engine.words``): e.g. ``{"days": "2", "unit": "school_days"}``."""
    run: int | None = None
    """Sustained and trend conditions: the length of the current run of met days on the day
    (school days for a school-day unit; ``engine.runs``)."""
    broke_on: str | None = None
    """Sustained and trend conditions: the latest day up to the day on which the daily
    condition was not met (the day that broke the run before the current one)."""
    broke_value: str | None = None
    """The compared figure on ``broke_on`` (or "no data")."""


@dataclass
class RuleTrace:
    rule_id: str
    title: str
    scope: str
    action: str | None
    mode: str | None
    decided_by: str | None
    clause: str | None
    quote: str | None
    source_title: str | None
    source_url: str | None
    confidence: str
    triggered: bool | None
    in_effect: bool
    spell_start: str | None
    earliest_return: str | None
    level: str | None
    not_in_force: str | None
    condition: Node | None
    inactive: str | None = None
    """The parameter without a value on this day, when that keeps the rule from applying."""
    min_duration: str | None = None
    """The effect's minimum duration on this day (a count of ``min_duration_unit``), if any."""
    min_duration_unit: str | None = None
    exit_when: str | None = None
    """How the effect ends after its minimum: ``trigger_cleared``, ``min_duration_elapsed`` or
    ``condition`` (a return condition of its own)."""
    return_condition: Node | None = None
    """While the effect is in effect and ends on a return condition of its own
    (``exit_when``): that condition on the day, evaluated (what keeps the unit in the mode)."""
    return_notice: str | None = None
    """Days of notice before a return (a count of ``return_notice_unit``), when not 0."""
    return_notice_unit: str | None = None


@dataclass
class Trace:
    policy_id: str
    policy_title: str
    scope: str
    unit: str
    date: str
    mode: str
    status: str
    rule: str | None
    rules: list[RuleTrace]
    interpretations: list[ParamUse]
    missing_metrics: list[str]
    mode_labels: dict[str, str] = field(default_factory=dict)
    term: str = ""
    """The policy's own term in words (``2021-02-11 to 2021-08-24``, ``from 2022-01-11``)."""
    counterfactual: bool = False
    """The policy was applied outside its term on request (a case's ``apply: counterfactual``,
    a backtest's ``--counterfactual``): what it would have decided, not what was in force."""

    def to_dict(self) -> dict[str, Any]:
        """As ``dataclasses.asdict`` gives it (same keys, order and values), built directly:
        a decision stores the traces of thousands of unit-days."""
        out = _plain(self)
        assert isinstance(out, dict)
        return out

    def to_json(self) -> str:
        """``json.dumps(self.to_dict(), default=str)``, without building the dict first."""
        return json.dumps(self, default=_json_default)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    names = _FIELDS.get(type(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _json_default(value: Any) -> Any:
    """A trace's dataclasses as their fields (one level: the encoder recurses); other values
    as text."""
    names = _FIELDS.get(type(value))
    if names is not None:
        return {name: getattr(value, name) for name in names}
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return str(value)


_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls)) for cls in (ParamUse, Node, RuleTrace, Trace)
}


def _fmt(value: Decimal, percent: bool = False) -> str:
    if percent:
        return f"{value.quantize(Decimal('0.1'))}%"
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


def _decimal(value: Rational, u: int, d: int) -> Decimal | None:
    known = np.broadcast_to(np.asarray(value.known), np.shape(value.num) or (1, 1))
    if np.ndim(value.num) == 2 and not known[u, d]:
        return None
    num = (
        int(np.asarray(value.num)[u, d]) if np.ndim(value.num) == 2 else int(np.asarray(value.num))
    )
    den = (
        int(np.asarray(value.den)[u, d]) if np.ndim(value.den) == 2 else int(np.asarray(value.den))
    )
    return Decimal(num) / Decimal(den)


class _Builder:
    def __init__(self, evaluation: Evaluation, scope: str, unit: str, day: dt.date) -> None:
        self.ev = evaluation
        self.policy = evaluation.policy
        self.scope = scope
        self.unit = unit
        self.day = day
        self.d = evaluation.axis.index(day)
        self.result = evaluation.scopes[scope]
        self.u = self.result.grid.unit_index(unit)
        self.record: dict[int, Any] = {}
        self.values: dict[str, Any] = {}

    # -- parameters ----------------------------------------------------------------
    def param(self, ref: m.ValueRef) -> tuple[str, list[ParamUse]]:
        if isinstance(ref, m.ParamRef):
            spec = self.policy.parameters[ref.param]
            override = ref.param in self.ev.settings.parameters
            found = dated_value(self.policy, ref.param, self.day)
            value = self.values.get(ref.param)
            shown = str(value) if value is not None else "none"
            use = ParamUse(ref.param, shown, spec.unit, default=not override)
            if found is not None and not override:
                src = self.policy.sources.get(found.source)
                use.clause, use.quote, use.confidence = (
                    found.clause,
                    found.quote,
                    found.confidence.value,
                )
                use.source, use.url = (src.title, src.url) if src else (found.source, None)
                use.from_ = found.from_.isoformat()
            return shown, [use]
        if isinstance(ref, m.InterpRef):
            chosen = self.ev.interpretations[ref.interp]
            spec_i = self.policy.interpretations[ref.interp]
            return str(chosen), [
                ParamUse(
                    ref.interp,
                    str(chosen),
                    None,
                    interpretation=True,
                    default=str(chosen) == str(spec_i.default),
                    confidence=spec_i.confidence.value,
                )
            ]
        return str(ref), []

    # -- operands ------------------------------------------------------------------
    def operand(self, node: m.Operand) -> Node:
        got = self.record.get(id(node))
        value = _decimal(got, self.u, self.d) if isinstance(got, Rational) else None
        label = node.label or _default_label(node)
        out = Node("operand", label)
        if isinstance(node, m.MetricOp):
            out.args["metric"] = node.metric
            flag = self.result.grid.metrics.get(node.metric + DERIVED_SUFFIX)
            if isinstance(flag, Rational) and _decimal(flag, self.u, self.d) == 1:
                out.args["derived"] = "1"
        if isinstance(node, m.ShareOp):
            out.percent = node.share.percent
            of, per = self.operand(node.share.of), self.operand(node.share.per)
            out.children = [of, per]
            out.args["detail"] = "share"
            if of.value is not None and per.value is not None:
                out.detail = f"{of.value} of {per.value}"
        elif isinstance(node, m.DifferenceOp):
            out.children = [self.operand(node.difference.of), self.operand(node.difference.minus)]
            a, b = out.children
            out.args["detail"] = "difference"
            if a.value is not None and b.value is not None:
                out.detail = f"{a.value} minus {b.value}"
        elif isinstance(node, m.WindowSumOp):
            shown, params = self.param(node.window_sum.days)
            out.params = params
            out.children = [self.operand(node.window_sum.of)]
            unit = self.param(node.window_sum.unit)[0]
            out.args = {"days": shown, "unit": unit}
            out.note = f"sum over {shown} {_unit_word(unit, shown)} to this day"
            out.days = self._series(
                node.window_sum.of, int(Decimal(shown)) if shown.isdigit() else 14, events_only=True
            )
        elif isinstance(node, m.PickOp):
            shown, params = self.param(m.InterpRef(interp=node.pick.interp))
            inner = self.operand(node.pick.cases[shown])
            inner.params = [*params, *inner.params]
            return inner
        elif isinstance(node, m.LagOp):
            out.children = [self.operand(node.lag.of)]
        out.value = _fmt(value, out.percent) if value is not None else "no data"
        out.raw = str(value) if value is not None else None
        return out

    def _series(
        self, node: m.Operand, days: int, *, events_only: bool = False
    ) -> list[tuple[str, str]]:
        """The operand's value on each of the last ``days`` days (only days with events when
        ``events_only``, for window sums of counts)."""
        got = self.record.get(id(node))
        if not isinstance(got, Rational):
            return []
        out = []
        for back in range(min(days, self.d + 1) - 1, -1, -1):
            value = _decimal(got, self.u, self.d - back)
            if events_only and (value is None or value == 0):
                continue
            shown = _fmt(value) if value is not None else "no data"
            out.append((self.ev.axis.date(self.d - back).isoformat(), shown))
        return out

    # -- conditions ----------------------------------------------------------------
    def condition(self, node: m.Condition) -> Node:
        got = self.record.get(id(node))
        met: bool | None = None
        if isinstance(got, CondValue):
            met = bool(got.value[self.u, self.d]) if got.known[self.u, self.d] else None
        label = node.label or ""
        if isinstance(node, m.ThresholdCond):
            return self._threshold(node, label, met)
        if isinstance(node, m.AllCond | m.AnyCond | m.AtLeastCond):
            return self._combination(node, label, met)
        if isinstance(node, m.NotCond):
            return Node("not", label, met, children=[self.condition(node.not_)])
        if isinstance(node, m.SustainedCond):
            return self._sustained(node, label, met)
        if isinstance(node, m.TrendCond):
            return self._trend(node, label, met)
        if isinstance(node, m.ShareOfUnitsCond):
            return self._share_of_units(node, label, met)
        if isinstance(node, m.ChooseCond):
            shown, params = self.param(m.InterpRef(interp=node.choose.interp))
            inner = self.condition(node.choose.cases[shown])
            out = Node("choose", label or inner.label, met, params=params, children=[inner])
            out.note = f"under the reading {node.choose.interp} = {shown}"
            out.args = {"name": node.choose.interp, "value": shown}
            return out
        if isinstance(node, m.AttributeCond):
            values = self.result.grid.attributes.get(node.attribute.name)
            have = str(values[self.u]) if values is not None else "unknown"
            applies = ", ".join(node.attribute.in_)
            return Node(
                "attribute",
                label or node.attribute.name,
                met,
                note=f"{node.attribute.name} is {have} (rule applies to {applies})",
                args={"name": node.attribute.name, "value": have, "in": applies},
            )
        if isinstance(node, m.ConstantCond):
            return Node(
                "constant",
                label or ("always met" if node.constant else "never met"),
                met,
                note="this clause does not apply under the reading chosen",
            )
        raise SchoolmodeError(f"cannot trace node {node!r}")

    def _threshold(self, node: m.ThresholdCond, label: str, met: bool | None) -> Node:
        spec = node.threshold
        left = self.operand(spec.of)
        shown, params = self.param(spec.value)
        op = self.param(spec.op)[0] if isinstance(spec.op, m.InterpRef) else spec.op
        percent = left.percent or any(p.unit == "percent" for p in params)
        thr = _fmt(Decimal(shown), percent) if _is_number(shown) else shown
        out = Node(
            "threshold",
            label or left.label,
            met,
            params=params,
            children=[left],
            criterion=f"{_op_words(op)} {thr}",
            op=op,
            limit=shown if _is_number(shown) else None,
            limit_text=thr,
        )
        out.note = (
            f"{left.label} {left.value}"
            + (f" ({left.detail})" if left.detail else "")
            + f" is {'' if met else 'not '}{_op_words(op)} {thr}"
        )
        if met is None:
            out.note = f"{left.label}: no data"
        return out

    def _combination(
        self, node: m.AllCond | m.AnyCond | m.AtLeastCond, label: str, met: bool | None
    ) -> Node:
        parts = (
            node.all
            if isinstance(node, m.AllCond)
            else node.any
            if isinstance(node, m.AnyCond)
            else node.at_least.of
        )
        kind = (
            "all"
            if isinstance(node, m.AllCond)
            else "any"
            if isinstance(node, m.AnyCond)
            else "at_least"
        )
        out = Node(kind, label, met, children=[self.condition(c) for c in parts])
        if isinstance(node, m.AtLeastCond):
            shown, params = self.param(node.at_least.k)
            out.params, out.note = params, f"at least {shown} of {len(parts)}"
            out.args = {"k": shown, "n": str(len(parts))}
        return out

    def _sustained(self, node: m.SustainedCond, label: str, met: bool | None) -> Node:
        spec_s = node.sustained
        shown, params = self.param(spec_s.days)
        unit_shown, unit_params = self.param(spec_s.unit)
        inner = self.condition(spec_s.condition)
        out = Node(
            "sustained",
            label or inner.label,
            met,
            params=[*params, *unit_params],
            children=[inner],
        )
        crit = _first_criterion(inner)
        out.note = (f"{crit} " if crit else "") + (
            f"on {shown} consecutive {_unit_word(unit_shown, shown)}"
        )
        out.args = {"days": shown, "unit": unit_shown}
        out.days = self._run_days(
            spec_s.condition, int(shown) if shown.isdigit() else 2, unit_shown
        )
        compared = _first_threshold(spec_s.condition, self.values, self.ev)
        if compared is not None:
            out.days = [(day, f"{self._value_on(compared, day)} ({met})") for day, met in out.days]
        self._run(node, out, unit_shown, compared)
        return out

    def _run(self, node: m.Condition, out: Node, unit: str, compared: m.Operand | None) -> None:
        """The current run of ``node``'s daily condition and the day that broke the one before."""
        daily = runs.daily_of(node, self.record)
        if daily is None:
            return
        found = runs.run_at(daily, self.u, self.d, self.ev.axis, unit)
        out.run = found.length
        out.args["run"] = str(found.length)
        if found.unknown_on is not None:
            out.args["unknown_on"] = found.unknown_on.isoformat()
        if found.broke_on is not None:
            out.broke_on = found.broke_on.isoformat()
            out.args["broke_on"] = out.broke_on
            if compared is not None:
                out.broke_value = self._value_on(compared, out.broke_on)
                out.args["broke_value"] = out.broke_value

    def _trend(self, node: m.TrendCond, label: str, met: bool | None) -> Node:
        spec_t = node.trend
        rising, p1 = self.param(spec_t.rising_days)
        factor, p2 = self.param(spec_t.factor)
        lag_days, p3 = self.param(spec_t.lag_days)
        series = self.operand(spec_t.of)
        out = Node(
            "trend",
            label or f"{series.label} rising",
            met,
            params=[*p1, *p2, *p3],
            children=[series],
            args={"rising": rising, "factor": factor, "lag": lag_days},
        )
        out.note = (
            f"{series.label} rose on each of {rising} consecutive day{'' if rising == '1' else 's'}, "
            f"each day at least {factor} times the value {lag_days} "
            f"day{'' if lag_days == '1' else 's'} earlier"
        )
        out.days = self._series(spec_t.of, int(rising) + int(lag_days))
        self._run(node, out, m.DayUnit.calendar_days.value, spec_t.of)
        return out

    def _share_of_units(self, node: m.ShareOfUnitsCond, label: str, met: bool | None) -> Node:
        spec_u = node.share_of_units
        shown, params = self.param(spec_u.value)
        share = self.record.get(id(spec_u))
        value = _decimal(share, self.u, self.d) if isinstance(share, Rational) else None
        out = Node(
            "share_of_units",
            label or f"share of {spec_u.scope.value}s",
            met,
            params=params,
            args={"scope": spec_u.scope.value, "value": shown},
        )
        op = self.param(spec_u.op)[0] if isinstance(spec_u.op, m.InterpRef) else spec_u.op
        out.args["op"] = op
        out.value = _fmt(value, True) if value is not None else "no data"
        out.note = (
            f"{out.value} of the {spec_u.scope.value}s met the condition, which is "
            f"{'' if met else 'not '}{_op_words(op)} {shown}%"
        )
        return out

    def _run_days(self, node: m.Condition, days: int, unit: str) -> list[tuple[str, str]]:
        got = self.record.get(id(node))
        if not isinstance(got, CondValue):
            return []
        out: list[tuple[str, str]] = []
        d = self.d
        school = self.ev.axis.school
        while d >= 0 and len(out) < days:
            if unit != "school_days" or school[d]:
                met = got.value[self.u, d] if got.known[self.u, d] else None
                out.append(
                    (
                        self.ev.axis.date(d).isoformat(),
                        "met" if met else "no data" if met is None else "not met",
                    )
                )
            d -= 1
        return list(reversed(out))

    def _value_on(self, node: m.Operand, day: str) -> str:
        d = self.ev.axis.index(dt.date.fromisoformat(day))
        got = self.record.get(id(node))
        value = _decimal(got, self.u, d) if isinstance(got, Rational) else None
        if value is None:
            return "no data"
        shown = _fmt(value, isinstance(node, m.ShareOp) and node.share.percent)
        if isinstance(node, m.ShareOp):
            parts = [self.record.get(id(x)) for x in (node.share.of, node.share.per)]
            if all(isinstance(x, Rational) for x in parts):
                a, b = (_decimal(x, self.u, d) for x in parts)  # type: ignore[arg-type]
                if a is not None and b is not None:
                    shown += f", {_fmt(a)} of {_fmt(b)}"
        return shown

    # -- levels --------------------------------------------------------------------
    def level(self, node: m.LevelExpr, levels: list[str]) -> Node:
        got = self.record.get(id(node))
        idx = int(got[self.u, self.d]) if isinstance(got, np.ndarray) else -1
        name = (
            levels[idx]
            if 0 <= idx < len(levels)
            else UNASSIGNED_LEVEL
            if idx == UNASSIGNED
            else "unknown"
        )
        label = node.label or ""
        if isinstance(node, m.BandsLevel):
            value = self.operand(node.bands.of)
            cuts = [(self.param(at), self.param(b)) for at, b in node.bands.cut_list()]
            out = Node(
                "bands",
                label or value.label,
                value=name,
                children=[value],
                params=[p for (_, ps), (_, bs) in cuts for p in (*ps, *bs)],
            )
            out.args = {"cuts": ", ".join(at for (at, _), _b in cuts)}
            out.note = (
                f"{value.label} {value.value} gives level {name} (cut-points {out.args['cuts']})"
            )
            if idx == UNASSIGNED:
                reason = node.bands.reason or "the table puts a value equal to this cut in no band"
                out.args["reason"] = reason
                out.note += f": the table assigns no level to this value ({reason})"
            return out
        if isinstance(node, m.MostSevereLevel):
            return Node(
                "most_severe",
                label or "the most severe of",
                value=name,
                children=[self.level(c, levels) for c in node.most_severe],
            )
        if isinstance(node, m.IfLevel):
            test = self.condition(node.if_.condition)
            branch = node.if_.then if test.met else node.if_.else_
            return Node(
                "if",
                label or "scale chosen by a condition",
                value=name,
                children=[test, self.level(branch, levels)],
            )
        raise SchoolmodeError(f"cannot trace level {node!r}")

    # -- rules ---------------------------------------------------------------------
    def rule(self, index: int, rr: RuleResult) -> RuleTrace:
        rule = rr.rule
        seg = _segment(rr.segments, self.d)
        self.record = seg.record or {} if seg is not None else {}
        self.values = seg.values if seg is not None else {}
        src = self.policy.sources.get(rule.source or "")
        trace = RuleTrace(
            rule.id,
            rule.title,
            rule.scope.value,
            rule.effect.action.value if rule.effect else None,
            rule.effect.mode if rule.effect else None,
            rule.decided_by,
            rule.clause,
            rule.quote,
            src.title if src else None,
            src.url if src else None,
            rule.confidence.value,
            bool(rr.trigger[self.u, self.d]) if rr.trigger is not None else None,
            bool(rr.spells.in_effect[self.u, self.d]) if rr.spells is not None else False,
            None,
            None,
            None,
            OUTSIDE_TERM
            if not self.ev.policy.term.covers(self.day)
            else f"parameter {seg.inactive} has no value on this day"
            if seg is not None and seg.inactive
            else None,
            None,
            seg.inactive
            if seg is not None and seg.inactive and self.ev.policy.term.covers(self.day)
            else None,
        )
        if rr.spells is not None and rr.spells.in_effect[self.u, self.d]:
            trace.spell_start = self.ev.axis.date(
                int(rr.spells.started[self.u, self.d])
            ).isoformat()
            end = int(rr.spells.earliest_end[self.u, self.d])
            trace.earliest_return = self.ev.axis.date(end).isoformat() if end < NEVER else None
        self._timing(rule, trace)
        if seg is None or seg.inactive or not self.record:
            return trace
        if rule.when is not None:
            trace.condition = self.condition(rule.when)
            ends = rule.timing.exit_when
            if trace.in_effect and not isinstance(ends, str):
                trace.return_condition = self.condition(ends)
        elif rule.classify is not None and rule.levels:
            trace.condition = self.level(rule.classify, rule.levels)
            trace.level = trace.condition.value
        return trace

    def _timing(self, rule: m.Rule, trace: RuleTrace) -> None:
        """How long the rule's effect lasts, for explanations ("it lasts at least 14 days")."""
        if rule.effect is None:
            return
        least = rule.timing.min_duration
        if least is not None:
            trace.min_duration = self.param(least.days)[0]
            trace.min_duration_unit = self.param(least.unit)[0]
        ends = rule.timing.exit_when
        trace.exit_when = ends if isinstance(ends, str) else "condition"
        notice = rule.timing.return_notice
        shown = self.param(notice.days)[0]
        if shown not in ("0", "none"):
            trace.return_notice = shown
            trace.return_notice_unit = self.param(notice.unit)[0]


def _first_criterion(node: Node) -> str | None:
    if node.criterion:
        return node.criterion
    for child in node.children:
        found = _first_criterion(child)
        if found:
            return found
    return None


def _first_threshold(node: m.Condition, values: dict[str, Any], ev: Evaluation) -> m.Operand | None:
    """The operand compared by the first threshold inside a condition (following choices)."""
    if isinstance(node, m.ThresholdCond):
        return node.threshold.of
    if isinstance(node, m.ChooseCond):
        return _first_threshold(
            node.choose.cases[str(ev.interpretations[node.choose.interp])], values, ev
        )
    if isinstance(node, m.AllCond | m.AnyCond):
        for child in node.all if isinstance(node, m.AllCond) else node.any:
            found = _first_threshold(child, values, ev)
            if found is not None:
                return found
    return None


def _segment(segments: list[Segment], d: int) -> Segment | None:
    return next((s for s in segments if s.mask[d]), None)


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _op_words(op: str) -> str:
    return {
        ">=": "at least",
        ">": "above",
        "<=": "at most",
        "<": "under",
        "==": "equal to",
        "!=": "other than",
    }.get(op, op)


def _unit_word(unit: str, count: str) -> str:
    """The unit of a count of days: "1 school day", "3 school days"."""
    one = count == "1"
    return {
        "school_days": "school day" if one else "school days",
        "calendar_days": "calendar day" if one else "calendar days",
        "hours": "hour" if one else "hours",
    }.get(unit, unit)


def _default_label(node: m.Operand) -> str:
    if isinstance(node, m.MetricOp):
        return node.metric.replace("_", " ")
    if isinstance(node, m.ConstOp):
        return str(node.value)
    if isinstance(node, m.ShareOp):
        return "share"
    if isinstance(node, m.DifferenceOp):
        return "difference"
    if isinstance(node, m.WindowSumOp):
        return "sum over a window"
    return "value"


def trace(
    evaluation: Evaluation,
    scope: str,
    unit: str,
    day: dt.date,
    *,
    row: Mapping[str, Any] | None = None,
) -> Trace:
    """The trace of one unit on one day; the evaluation must have been made with keep=True.

    ``row`` is the unit-day's row of ``evaluation.frame(scope, only_present=False)`` (its
    ``mode``, ``status`` and ``rule`` as text) when the caller has the frame already; without it
    the frame is built here."""
    if scope not in evaluation.scopes:
        raise SchoolmodeError(
            f"no {scope}-level result in this evaluation (scopes: {', '.join(evaluation.scopes)})"
        )
    if not 0 <= evaluation.axis.index(day) < evaluation.axis.days:
        raise SchoolmodeError(
            f"{day} is outside the evaluated days ({evaluation.axis.start} to "
            f"{evaluation.axis.date(evaluation.axis.days - 1)})"
        )
    builder = _Builder(evaluation, scope, unit, day)
    if row is None:
        frame = evaluation.frame(scope, only_present=False)
        row = frame.filter((pl.col("unit") == unit) & (pl.col("date") == day)).row(0, named=True)
    rules = [builder.rule(i, rr) for i, rr in enumerate(builder.result.rules)]
    interps = [
        ParamUse(
            name,
            str(value),
            None,
            interpretation=True,
            default=str(value) == str(evaluation.policy.interpretations[name].default),
            confidence=evaluation.policy.interpretations[name].confidence.value,
        )
        for name, value in evaluation.interpretations.items()
    ]
    return Trace(
        evaluation.policy.id,
        evaluation.policy.title,
        scope,
        unit,
        day.isoformat(),
        row["mode"],
        row["status"],
        row["rule"],
        rules,
        interps,
        sorted(f"{s}.{n}" for s, n in evaluation.missing_metrics),
        {mode.id: mode.label for mode in evaluation.policy.modes},
        evaluation.term.words(),
        evaluation.own_term is not None,
    )
