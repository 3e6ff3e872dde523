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

**Only what changed** (``incremental``, the default): each evaluation also runs ``horizon``
days ahead on the assumption that every unit's metrics keep their values of the day decided
(the rows of the days ahead repeat a value per unit and metric, ``_assumed``). The modes of those days are kept for each
unit, and a later day's modes are taken from them, without evaluating, as long as the unit's
recorded metrics still equal the assumed ones and no rule whose action is eligible would have
the unit authorised on that day (that day is evaluated, so the authorisation is made as
before). Only the units whose metrics changed, or whose kept days ran out, are evaluated,
alone (a unit's modes depend on its own rows only), or every unit of the group when a rule
aggregates over units. It gives the modes of the plain path exactly: a trigger rule's modes of
a day depend only on the rows of earlier days (``posthoc``; a scope with a level rule, whose
mode of a day reads that day's row, absent in the loop, is never decided past tomorrow), the
rows assumed are the rows recorded, and a
longer span than the window decides as the window does (tested over random policies and
detections, ``tests/sim/test_decide.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from schoolmode.engine.evaluate import Evaluation, evaluate
from schoolmode.engine.grid import Calendar, DenseFrame
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


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise equality, NaN equal to NaN."""
    same: np.ndarray = a == b
    if a.dtype.kind == "f":
        same |= np.isnan(a) & np.isnan(b)
    return same


def _assumed(values: np.ndarray, day: int, idx: np.ndarray | None = None) -> np.ndarray:
    """Per unit (row of ``values``, units x days), the value a metric is assumed to keep after
    ``day``: the smaller of ``day``'s and the day before's (a count that rose for a day, as
    cases do, most often falls back; a level that moved keeps its new value when it fell and
    is evaluated again the next day when it rose). Only a guess: a day whose recorded value
    differs from it is evaluated. ``idx``: the rows (units) wanted (default: all)."""
    if idx is None:
        today = values[:, day]
        return today if day == 0 else np.minimum(today, values[:, day - 1])
    picked: np.ndarray = values[idx, day]
    return picked if day == 0 else np.minimum(picked, values[idx, day - 1])


@dataclass
class _Kept:
    """A scope's modes decided ahead: per unit, the last day they hold for (``-1``: none)
    and the metric values they assumed (``names``: the metrics, in order)."""

    names: list[str]
    until: np.ndarray
    values: dict[str, np.ndarray]


COME_ALONG_UNITS = 64
"""A scope of at most this many units evaluates those whose decided days run out soon along
with the changed ones (measured: the 250-agent school's ten classes 14.5 calls a run instead
of 19.8; the district's 650 schools 2.7 s of engine instead of 2.0 with them)."""


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
    incremental: bool = True
    """Evaluate only the units whose metrics changed (module docstring); False: every unit of
    every ruled scope each day (the plain path, the reference it is tested equal to)."""
    horizon: int = 28
    """Days ahead each incremental evaluation decides on the assumption that metrics keep
    their values."""
    reads: dict[tuple[int, str | None], bool] = field(default_factory=dict)
    """Which groups of metrics the run computes (``observed.py``), found on its first day."""
    dense: bool = True
    """Hand the engine the metric arrays (``engine.grid.DenseFrame``, the grids built without
    frames); False: the metric frames (``frames``), the reference it is tested equal to."""

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
        self._group_list = self._groups()
        # a level rule's mode on a day reads that day's row, absent from the loop's evaluation
        # of the day before: no day past tomorrow is decided ahead for its scope
        self._level_scopes = {r.scope.value for r in self.policy.rules if r.when is None}
        # units of a group are decided alone unless a rule aggregates over units
        self._independent = not aggregates_over_units(self.policy)
        self._kept: dict[str, _Kept] = {}
        self._order: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._handed: dict[str, tuple[list[str], np.ndarray]] = {}
        """Scope -> the units last handed to the engine (``dense_frames``) and their rows."""

    def record(self, scope: str, name: str, day: int, values: np.ndarray) -> None:
        """Metric ``name`` of every unit of ``scope`` on ``day``."""
        table = self.metrics.setdefault(scope, {})
        if name not in table:
            dtype = np.float64 if values.dtype.kind == "f" else np.int64
            table[name] = np.zeros((len(self.units[scope]), self.days), dtype=dtype)
        table[name][:, day] = values

    def frames(
        self,
        lo: int,
        hi: int,
        scopes: list[str] | None = None,
        rows: dict[str, np.ndarray] | None = None,
        ahead: int = 0,
    ) -> dict[str, pl.DataFrame]:
        """Metric frames of days ``lo .. hi`` (inclusive), one row per unit and day, with the
        metrics the policy reads (a metric it reads but the simulator does not fill is absent,
        as in real data: the engine reports it missing). ``rows``: scope -> indices (sorted) of
        the units to include (default: all); ``ahead``: days after ``hi`` whose rows repeat
        the row of ``hi``."""
        out = {}
        span = hi - lo + 1 + ahead
        epoch = (self.start - dt.date(1970, 1, 1)).days
        cache: dict[tuple[str, int], pl.Series] = self.__dict__.setdefault("_units_rep", {})
        for scope in scopes if scopes is not None else self.scopes:
            table = self.metrics.get(scope, {})
            n = len(self.units[scope])
            idx = None if rows is None else rows.get(scope)
            if idx is not None and idx.size == n:
                idx = None
            count = n if idx is None else idx.size
            key = (scope, span)
            if idx is not None:
                names = np.asarray(self.units[scope], dtype=object)[idx]
                unit_col = pl.Series("unit", np.repeat(names, span), dtype=pl.String)
            else:
                if key not in cache:  # the unit column of a window of ``span`` days, built once
                    unit_series = pl.Series("unit", self.units[scope], dtype=pl.String)
                    cache[key] = unit_series.gather(np.repeat(np.arange(n), span))
                unit_col = cache[key]
            days = np.tile(np.arange(lo, lo + span, dtype=np.int32) + epoch, count)
            cols: dict[str, pl.Series | np.ndarray] = {
                "unit": unit_col,
                "date": pl.Series("date", days.astype("datetime64[D]")),
            }
            attributes = self.attributes.get(scope, {})
            for attr, values in attributes.items():
                if attr not in self.attribute_names:
                    continue
                if idx is not None:
                    chosen = np.asarray(values, dtype=object)[idx]
                    cols[attr] = pl.Series(attr, np.repeat(chosen, span), dtype=pl.String)
                    continue
                akey = (f"{scope}.{attr}", span)
                if akey not in cache:
                    cache[akey] = pl.Series(
                        attr, np.repeat(np.asarray(values, dtype=object), span), dtype=pl.String
                    )
                cols[attr] = cache[akey]
            wanted = self.columns.get(scope, set())
            for name, arr in table.items():
                if name not in wanted:  # only the metrics the policy reads: less to convert
                    continue
                part = arr[:, lo : hi + 1] if idx is None else arr[idx, lo : hi + 1]
                if ahead:
                    last = _assumed(arr, hi, idx)[:, None]
                    part = np.concatenate([part, np.repeat(last, ahead, axis=1)], axis=1)
                cols[name] = part.ravel()
            out[scope] = pl.DataFrame(cols)
        return out

    def dense_frames(
        self,
        lo: int,
        hi: int,
        scopes: list[str] | None = None,
        rows: dict[str, np.ndarray] | None = None,
        ahead: int = 0,
    ) -> dict[str, DenseFrame]:
        """What ``frames`` holds, as the arrays: the engine builds its grids from them without
        the frames (``engine.grid.dense_grid``)."""
        out = {}
        span = hi - lo + 1 + ahead
        first = self.start + dt.timedelta(days=lo)
        for scope in scopes if scopes is not None else self.scopes:
            table = self.metrics.get(scope, {})
            units = self.units[scope]
            idx = None if rows is None else rows.get(scope)
            if idx is not None and idx.size == len(units):
                idx = None
            chosen = units if idx is None else [units[i] for i in idx.tolist()]
            self._handed[scope] = (chosen, np.arange(len(units)) if idx is None else idx)
            attributes: dict[str, Sequence[str | None]] = {
                attr: list(values) if idx is None else [values[i] for i in idx.tolist()]
                for attr, values in self.attributes.get(scope, {}).items()
                if attr in self.attribute_names
            }
            wanted = self.columns.get(scope, set())
            metrics = {}
            for name, arr in table.items():
                if name not in wanted:
                    continue
                part = arr[:, lo : hi + 1] if idx is None else arr[idx, lo : hi + 1]
                if ahead:
                    last = _assumed(arr, hi, idx)[:, None]
                    part = np.concatenate([part, np.repeat(last, ahead, axis=1)], axis=1)
                metrics[name] = part
            out[scope] = DenseFrame(list(chosen), first, span, metrics, attributes)
        return out

    def _authorisation_frame(self, first: dt.date, last: dt.date) -> pl.DataFrame | None:
        rows = [a for a in self.authorisations if first <= a[1] <= last]
        if not rows:
            return None
        return pl.DataFrame(rows, schema=["unit", "date", "rule"], orient="row")

    def evaluate(
        self,
        lo: int,
        hi: int,
        span_end: int,
        scopes: list[str] | None = None,
        rows: dict[str, np.ndarray] | None = None,
        ahead: int = 0,
    ) -> Evaluation:
        first, last = self.start + dt.timedelta(days=lo), self.start + dt.timedelta(days=span_end)
        self.evaluations += 1
        # every metric has a value on every row: each series runs from the first row to the
        # last (what ``series_days`` would find, without scanning the frames)
        rows_end = self.start + dt.timedelta(days=hi + ahead)
        frames: dict[str, pl.DataFrame] = {}
        dense: dict[str, DenseFrame] = {}
        if self.dense:
            dense = self.dense_frames(lo, hi, scopes, rows, ahead)
            names = {scope: list(d.metrics) for scope, d in dense.items()}
        else:
            frames = self.frames(lo, hi, scopes, rows, ahead)
            names = {
                scope: [
                    name
                    for name, dtype in frame.schema.items()
                    if name not in ("unit", "date") and dtype != pl.String
                ]
                for scope, frame in frames.items()
            }
        series = {scope: dict.fromkeys(n, (first, rows_end)) for scope, n in names.items()}
        evaluation = evaluate(
            self.policy,
            frames,
            calendar=self.calendar,
            settings=self.settings,
            authorisations=self._authorisation_frame(first, last),
            span=(first, last),
            series=series,
            dense=dense,
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
        for scopes, window in self._group_list:
            lo = 0 if window <= 0 else max(0, day - window)
            if self.incremental:
                self._decide_changed(scopes, lo, day)
            else:
                self._decide_all(scopes, lo, day)

    def _decide_all(self, scopes: list[str], lo: int, day: int) -> None:
        """The plain path: every unit of ``scopes`` over days ``lo .. day``."""
        evaluation = self.evaluate(lo, day, day + 1, scopes)
        if self._authorise(evaluation, lo, day):
            # authorised for tomorrow: evaluate again so that tomorrow's modes include them
            evaluation = self.evaluate(lo, day, day + 1, scopes)
        self._set_modes(evaluation, lo, day, day + 1)

    def _authorise(self, evaluation: Evaluation, lo: int, day: int) -> bool:
        """Authorise on ``day + 1`` every unit an eligible rule made eligible on ``day``;
        whether any was."""
        if not self.act_on_eligible:
            return False
        tomorrow = day + 1 - lo
        next_date = self.start + dt.timedelta(days=day + 1)
        fresh = False
        for scope in self.ruled:
            if scope not in evaluation.scopes:
                continue
            result = evaluation.scopes[scope]
            for rr in result.rules:
                effect = rr.rule.effect
                if effect is None or effect.action != m.Action.eligible or rr.trigger is None:
                    continue
                assert rr.spells is not None
                want = rr.trigger[:, tomorrow - 1] & ~rr.spells.in_effect[:, tomorrow]
                for i in np.flatnonzero(want):
                    self.authorisations.append((result.grid.units[i], next_date, rr.rule.id))
                    fresh = True
        return fresh

    def _set_modes(self, evaluation: Evaluation, lo: int, day: int, end: int) -> None:
        """Modes of days ``day + 1 .. end`` from ``evaluation`` (its days start at ``lo``)."""
        for scope in self.ruled:
            if scope in evaluation.scopes:
                result = evaluation.scopes[scope]
                index = self._index(scope, result.grid.units)
                self.modes[scope][index, day + 1 : end + 1] = result.mode[
                    :, day + 1 - lo : end + 1 - lo
                ]

    def _decide_changed(self, scopes: list[str], lo: int, day: int) -> None:
        """Evaluate the units whose metrics changed or whose kept days ran out (every unit of
        ``scopes`` when one is and they are decided together), ``horizon`` days ahead (only
        tomorrow when most units' metrics changed today)."""
        ahead = 1 if self._level_scopes & set(scopes) else self.horizon
        rows: dict[str, np.ndarray] = {}
        stale: dict[str, np.ndarray] = {}
        changed = total = 0
        for scope in scopes if not self._independent else [s for s in scopes if s in self.ruled]:
            kept = self._kept.get(scope)
            n = len(self.units[scope])
            table = self.metrics.get(scope, {})
            names = sorted(self.columns.get(scope, set()) & set(table))
            if kept is None or kept.names != names:
                stale[scope] = np.ones(n, dtype=bool)
                continue
            differs = np.zeros(n, dtype=bool)
            for name in names:
                differs |= ~_same(table[name][:, day], kept.values[name])
            changed, total = changed + int(differs.sum()), total + n
            stale[scope] = differs | (kept.until < day + 1)
        if not any(mask.any() for mask in stale.values()):
            return  # every unit's modes of day + 1 were decided ahead
        if 2 * changed > total:
            # most units' metrics moved today: deciding ahead would rarely pay for its days
            ahead = 1
        end = min(day + ahead, self.days - 1)
        if not self._independent:
            stale = {s: np.ones_like(mask) for s, mask in stale.items()}
        else:
            # in a scope of few units, those whose kept days run out within half a horizon
            # come along: one call instead of one more on each of their days (in a large
            # scope the extra units cost more than the call saved: the district's schools)
            soon = day + 1 + self.horizon // 2
            for scope, mask in stale.items():
                kept = self._kept.get(scope)
                if kept is not None and mask.size <= COME_ALONG_UNITS:
                    mask |= kept.until < soon
        for scope, mask in stale.items():
            if mask.any() and (not self._independent or scope in self.ruled):
                rows[scope] = np.flatnonzero(mask)
        chosen = [s for s in scopes if s in rows]
        evaluation = self.evaluate(lo, day, end, chosen, rows, end - 1 - day)
        if self._authorise(evaluation, lo, day):
            evaluation = self.evaluate(lo, day, end, chosen, rows, end - 1 - day)
        self._set_modes(evaluation, lo, day, end)
        until = self._until(evaluation, lo, day, end)
        if not self._independent:
            low = min((int(u.min()) for u in until.values() if u.size), default=end)
            until = {s: np.full(rows[s].size, low, dtype=np.int64) for s in chosen}
        for scope in chosen:
            table = self.metrics.get(scope, {})
            names = sorted(self.columns.get(scope, set()) & set(table))
            n = len(self.units[scope])
            kept = self._kept.get(scope)
            if kept is None or kept.names != names:
                kept = _Kept(
                    names,
                    np.full(n, -1, dtype=np.int64),
                    {name: np.zeros(n, dtype=table[name].dtype) for name in names},
                )
                self._kept[scope] = kept
            idx = rows[scope]
            kept.until[idx] = until.get(scope, np.full(idx.size, end, dtype=np.int64))
            for name in names:
                kept.values[name][idx] = _assumed(table[name], day, idx)

    def _until(self, evaluation: Evaluation, lo: int, day: int, end: int) -> dict[str, np.ndarray]:
        """Per evaluated unit of each ruled scope, the last day whose modes the evaluation
        decides as a later evaluation would: ``end``, or the day before the first day an
        eligible rule would have the unit authorised (that day's decision authorises it)."""
        out = {}
        for scope in self.ruled:
            if scope not in evaluation.scopes:
                continue
            result = evaluation.scopes[scope]
            until = np.full(len(result.grid.units), end, dtype=np.int64)
            if self.act_on_eligible and end > day + 1:
                for rr in result.rules:
                    effect = rr.rule.effect
                    if effect is None or effect.action != m.Action.eligible or rr.trigger is None:
                        continue
                    assert rr.spells is not None
                    # an authorisation for day j (column j - lo) is made on day j - 1
                    first, last = day + 2 - lo, end - lo
                    want = (
                        rr.trigger[:, first - 1 : last] & ~rr.spells.in_effect[:, first : last + 1]
                    )
                    hit = want.any(axis=1)
                    j = np.argmax(want, axis=1) + day + 2
                    until = np.where(hit, np.minimum(until, j - 1), until)
            order = self._index(scope, result.grid.units)
            full = np.empty(len(self.units[scope]), dtype=np.int64)
            full[order] = until
            out[scope] = full[np.sort(order)]
        return out

    def _index(self, scope: str, grid_units: list[str]) -> np.ndarray:
        """Positions in ``units[scope]`` of ``grid_units``."""
        if scope not in self._order:
            names = np.array(self.units[scope], dtype=object).astype(str)
            order = np.argsort(names, kind="stable")
            self._order[scope] = (names[order], order)
        handed = self._handed.get(scope)
        if handed is not None and handed[0] == grid_units:
            return handed[1]  # the rows handed to the engine, in their order
        names, order = self._order[scope]
        wanted = np.array(grid_units, dtype=object).astype(str)
        at = np.searchsorted(names, wanted)
        return order[at]

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
