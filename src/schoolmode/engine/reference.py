"""A slow, per-row reference evaluator with the semantics of ``evaluate``.

This is the oracle the property tests compare the vectorised engine against. It is
written straight from the documented semantics (the docstrings of ``policy.model``,
``engine.grid``, ``engine.nodes``, ``engine.states`` and ``engine.evaluate``) with no
numpy: Python loops over units and days, exact ``fractions.Fraction`` arithmetic and a
dict of (unit, day) -> row. It is quadratic in the number of days and meant for small
inputs only (tests, and a throughput baseline in ``bench/bench_engine.py``).

Semantics, in short:

* The evaluation covers every calendar day from the first to the last date of all frames,
  for every unit of each frame; a missing row is a day whose metrics are unknown.
* Float metric values are fixed-point numbers with six decimals; integers stay integers.
* A node is evaluated for one unit on one day. Parameters take the value in force on
  the day the *rule* is evaluated (also when a node looks back at earlier days); a rule
  with any parameter without a value that day does not apply (trigger false, no level).
* Conditions are (value, known): value is false wherever it is unknown.
* A triggered rule starts a spell after its notice, lasts its minimum, ends the day after
  ``exit_when`` holds and always at its maximum; an *eligible* rule starts a spell only on
  the days in ``authorisations``. Outside the policy term the mode is ``not_in_force``.
* Modes combine by severity (the order of ``policy.modes``); among rules giving equally
  severe modes the first in file order is responsible. Where no rule applies and a level
  rule with recommendations has no level (no data, or inactive), or a trigger rule's
  inputs were outside their series' days on the day whose trigger decides this one (the day
  the notice counts from; the rule in force and active there), the mode is ``no_data``: a
  missing reading never gives the default mode. A metric's series runs from the first to the
  last day any unit of the scope has a value for it; inside, a unit-day without a value is a
  day with nothing reported.
* A trend compares each day's value with the day before: on a day when its metric is derived
  from a coarser series (the frame's ``<metric>_derived`` is 1 that day or the day before),
  the rule's input is missing, as outside the series.
* A band table's value at a cut goes to the band its boundary names; a value in no band
  (``engine/reference_levels.py``) has the level ``unassigned``, which gives no mode.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import polars as pl

from schoolmode.engine.grid import DERIVED_SUFFIX, Calendar, FrameError
from schoolmode.engine.nodes import (
    UNASSIGNED,
    EvaluationError,
    metrics_read,
    scalar,
    trends_read,
)
from schoolmode.engine.reference_levels import band_level, level_name, most_severe
from schoolmode.engine.reference_spells import unit_spells
from schoolmode.engine.settings import Settings
from schoolmode.policy import model as m
from schoolmode.policy.durations import duration_in_days
from schoolmode.policy.walk import walk

__all__ = ["evaluate_reference"]

SCALE = 1_000_000
NEVER = 10**15  # a day index no evaluation reaches
PARENT = "parent"

Value = Decimal | bool | str | list[int] | None
Number = Fraction | None  # None: unknown


@dataclass(frozen=True)
class Cond:
    value: bool
    known: bool


@dataclass
class ScopeData:
    """One scope's frame as plain dicts."""

    units: list[str]
    rows: dict[tuple[str, int], dict[str, Fraction | None]]
    metrics: set[str]
    attributes: dict[str, dict[str, str]]  # attribute name -> unit -> value


class _Inactive(Exception):
    pass


# --------------------------------------------------------------------------- inputs


def _to_fraction(value: Any, dtype: pl.DataType) -> Fraction | None:
    if value is None:
        return None
    if dtype == pl.Boolean:
        return Fraction(int(bool(value)))
    if dtype.is_integer():
        return Fraction(int(value))
    as_float = float(value)
    if not math.isfinite(as_float):
        raise FrameError("a metric value is NaN or infinite")
    return Fraction(round(as_float * SCALE), SCALE)


def _read_frame(scope: str, frame: pl.DataFrame, first: dt.date) -> ScopeData:
    for required in ("unit", "date"):
        if required not in frame.columns:
            raise FrameError(f"the {scope} frame has no `{required}` column")
    metric_cols: dict[str, pl.DataType] = {}
    attr_cols: list[str] = []
    for name, dtype in frame.schema.items():
        if name in ("unit", "date"):
            continue
        if dtype == pl.String or dtype == pl.Categorical:
            attr_cols.append(name)
        elif dtype.is_numeric() or dtype == pl.Boolean:
            metric_cols[name] = dtype
        else:
            raise FrameError(f"the {scope} frame's column `{name}` has type {dtype}")
    rows: dict[tuple[str, int], dict[str, Fraction | None]] = {}
    attributes: dict[str, dict[str, str]] = {name: {} for name in attr_cols}
    units: set[str] = set()
    for row in frame.iter_rows(named=True):
        unit = str(row["unit"])
        day = row["date"]
        if isinstance(day, dt.datetime):
            day = day.date()
        index = (day - first).days
        if (unit, index) in rows:
            raise FrameError(f"the {scope} frame has more than one row for {unit} on {day}")
        units.add(unit)
        rows[(unit, index)] = {
            name: _to_fraction(row[name], dtype) for name, dtype in metric_cols.items()
        }
        for name in attr_cols:
            if row[name] is not None and unit not in attributes[name]:
                attributes[name][unit] = str(row[name])
    for name in attr_cols:
        for unit in units:
            attributes[name].setdefault(unit, "")
    return ScopeData(sorted(units), rows, set(metric_cols), attributes)


def _interpretations(policy: m.Policy, settings: Settings) -> dict[str, Decimal | bool | str]:
    chosen = {name: spec.default for name, spec in policy.interpretations.items()}
    for name, value in settings.interpretations.items():
        if name not in policy.interpretations:
            raise EvaluationError(f"policy {policy.id!r} has no interpretation {name!r}")
        matches = [c for c in policy.interpretations[name].choices if str(c) == str(value)]
        if not matches:
            raise EvaluationError(f"interpretation {name!r} cannot be {value!r}")
        chosen[name] = matches[0]
    return chosen


def _value_in_force(param: m.Parameter, day: dt.date) -> Value:
    current: Value = None
    for dated in param.values:
        if dated.from_ <= day:
            current = dated.value
    return current


def _compare(a: Fraction, op: str, b: Fraction) -> bool:
    if op == ">=":
        return a >= b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    if op == "<":
        return a < b
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    raise EvaluationError(f"unknown comparator {op!r}")


def _round_half_up(x: Fraction, decimals: int) -> Fraction:
    q = 10**decimals
    if x >= 0:
        return Fraction(math.floor(x * q + Fraction(1, 2)), q)
    return -Fraction(math.floor(-x * q + Fraction(1, 2)), q)


def _has_days(node: Any) -> bool:
    """Whether an operand reads data that differ by day (a metric)."""
    return any(isinstance(n, m.MetricOp) for n in walk(node))


# --------------------------------------------------------------------------- nodes


@dataclass
class _Nodes:
    """Evaluates nodes for one unit on one day, with the parameters of one day."""

    data: dict[str, ScopeData]
    school: list[bool]
    interps: dict[str, Decimal | bool | str]
    params: dict[str, Value] = field(default_factory=dict)
    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return len(self.school)

    # values
    def resolve(self, ref: m.ValueRef) -> Decimal | bool | str:
        if isinstance(ref, m.ParamRef):
            value = self.params.get(ref.param)
            if value is None:
                raise _Inactive(ref.param)
            return scalar(ref.param, value)
        if isinstance(ref, m.InterpRef):
            return self.interps[ref.interp]
        return ref

    def number(self, ref: m.ValueRef) -> Fraction:
        value = self.resolve(ref)
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise EvaluationError(f"expected a number, got {value!r}")
        return Fraction(Decimal(value))

    def integer(self, ref: m.ValueRef) -> int:
        value = self.number(ref)
        if value.denominator != 1 or value < 0:
            raise EvaluationError(f"expected a whole number, got {value}")
        return int(value)

    def word(self, ref: m.ValueRef) -> str:
        return str(self.resolve(ref))

    def _key(self, node: Any, scope: str, unit: str, day: int) -> tuple[Any, ...]:
        return (id(node), tuple(sorted(self.params.items())), scope, unit, day)

    # operands
    def operand(self, node: m.Operand, scope: str, unit: str, day: int) -> Number:
        key = self._key(node, scope, unit, day)
        if key not in self.memo:
            self.memo[key] = self._operand(node, scope, unit, day)
        result: Number = self.memo[key]
        return result

    def _operand(self, node: m.Operand, scope: str, unit: str, day: int) -> Number:
        if isinstance(node, m.MetricOp):
            data = self.data[scope]
            if node.metric not in data.metrics:
                return None
            row = data.rows.get((unit, day))
            return None if row is None else row[node.metric]
        if isinstance(node, m.ConstOp):
            return self.number(node.value)
        if isinstance(node, m.ShareOp):
            of = self.operand(node.share.of, scope, unit, day)
            per = self.operand(node.share.per, scope, unit, day)
            if of is None or per is None or per == 0:
                return None
            return of / per * (100 if node.share.percent else 1)
        if isinstance(node, m.DifferenceOp):
            a = self.operand(node.difference.of, scope, unit, day)
            b = self.operand(node.difference.minus, scope, unit, day)
            if a is None or b is None:
                return None
            diff = a - b
            return max(diff, Fraction(0)) if node.difference.floor_zero else diff
        if isinstance(node, m.WindowSumOp):
            return self._window(node.window_sum, scope, unit, day)
        if isinstance(node, m.LagOp):
            back = self.integer(node.lag.days)
            if not _has_days(node.lag.of):
                return self.operand(node.lag.of, scope, unit, day)
            if day - back < 0:
                return None
            return self.operand(node.lag.of, scope, unit, day - back)
        if isinstance(node, m.PickOp):
            chosen = node.pick.cases[str(self.interps[node.pick.interp])]
            return self.operand(chosen, scope, unit, day)
        raise EvaluationError(f"unknown operand {node!r}")

    def _window(self, spec: m.WindowSpec, scope: str, unit: str, day: int) -> Fraction:
        """Sum over the window ending on ``day``; unknown days count as zero events."""
        length = self.integer(spec.days)
        if spec.kind == "within_days_of_each_other":
            length += 1
        unit_word = self.word(spec.unit)
        if spec.kind != "to_date" and length < 1:
            raise EvaluationError("a window must be at least one day long")
        if unit_word == "calendar_days":
            counted = list(range(day + 1))
        elif unit_word == "school_days":
            counted = [i for i in range(day + 1) if self.school[i]]
        else:
            raise EvaluationError(f"unknown day unit {unit_word!r}")
        if spec.kind != "to_date":
            counted = counted[-length:]
        total = Fraction(0)
        for i in counted:
            value = self.operand(spec.of, scope, unit, i)
            if value is not None:
                total += value
        return total

    # conditions
    def condition(self, node: m.Condition, scope: str, unit: str, day: int) -> Cond:
        key = self._key(node, scope, unit, day)
        if key not in self.memo:
            self.memo[key] = self._condition(node, scope, unit, day)
        result: Cond = self.memo[key]
        return result

    def _condition(self, node: m.Condition, scope: str, unit: str, day: int) -> Cond:
        if isinstance(node, m.ThresholdCond):
            spec = node.threshold
            left = self.operand(spec.of, scope, unit, day)
            op = self.word(spec.op) if isinstance(spec.op, m.InterpRef) else spec.op
            right = self.number(spec.value)
            if left is None:
                return Cond(False, False)
            if spec.round_to is not None:
                left = _round_half_up(left, spec.round_to)
            return Cond(_compare(left, op, right), True)
        if isinstance(node, m.AllCond):
            parts = [self.condition(c, scope, unit, day) for c in node.all]
            return Cond(all(p.value for p in parts), all(p.known for p in parts))
        if isinstance(node, m.AnyCond):
            parts = [self.condition(c, scope, unit, day) for c in node.any]
            value = any(p.value for p in parts)
            return Cond(value, value or all(p.known for p in parts))
        if isinstance(node, m.NotCond):
            inner = self.condition(node.not_, scope, unit, day)
            return Cond(inner.known and not inner.value, inner.known)
        if isinstance(node, m.AtLeastCond):
            parts = [self.condition(c, scope, unit, day) for c in node.at_least.of]
            k = self.integer(node.at_least.k)
            hits = sum(1 for p in parts if p.value)
            unknown = sum(1 for p in parts if not p.known)
            return Cond(hits >= k, hits >= k or hits + unknown < k)
        if isinstance(node, m.SustainedCond):
            sus = node.sustained
            need = self.integer(sus.days)
            if need < 1:
                raise EvaluationError("`sustained` needs at least one day")

            def inner_at(i: int) -> Cond:
                return self.condition(sus.condition, scope, unit, i)

            return self._sustained(inner_at, need, self.word(sus.unit), day)
        if isinstance(node, m.TrendCond):
            return self._trend(node.trend, scope, unit, day)
        if isinstance(node, m.ShareOfUnitsCond):
            return self._share_of_units(node.share_of_units, scope, unit, day)
        if isinstance(node, m.ChooseCond):
            chosen = node.choose.cases[str(self.interps[node.choose.interp])]
            return self.condition(chosen, scope, unit, day)
        if isinstance(node, m.AttributeCond):
            values = self.data[scope].attributes.get(node.attribute.name)
            if values is None:
                raise EvaluationError(f"the {scope} frame has no `{node.attribute.name}` column")
            return Cond(values[unit] in node.attribute.in_, True)
        if isinstance(node, m.ConstantCond):
            return Cond(node.constant, True)
        raise EvaluationError(f"unknown condition {node!r}")

    def _sustained(self, inner: Any, need: int, unit_word: str, day: int) -> Cond:
        """Held on each of the last ``need`` days (calendar days, or school days only)."""
        if unit_word == "calendar_days":
            counted = list(range(day, -1, -1))
        elif unit_word == "school_days":
            if not self.school[day]:
                return Cond(False, False)
            counted = [i for i in range(day, -1, -1) if self.school[i]]
        else:
            raise EvaluationError(f"unknown day unit {unit_word!r}")
        run = 0
        for i in counted:
            if not inner(i).value:
                break
            run += 1
        held = run >= need
        return Cond(held, held or inner(day).known)

    def _trend(self, spec: m.TrendSpec, scope: str, unit: str, day: int) -> Cond:
        need = self.integer(spec.rising_days)
        lag_days = self.integer(spec.lag_days)
        factor = self.number(spec.factor)

        def daily(i: int) -> Cond:
            now = self.operand(spec.of, scope, unit, i)
            before = self.operand(spec.of, scope, unit, i - 1) if i >= 1 else None
            week = self.operand(spec.of, scope, unit, i - lag_days) if i >= lag_days else None
            rise_known = now is not None and before is not None
            week_known = now is not None and week is not None
            rise = rise_known and now is not None and before is not None and now > before
            grew = (
                week_known
                and now is not None
                and week is not None
                and _compare(now, spec.factor_op, week * factor)
            )
            if derived(i) or derived(i - 1):  # a derived value has no daily change
                return Cond(False, False)
            return Cond(rise and grew, rise_known and week_known)

        def derived(i: int) -> bool:
            row = self.data[scope].rows.get((unit, i))
            return row is not None and any(
                row.get(name + DERIVED_SUFFIX) not in (None, 0)
                for name in metrics_read(spec.of, self.interps)
            )

        return self._sustained(daily, need, "calendar_days", day)

    def _share_of_units(self, spec: m.ShareOfUnitsSpec, scope: str, unit: str, day: int) -> Cond:
        child_scope = spec.scope.value
        child = self.data.get(child_scope)
        if child is None:
            return Cond(False, False)
        parents = child.attributes.get(PARENT)
        if parents is None:
            if len(self.data[scope].units) != 1:
                raise EvaluationError(f"the {child_scope} frame needs a `parent` column")
            members = list(child.units)
        else:
            members = [c for c in child.units if parents[c] == unit]
        op = self.word(spec.op) if isinstance(spec.op, m.InterpRef) else spec.op
        threshold = self.number(spec.value)
        if not members:
            return Cond(False, False)
        hits = sum(1 for c in members if self.condition(spec.condition, child_scope, c, day).value)
        share = Fraction(hits * 100, len(members))
        return Cond(_compare(share, op, threshold), True)

    # levels
    def level(self, node: m.LevelExpr, scope: str, unit: str, day: int) -> int | None:
        if isinstance(node, m.BandsLevel):
            spec = node.bands
            value = self.operand(spec.of, scope, unit, day)
            if spec.round_to is not None and value is not None:
                value = _round_half_up(value, spec.round_to)
            cuts = [(self.number(at), self.word(b)) for at, b in spec.cut_list()]
            if value is None:
                return None
            return band_level(value, cuts, spec.unassigned, spec.offset)
        if isinstance(node, m.MostSevereLevel):
            return most_severe([self.level(p, scope, unit, day) for p in node.most_severe])
        if isinstance(node, m.IfLevel):
            test = self.condition(node.if_.condition, scope, unit, day)
            then = self.level(node.if_.then, scope, unit, day)
            other = self.level(node.if_.else_, scope, unit, day)
            if not test.known:
                return None
            return then if test.value else other
        raise EvaluationError(f"unknown level expression {node!r}")


# --------------------------------------------------------------------------- rules


@dataclass
class _RuleOut:
    rule: m.Rule
    trigger: dict[tuple[str, int], bool] = field(default_factory=dict)
    unknown: dict[tuple[str, int], bool] = field(default_factory=dict)
    blind: set[tuple[str, int]] = field(default_factory=set)  # modes resting on unknown days
    in_effect: dict[tuple[str, int], bool] = field(default_factory=dict)
    started: dict[tuple[str, int], int] = field(default_factory=dict)
    earliest: dict[tuple[str, int], int] = field(default_factory=dict)
    level: dict[tuple[str, int], int | None] = field(default_factory=dict)
    recommended: dict[tuple[str, int], int | None] = field(default_factory=dict)


@dataclass
class _Reference:
    policy: m.Policy
    data: dict[str, ScopeData]
    first: dt.date
    school: list[bool]
    settings: Settings
    interps: dict[str, Decimal | bool | str]
    authorised: set[tuple[str, str, int]]  # (rule id, unit, day)

    @property
    def days(self) -> int:
        return len(self.school)

    def date(self, day: int) -> dt.date:
        return self.first + dt.timedelta(days=day)

    def in_term(self, day: int) -> bool:
        date = self.date(day)
        term = self.policy.term
        return term.from_ <= date and (term.to is None or date <= term.to)

    def params_on(self, rule: m.Rule, day: int) -> dict[str, Value]:
        names = sorted({n.param for n in walk(rule) if isinstance(n, m.ParamRef)})
        out: dict[str, Value] = {}
        for name in names:
            if name in self.settings.parameters:
                out[name] = self.settings.parameters[name]
            else:
                out[name] = _value_in_force(self.policy.parameters[name], self.date(day))
        return out

    def advance(self, day: int, count: int, unit_word: str, *, inclusive: bool) -> int:
        """The day ``count`` days of the unit after ``day`` (see ``states.advance``)."""
        if unit_word == "calendar_days":
            return day + count + (0 if inclusive else 1)
        later = [
            i for i in range(self.days) if self.school[i] and (i >= day if inclusive else i > day)
        ]
        return later[count] if count < len(later) else NEVER

    def duration_end(
        self, rule: m.Rule, duration: m.Duration | None, day: int, *, inclusive: bool
    ) -> int:
        if duration is None:
            raise AssertionError("no duration")
        params = self.params_on(rule, min(day, self.days - 1))  # values on the start day

        def resolve(ref: m.ValueRef) -> Decimal | bool | str:
            if isinstance(ref, m.ParamRef):
                # an unset duration is 0 days
                value = params.get(ref.param)
                return scalar(ref.param, value) if value is not None else Decimal(0)
            if isinstance(ref, m.InterpRef):
                return self.interps[ref.interp]
            return ref

        count = resolve(duration.days)
        if isinstance(count, bool) or not isinstance(count, Decimal):
            raise EvaluationError(f"a duration must be a number of days, got {count!r}")
        # past the end of the evaluation, ends shift with the start (states.run_spells)
        last = min(day, self.days - 1)
        whole, unit = duration_in_days(int(count), str(resolve(duration.unit)))
        end = self.advance(last, whole, unit, inclusive=inclusive)
        return end + (day - last) if end < NEVER else NEVER

    def evaluate_rule(self, rule: m.Rule) -> _RuleOut:
        scope = rule.scope.value
        data = self.data[scope]
        out = _RuleOut(rule)
        nodes = _Nodes(self.data, self.school, self.interps)

        def holds(cond: m.Condition, unit: str, day: int) -> bool:
            """The condition's value for the unit on the day, False where the rule is inactive."""
            if not self.in_term(day):
                return False
            nodes.params = self.params_on(rule, day)
            if any(v is None for v in nodes.params.values()):
                return False
            try:
                return nodes.condition(cond, scope, unit, day).value
            except _Inactive:
                return False

        # each metric's series: from the first to the last day any unit has a value for it
        spans: dict[str, tuple[int, int]] = {}
        for (_, day), row in data.rows.items():
            for name, value in row.items():
                if value is not None:
                    lo, hi = spans.get(name, (day, day))
                    spans[name] = (min(lo, day), max(hi, day))

        def unknown(cond: m.Condition, unit: str, day: int) -> bool:
            """Whether a metric the condition reads is outside its series' days (before its
            first value or after its last, or a column without values; a metric the frames
            lack is only listed as missing), or a metric a trend reads is derived on the day
            or the day before, while the rule applies (in the term, every parameter with a
            value)."""
            if not self.in_term(day):
                return False
            if any(v is None for v in self.params_on(rule, day).values()):
                return False
            outside = any(
                name in data.metrics
                and (name not in spans or not spans[name][0] <= day <= spans[name][1])
                for name in metrics_read(cond, self.interps)
            )
            return outside or any(
                derived(name, unit, d)
                for name in trends_read(cond, self.interps)
                for d in (day, day - 1)
            )

        def derived(name: str, unit: str, day: int) -> bool:
            """Whether the unit's value of ``name`` on the day is derived from another series
            (its frame's ``<name>_derived`` is 1): a trend reading it has no daily change."""
            row = data.rows.get((unit, day))
            flag = None if row is None else row.get(name + DERIVED_SUFFIX)
            return flag is not None and flag != 0

        for unit in data.units:
            for day in range(self.days):
                if rule.when is not None:
                    out.trigger[(unit, day)] = holds(rule.when, unit, day)
                    out.unknown[(unit, day)] = (
                        unknown(rule.when, unit, day) and not out.trigger[(unit, day)]
                    )
                    if out.unknown[(unit, day)]:
                        # the trigger of this day decides the mode of the day after the notice
                        start = self.duration_end(rule, rule.timing.notice, day, inclusive=False)
                        if start < self.days:
                            out.blind.add((unit, start))
                else:
                    out.level[(unit, day)] = self._level(rule, nodes, unit, day)
                    out.recommended[(unit, day)] = self._recommend(
                        rule, out.level[(unit, day)], holds, unit, day
                    )
            if rule.when is not None:
                self._spells(rule, out, holds, unit)
        return out

    def _level(self, rule: m.Rule, nodes: _Nodes, unit: str, day: int) -> int | None:
        assert rule.classify is not None
        assert rule.levels is not None
        if not self.in_term(day):
            return None
        nodes.params = self.params_on(rule, day)
        if any(v is None for v in nodes.params.values()):
            return None
        try:
            got = nodes.level(rule.classify, rule.scope.value, unit, day)
        except _Inactive:
            return None
        if got == UNASSIGNED:
            return got
        return None if got is None or got < 0 else min(got, len(rule.levels) - 1)

    def _recommend(
        self, rule: m.Rule, lv: int | None, holds: Any, unit: str, day: int
    ) -> int | None:
        assert rule.levels is not None
        if lv is None or lv == UNASSIGNED:
            return None
        modes = self.policy.mode_ids()
        for rec in rule.recommend or []:
            if rec.when is None or holds(rec.when, unit, day):
                name = rec.modes.get(rule.levels[lv])
                return modes.index(name) if name is not None else None
        return None

    def _spells(self, rule: m.Rule, out: _RuleOut, holds: Any, unit: str) -> None:
        unit_spells(self, rule, out, holds, unit)

    def scope_frame(self, scope: str) -> pl.DataFrame:
        data = self.data[scope]
        rules = [r for r in self.policy.rules if r.scope.value == scope]
        results = [self.evaluate_rule(r) for r in rules]
        modes = self.policy.mode_ids()
        columns: dict[str, list[Any]] = {
            "unit": [],
            "date": [],
            "mode": [],
            "status": [],
            "rule": [],
        }
        for res in results:
            if res.rule.when is not None:
                columns[f"trigger.{res.rule.id}"] = []
            else:
                columns[f"level.{res.rule.id}"] = []
        columns["spell_start"] = []
        columns["earliest_return"] = []
        for unit in data.units:
            for day in range(self.days):
                key = (unit, day)
                mode, responsible, eligible = 0, -1, -1
                for index, res in enumerate(results):
                    rule = res.rule
                    if rule.effect is not None:
                        severity = modes.index(rule.effect.mode)
                        if res.in_effect[key] and severity > mode:
                            mode, responsible = severity, index
                        if rule.effect.action == m.Action.eligible and res.trigger[key]:
                            eligible = max(eligible, severity)
                    else:
                        rec = res.recommended[key]
                        if rec is not None and rec > mode:
                            mode, responsible = rec, index
                        if responsible < 0 and rec is not None:
                            responsible = index
                # no rule applied, and a level rule with recommendations has no level or a
                # trigger rule's condition is unknown: no data (never the default mode)
                blind = responsible < 0 and any(
                    (res.rule.recommend and res.level[key] in (None, UNASSIGNED))
                    or (res.rule.when is not None and key in res.blind)
                    for res in results
                )
                spell_start: dt.date | None = None
                earliest_return: dt.date | None = None
                if not self.in_term(day):
                    mode_name, status, rule_id = "not_in_force", "not_in_force", None
                else:
                    mode_name = "no_data" if blind else modes[mode]
                    more = eligible >= 0 and (blind or eligible > mode)
                    status = f"eligible_for_{modes[eligible]}" if more else mode_name
                    rule_id = results[responsible].rule.id if responsible >= 0 else None
                    if responsible >= 0 and results[responsible].in_effect.get(key, False):
                        chosen = results[responsible]
                        spell_start = self.date(chosen.started[key])
                        if chosen.earliest[key] < NEVER:
                            earliest_return = self.date(chosen.earliest[key])
                columns["unit"].append(unit)
                columns["date"].append(self.date(day))
                columns["mode"].append(mode_name)
                columns["status"].append(status)
                columns["rule"].append(rule_id)
                for res in results:
                    if res.rule.when is not None:
                        columns[f"trigger.{res.rule.id}"].append(res.trigger[key])
                    else:
                        assert res.rule.levels is not None
                        lv = res.level[key]
                        columns[f"level.{res.rule.id}"].append(level_name(res.rule.levels, lv))
                columns["spell_start"].append(spell_start)
                columns["earliest_return"].append(earliest_return)
        schema: dict[str, Any] = {
            "unit": pl.String,
            "date": pl.Date,
            "mode": pl.String,
            "status": pl.String,
            "rule": pl.String,
            "spell_start": pl.Date,
            "earliest_return": pl.Date,
        }
        for name in columns:
            if name.startswith("trigger."):
                schema[name] = pl.Boolean
            elif name.startswith("level."):
                schema[name] = pl.String
        return pl.DataFrame(columns, schema={k: schema[k] for k in columns})


def evaluate_reference(
    policy: m.Policy,
    frames: Mapping[str, pl.DataFrame],
    calendar: Calendar | None = None,
    settings: Settings | None = None,
    authorisations: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """Per scope with a frame, one row per unit and calendar day of the evaluation.

    The columns are those of ``Evaluation.frame(scope, only_present=False)``: unit, date,
    mode, status, rule, ``trigger.<rule>`` / ``level.<rule>``, spell_start, earliest_return.
    """
    settings = settings or Settings()
    calendar = calendar or Calendar()
    for name in settings.parameters:
        if name not in policy.parameters:
            raise EvaluationError(f"policy {policy.id!r} has no parameter {name!r} to override")
    unknown = set(frames) - {s.value for s in m.Scope}
    if unknown:
        raise EvaluationError(f"unknown scope(s) {sorted(unknown)}")
    dates = [d for frame in frames.values() for d in frame["date"].to_list() if d is not None]
    if not dates:
        raise FrameError("every metric frame is empty: there is nothing to evaluate")
    first, last = min(dates), max(dates)
    if isinstance(first, dt.datetime):
        first, last = first.date(), last.date()
    days = (last - first).days + 1
    school = []
    for i in range(days):
        date = first + dt.timedelta(days=i)
        if calendar.school_days is not None:
            school.append(date in calendar.school_days)
        else:
            school.append(date.weekday() < 5 and date not in calendar.holidays)
    data = {str(scope): _read_frame(str(scope), frame, first) for scope, frame in frames.items()}
    authorised: set[tuple[str, str, int]] = set()
    if authorisations is not None:
        for row in authorisations.iter_rows(named=True):
            authorised.add((str(row["rule"]), str(row["unit"]), (row["date"] - first).days))
    ref = _Reference(
        policy, data, first, school, settings, _interpretations(policy, settings), authorised
    )
    ruled = {r.scope.value for r in policy.rules}
    if ruled and not ruled & set(data):
        raise EvaluationError(f"policy {policy.id!r} has no frame for any scope with rules")
    return {scope.value: ref.scope_frame(scope.value) for scope in m.Scope if scope.value in data}
