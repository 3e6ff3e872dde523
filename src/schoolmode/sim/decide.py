"""The policy engine in the simulator's loop.

Each simulated day's metrics (one value per unit, by scope) are written into arrays
(``units x days``). After day ``d`` the engine (``engine.evaluate``, the same call the backtest
makes) evaluates the policy over a trailing window of days ending on ``d`` with the evaluation
span reaching ``d + 1``; the modes of day ``d + 1`` are read from that evaluation. A rule
whose action is *eligible* is authorised on ``d + 1`` for every unit it made eligible on
``d`` when the scenario says the deciding body acts (``act_on_eligible``), and the
authorisations are kept, so a post-hoc ``evaluate`` over the whole history with the same
authorisations gives the same modes (``posthoc``; tested).

The window is long enough for every lookback and duration the policy states (computed from
the policy's parameters by ``engine.window.policy_window``); ``0`` evaluates the whole history
each day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from schoolmode.engine.evaluate import Evaluation, evaluate
from schoolmode.engine.grid import Calendar
from schoolmode.engine.settings import Settings
from schoolmode.engine.table import aggregates_over_units
from schoolmode.engine.window import counts_to_date, policy_window
from schoolmode.policy import model as m
from schoolmode.policy.needs import metrics_needed
from schoolmode.policy.walk import walk

SCOPES = ("district", "school", "grade", "classroom")
DISTRICT_UNIT = "district"


def closed_mode_mask(policy: m.Policy, words: list[str]) -> np.ndarray:
    """(modes + 2,) bool: which mode indices close school layers; the last two entries are
    NOT_IN_FORCE and NO_DATA (open), so ``mask[mode]`` works for negative codes too."""
    closed = [any(w in mode.id for w in words) for mode in policy.modes]
    return np.array([*closed, False, False], dtype=bool)


def _window(policy: m.Policy) -> int:
    """Trailing days the loop evaluates for ``policy``'s rules: ``policy_window``, or 0 (the
    whole history) when a rule counts to date."""
    return 0 if counts_to_date(policy) else policy_window(policy)


@dataclass
class LoopEngine:
    policy: m.Policy
    units: dict[str, list[str]]
    """scope -> unit ids (sorted) of every scope the simulator can fill."""
    start: dt.date
    days: int
    calendar: Calendar
    attributes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """scope -> attribute column -> one value per unit (e.g. a grade's or classroom's
    ``parent`` school)."""
    settings: Settings | None = None
    window: int | None = None
    """Trailing days evaluated each day; None: per scope, from the policy (``policy_window``);
    0: the whole history."""
    act_on_eligible: bool = True
    metrics: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    modes: dict[str, np.ndarray] = field(default_factory=dict)
    authorisations: list[tuple[str, dt.date, str]] = field(default_factory=list)
    evaluations: int = 0
    missing: set[tuple[str, str]] = field(default_factory=set)
    """(scope, metric) the policy reads but the simulator does not produce (never met)."""

    def __post_init__(self) -> None:
        needs: set[str] = {r.scope.value for r in self.policy.rules}
        self.columns: dict[str, set[str]] = {}
        for need in metrics_needed(self.policy).values():
            needs |= set(need)
            for scope, names in need.items():
                self.columns.setdefault(scope, set()).update(names)
        # attributes go into the frames only when a rule reads them (a classroom's parent
        # school for rules over units, a school's grade band for attribute conditions)
        self.attribute_names = {
            node.attribute.name
            for rule in self.policy.rules
            for node in walk(rule)
            if isinstance(node, m.AttributeCond)
        }
        if aggregates_over_units(self.policy):
            self.attribute_names.add("parent")
        self.scopes = [s for s in SCOPES if s in needs and s in self.units]
        self.ruled = [s for s in self.scopes if any(r.scope.value == s for r in self.policy.rules)]
        for scope in SCOPES:
            n = len(self.units.get(scope, []))
            self.modes[scope] = np.zeros((n, self.days), dtype=np.int64)
        self._dates = pl.date_range(
            self.start, self.start + dt.timedelta(days=self.days), interval="1d", eager=True
        )
        self._unit_series = {
            s: pl.Series("unit", self.units[s], dtype=pl.String) for s in self.scopes
        }

    def record(self, scope: str, name: str, day: int, values: np.ndarray) -> None:
        """Metric ``name`` of every unit of ``scope`` on ``day``."""
        table = self.metrics.setdefault(scope, {})
        if name not in table:
            dtype = np.float64 if values.dtype.kind == "f" else np.int64
            table[name] = np.zeros((len(self.units[scope]), self.days), dtype=dtype)
        table[name][:, day] = values

    def frames(self, lo: int, hi: int, scopes: list[str] | None = None) -> dict[str, pl.DataFrame]:
        """Metric frames of days ``lo .. hi`` (inclusive), one row per unit and day, with the
        metrics the policy reads (a metric it reads but the simulator does not fill is absent,
        as in real data: the engine reports it missing)."""
        out = {}
        span = hi - lo + 1
        epoch = (self.start - dt.date(1970, 1, 1)).days
        for scope in scopes if scopes is not None else self.scopes:
            table = self.metrics.get(scope, {})
            n = len(self.units[scope])
            key = (scope, span)
            cache: dict[tuple[str, int], pl.Series] = self.__dict__.setdefault("_units_rep", {})
            if key not in cache:  # the unit column of a window of ``span`` days, built once
                cache[key] = self._unit_series[scope].gather(np.repeat(np.arange(n), span))
            days = np.tile(np.arange(lo, hi + 1, dtype=np.int32) + epoch, n)
            cols: dict[str, pl.Series | np.ndarray] = {
                "unit": cache[key],
                "date": pl.Series("date", days, dtype=pl.Int32).cast(pl.Date),
            }
            attributes = self.attributes.get(scope, {})
            for attr, values in attributes.items():
                if attr not in self.attribute_names:
                    continue
                akey = (f"{scope}.{attr}", span)
                if akey not in cache:
                    cache[akey] = pl.Series(
                        attr, np.repeat(np.asarray(values, dtype=object), span), dtype=pl.String
                    )
                cols[attr] = cache[akey]
            wanted = self.columns.get(scope, set())
            for name, arr in table.items():
                if name in wanted:  # only the metrics the policy reads: less to convert
                    cols[name] = arr[:, lo : hi + 1].ravel()
            out[scope] = pl.DataFrame(cols)
        return out

    def _authorisation_frame(self, first: dt.date, last: dt.date) -> pl.DataFrame | None:
        rows = [a for a in self.authorisations if first <= a[1] <= last]
        if not rows:
            return None
        return pl.DataFrame(rows, schema=["unit", "date", "rule"], orient="row")

    def evaluate(
        self, lo: int, hi: int, span_end: int, scopes: list[str] | None = None
    ) -> Evaluation:
        first, last = self.start + dt.timedelta(days=lo), self.start + dt.timedelta(days=span_end)
        self.evaluations += 1
        evaluation = evaluate(
            self.policy,
            self.frames(lo, hi, scopes),
            calendar=self.calendar,
            settings=self.settings,
            authorisations=self._authorisation_frame(first, last),
            span=(first, last),
        )
        self.missing |= evaluation.missing_metrics
        return evaluation

    def _groups(self) -> list[tuple[list[str], int]]:
        """Scopes evaluated together and their windows: each ruled scope alone with its own
        rules' window, or all together when a rule aggregates over units. A window is 0 (the
        whole history) for rules that count to date (``engine.window.counts_to_date``)."""
        if self.window is not None:
            return [(self.scopes, self.window)]
        if aggregates_over_units(self.policy):
            return [(self.scopes, _window(self.policy))]
        groups = []
        for scope in self.ruled:
            rules = [r for r in self.policy.rules if r.scope.value == scope]
            groups.append(([scope], _window(self.policy.model_copy(update={"rules": rules}))))
        return groups

    def decide(self, day: int) -> None:
        """Evaluate through ``day`` and set the modes of ``day + 1``."""
        if not self.ruled or day + 1 >= self.days:
            return
        next_date = self.start + dt.timedelta(days=day + 1)
        for scopes, window in self._groups():
            lo = 0 if window <= 0 else max(0, day - window)
            tomorrow = day + 1 - lo
            evaluation = self.evaluate(lo, day, day + 1, scopes)
            fresh = False
            for scope in self.ruled:
                if scope not in evaluation.scopes:
                    continue
                result = evaluation.scopes[scope]
                index = self._index(scope, result.grid.units)
                self.modes[scope][index, day + 1] = result.mode[:, tomorrow]
                if not self.act_on_eligible:
                    continue
                for rr in result.rules:
                    effect = rr.rule.effect
                    if effect is None or effect.action != m.Action.eligible or rr.trigger is None:
                        continue
                    assert rr.spells is not None
                    want = rr.trigger[:, tomorrow - 1] & ~rr.spells.in_effect[:, tomorrow]
                    for i in np.flatnonzero(want):
                        self.authorisations.append((result.grid.units[i], next_date, rr.rule.id))
                        fresh = True
            if fresh:
                # authorised for tomorrow: evaluate again so that tomorrow's modes include them
                evaluation = self.evaluate(lo, day, day + 1, scopes)
                for scope in self.ruled:
                    if scope in evaluation.scopes:
                        result = evaluation.scopes[scope]
                        index = self._index(scope, result.grid.units)
                        self.modes[scope][index, day + 1] = result.mode[:, tomorrow]

    def _index(self, scope: str, grid_units: list[str]) -> np.ndarray:
        key = (scope, len(grid_units))
        cache: dict[tuple[str, int], np.ndarray] = self.__dict__.setdefault("_idx", {})
        if key not in cache:
            pos = {u: i for i, u in enumerate(self.units[scope])}
            cache[key] = np.array([pos[u] for u in grid_units], dtype=np.int64)
        return cache[key]

    def posthoc(self, last_day: int) -> dict[str, np.ndarray]:
        """Modes of days ``1 .. last_day`` from one evaluation of the whole history (days
        ``0 .. last_day - 1``) with the same authorisations: equal to the loop's modes."""
        if not self.ruled:
            return {s: self.modes[s][:, 1 : last_day + 1] for s in self.ruled}
        evaluation = self.evaluate(0, last_day - 1, last_day)
        out = {}
        for scope in self.ruled:
            result = evaluation.scopes[scope]
            arr = np.zeros((len(self.units[scope]), last_day), dtype=np.int64)
            arr[self._index(scope, result.grid.units)] = result.mode[:, 1 : last_day + 1]
            out[scope] = arr
        return out
