"""One-line descriptions of rules, with parameter values in force on a day.

Used by ``policy show`` and ``policy diff``: negotiators read thresholds, windows, scopes
and durations side by side.
"""

from __future__ import annotations

import datetime as dt

from schoolmode.policy import model as m
from schoolmode.policy.values import dated_value

OPS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "=", "!=": "≠"}


class Describer:
    def __init__(self, policy: m.Policy, on: dt.date | None = None) -> None:
        self.policy = policy
        self.on = on or policy.term.from_

    def value(self, ref: m.ValueRef) -> str:
        if isinstance(ref, m.ParamRef):
            spec = self.policy.parameters[ref.param]
            found = dated_value(self.policy, ref.param, self.on) or spec.values[-1]
            value = "none" if found.value is None else str(found.value)
            suffix = "%" if spec.unit == "percent" else ""
            return f"{value}{suffix} [{found.confidence.value}]"
        if isinstance(ref, m.InterpRef):
            return f"{self.policy.interpretations[ref.interp].default} (reading: {ref.interp})"
        return str(ref)

    def unit(self, ref: m.ValueRef) -> str:
        text = self.value(ref)
        return text.replace("school_days", "school days").replace("calendar_days", "calendar days")

    def operand(self, node: m.Operand) -> str:
        if node.label:
            return node.label
        if isinstance(node, m.MetricOp):
            return node.metric
        if isinstance(node, m.ConstOp):
            return self.value(node.value)
        if isinstance(node, m.ShareOp):
            return f"{self.operand(node.share.of)} / {self.operand(node.share.per)}"
        if isinstance(node, m.DifferenceOp):
            return f"({self.operand(node.difference.of)} − {self.operand(node.difference.minus)})"
        if isinstance(node, m.WindowSumOp):
            w = node.window_sum
            if w.kind == "to_date":
                return f"total {self.operand(w.of)} to date"
            within = (
                " (within N days of each other)" if w.kind == "within_days_of_each_other" else ""
            )
            return f"{self.operand(w.of)} over {self.value(w.days)} {self.unit(w.unit)}{within}"
        if isinstance(node, m.PickOp):
            chosen = str(self.policy.interpretations[node.pick.interp].default)
            return self.operand(node.pick.cases[chosen])
        return f"{self.operand(node.lag.of)} {self.value(node.lag.days)} days earlier"

    def condition(self, node: m.Condition) -> str:
        if isinstance(node, m.ThresholdCond):
            t = node.threshold
            op = OPS.get(t.op, t.op) if isinstance(t.op, str) else self.value(t.op)
            return f"{self.operand(t.of)} {op} {self.value(t.value)}"
        if isinstance(node, m.AllCond):
            return " AND ".join(self._wrap(c) for c in node.all)
        if isinstance(node, m.AnyCond):
            return " OR ".join(self._wrap(c) for c in node.any)
        if isinstance(node, m.NotCond):
            return f"NOT {self._wrap(node.not_)}"
        if isinstance(node, m.AtLeastCond):
            return f"at least {self.value(node.at_least.k)} of: " + "; ".join(
                self.condition(c) for c in node.at_least.of
            )
        if isinstance(node, m.SustainedCond):
            s = node.sustained
            return (
                f"{self._wrap(s.condition)} on {self.value(s.days)} consecutive {self.unit(s.unit)}"
            )
        if isinstance(node, m.TrendCond):
            tr = node.trend
            return (
                f"{self.operand(tr.of)} rising {self.value(tr.rising_days)} days in a row, each "
                f"{OPS[tr.factor_op]} {self.value(tr.factor)} × the value {self.value(tr.lag_days)} days earlier"
            )
        if isinstance(node, m.ShareOfUnitsCond):
            u = node.share_of_units
            op = OPS.get(u.op, u.op) if isinstance(u.op, str) else self.value(u.op)
            return f"share of {u.scope.value}s where [{self.condition(u.condition)}] {op} {self.value(u.value)}"
        if isinstance(node, m.ChooseCond):
            chosen = str(self.policy.interpretations[node.choose.interp].default)
            return self.condition(node.choose.cases[chosen])
        if isinstance(node, m.AttributeCond):
            return f"{node.attribute.name} in {{{', '.join(node.attribute.in_)}}}"
        return "always" if node.constant else "never"

    def _wrap(self, node: m.Condition) -> str:
        text = self.condition(node)
        return f"({text})" if isinstance(node, m.AllCond | m.AnyCond) else text

    def level(self, node: m.LevelExpr) -> str:
        if isinstance(node, m.BandsLevel):
            b = node.bands
            return f"bands of {self.operand(b.of)} at {', '.join(self.value(c) for c, _ in b.cut_list())}"
        if isinstance(node, m.MostSevereLevel):
            return "most severe of: " + "; ".join(self.level(x) for x in node.most_severe)
        i = node.if_
        return (
            f"if {self.condition(i.condition)} then {self.level(i.then)} else {self.level(i.else_)}"
        )

    def duration(self, d: m.Duration | None) -> str:
        return "—" if d is None else f"{self.value(d.days)} {self.unit(d.unit)}"

    def rule(self, rule: m.Rule) -> dict[str, str]:
        if rule.when is not None and rule.effect is not None:
            exit_when = rule.timing.exit_when
            return {
                "trigger": self.condition(rule.when),
                "effect": f"{rule.effect.mode} ({rule.effect.action.value}"
                + (
                    f"; decided by {rule.decided_by})"
                    if rule.effect.action == m.Action.eligible and rule.decided_by
                    else ")"
                ),
                "notice": self.duration(rule.timing.notice),
                "minimum": self.duration(rule.timing.min_duration),
                "maximum": self.duration(rule.timing.max_duration),
                "exit": exit_when.replace("_", " ")
                if isinstance(exit_when, str)
                else self.condition(exit_when),
                "confidence": rule.confidence.value,
            }
        assert rule.classify is not None
        return {
            "levels": ", ".join(rule.levels or []),
            "classify": self.level(rule.classify),
            "confidence": rule.confidence.value,
        }
