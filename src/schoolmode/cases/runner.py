"""Run worked cases against their policies: the engine cases through ``evaluate``, the
operation cases through the pure operation functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import TypeAdapter

from schoolmode.cases.events import EventProblem, event_frames
from schoolmode.engine import runs
from schoolmode.engine.evaluate import NOT_IN_FORCE, Evaluation, evaluate
from schoolmode.engine.grid import Calendar
from schoolmode.engine.nodes import CondValue
from schoolmode.engine.period import counterfactual
from schoolmode.engine.rational import Rational
from schoolmode.engine.runs import Run
from schoolmode.engine.settings import Settings
from schoolmode.operations import accommodations, quarantine, screening, vaccination
from schoolmode.policy import model as m
from schoolmode.policy.cases import (
    EngineCase,
    Expectation,
    OperationCase,
    SettingValue,
    case_files,
    load_case_file,
)
from schoolmode.policy.counting import counting_rules
from schoolmode.policy.errors import PolicyFileError, Problem, SchoolmodeError
from schoolmode.policy.loader import LoadedPolicy, Registry
from schoolmode.policy.model import NodeMeta, Policy
from schoolmode.policy.walk import walk
from schoolmode.policy.yamlio import load_yaml


@dataclass
class CaseRun:
    """One executable variant of a case: a policy, a reading, and what must hold."""

    test_id: str
    case_id: str
    policy_id: str
    path: Path
    case: EngineCase | OperationCase
    settings: dict[str, SettingValue]
    expect: list[Any]
    reading: str | None = None


@dataclass
class CaseResult:
    run: CaseRun
    failures: list[str] = field(default_factory=list)
    counterfactual: str | None = None
    """``applied outside its term (...)`` when the case asked for a counterfactual."""

    @property
    def passed(self) -> bool:
        return not self.failures


def runs_for(loaded: LoadedPolicy, path: Path) -> Iterator[CaseRun]:
    for case in load_case_file(path).cases:
        yield from _variants(
            loaded.id, path, case, case.settings, _expects(case), case.readings, main=True
        )
        for other_id, other in case.also.items():
            yield from _variants(
                other_id, path, case, {**other.settings}, other.expect, other.readings, main=False
            )


def _expects(case: EngineCase | OperationCase) -> list[Any]:
    return list(case.expect) if isinstance(case, EngineCase) else list(case.examples)


def _variants(
    policy_id: str,
    path: Path,
    case: EngineCase | OperationCase,
    settings: Mapping[str, SettingValue],
    expect: list[Any],
    readings: list[Any],
    *,
    main: bool,
) -> Iterator[CaseRun]:
    base = case.id if main else f"{case.id}[{policy_id}]"
    if expect:
        yield CaseRun(base, case.id, policy_id, path, case, dict(settings), expect)
    for reading in readings:
        yield CaseRun(
            f"{base}[{reading.name}]",
            case.id,
            policy_id,
            path,
            case,
            {**settings, **reading.settings},
            reading.expect,
            reading.name,
        )


def collect(registry: Registry, only: list[str] | None = None) -> list[CaseRun]:
    """Every case variant of the registry's policies (``only``: of these policies). A case id
    is unique across the folder: one used in two files is an error naming both."""
    runs: list[CaseRun] = []
    first_file: dict[str, Path] = {}
    for loaded in registry.all():
        for path in case_files(loaded):
            found = list(runs_for(loaded, path))
            for case_id in dict.fromkeys(r.case_id for r in found):
                other = first_file.setdefault(case_id, path)
                if other != path:
                    raise PolicyFileError(
                        path,
                        [
                            Problem(
                                "cases.id",
                                f"the case id {case_id!r} is already used by {other}",
                                None,
                                "give every case an id of its own across the policies folder",
                            )
                        ],
                    )
            runs.extend(r for r in found if not only or r.policy_id in only or loaded.id in only)
    return runs


def execute(run: CaseRun, registry: Registry) -> CaseResult:
    result = CaseResult(run)
    try:
        policy = registry.get(run.policy_id).policy
        if isinstance(run.case, EngineCase):
            _run_engine(run, run.case, policy, result)
        else:
            _run_operation(run, run.case, policy, result)
    except SchoolmodeError as exc:
        result.failures.append(f"error: {exc}")
    except Exception as exc:  # a crash is a failed case, reported with its cause
        result.failures.append(f"crashed: {type(exc).__name__}: {exc}")
    return result


# ---------------------------------------------------------------------- engine cases


def split_settings(policy: Policy, settings: Mapping[str, SettingValue]) -> Settings:
    interps: dict[str, Decimal | bool | str] = {}
    params: dict[str, Decimal | bool | str | None] = {}
    for name, value in settings.items():
        if name in policy.interpretations:
            if value is None:
                raise SchoolmodeError(f"interpretation {name!r} needs a value")
            interps[name] = value
        elif name in policy.parameters:
            params[name] = value
        else:
            raise SchoolmodeError(
                f"case setting {name!r} is neither an interpretation nor a parameter of policy {policy.id!r} "
                f"(interpretations: {', '.join(sorted(policy.interpretations)) or 'none'}; "
                f"parameters: {', '.join(sorted(policy.parameters)) or 'none'})"
            )
    return Settings(interps, params)


def frames_of(case: EngineCase) -> dict[str, pl.DataFrame]:
    out: dict[str, pl.DataFrame] = {}
    for scope, rows in case.frames.items():
        expanded: list[dict[str, Any]] = []
        for row in rows:
            repeat = int(row.get("repeat", 1))
            body = {k: v for k, v in row.items() if k != "repeat"}
            if repeat == 1 and "repeat" not in row:
                expanded.append(body)
            else:
                expanded.extend({**body, "unit": f"{body['unit']}-{i + 1}"} for i in range(repeat))
        out[scope.value] = _frame(expanded)
    return out


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    names: list[str] = []
    for row in rows:
        names.extend(k for k in row if k not in names)
    data: dict[str, pl.Series] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        present = [v for v in values if v is not None]
        if name == "date" or (all(isinstance(v, dt.date) for v in present) and present):
            data[name] = pl.Series(name, values, dtype=pl.Date)
        elif all(isinstance(v, bool | int) and not isinstance(v, Decimal) for v in present):
            data[name] = pl.Series(
                name, [None if v is None else int(v) for v in values], dtype=pl.Int64
            )
        elif all(isinstance(v, int | Decimal | float) for v in present):
            data[name] = pl.Series(
                name, [None if v is None else float(v) for v in values], dtype=pl.Float64
            )
        else:
            data[name] = pl.Series(
                name, [None if v is None else str(v) for v in values], dtype=pl.String
            )
    return pl.DataFrame(data)


def case_frames(
    case: EngineCase, policy: Policy, settings: Mapping[str, SettingValue]
) -> dict[str, pl.DataFrame]:
    """The case's frames: its metric values, and the frames of its raw events counted by the
    policy's rules under ``settings``' readings (a scope in both: the values' columns joined
    on unit and date)."""
    frames = frames_of(case)
    if case.events is None:
        return frames
    rules = counting_rules(policy, split_settings(policy, settings).interpretations)
    counted = event_frames(case.events, rules, expectation_days(case))
    for scope, frame in counted.items():
        given = frames.get(scope)
        if given is not None:
            both = (set(given.columns) & set(frame.columns)) - {"unit", "date"}
            if both:
                raise EventProblem(
                    ("frames", scope),
                    f"{', '.join(sorted(both))} come from the events; leave them out of frames",
                )
            frame = frame.join(given, on=["unit", "date"], how="left")
        frames[scope] = frame
    return frames


def expectation_days(case: EngineCase) -> list[dt.date]:
    """Every day the case's expectations name (its own, its readings', the other policies')."""
    lists: list[list[Any]] = [list(case.expect)]
    lists += [r.expect for r in case.readings]
    for other in case.also.values():
        lists += [other.expect, *(r.expect for r in other.readings)]
    days: list[dt.date] = []
    for items in lists:
        for item in items:
            raw = item.model_dump(by_alias=True) if isinstance(item, Expectation) else item
            for key in ("date", "from", "through"):
                value = raw.get(key) if isinstance(raw, dict) else None
                if isinstance(value, dt.date):
                    days.append(value)
    return days


def evaluate_case(
    case: EngineCase, policy: Policy, settings: Mapping[str, SettingValue]
) -> Evaluation:
    calendar = Calendar()
    if case.calendar is not None:
        calendar = Calendar(
            frozenset(case.calendar.school_days) if case.calendar.school_days is not None else None,
            frozenset(case.calendar.holidays),
        )
    auth = None
    if case.authorisations:
        auth = pl.DataFrame([a.model_dump() for a in case.authorisations])
    frames = case_frames(case, policy, settings)
    used = policy
    if case.apply == "counterfactual":
        first = min(f["date"].min() for f in frames.values() if f.height)  # type: ignore[type-var]
        assert isinstance(first, dt.date)
        used = counterfactual(policy, min(first, policy.term.from_))
    evaluation = evaluate(
        used,
        frames,
        calendar=calendar,
        settings=split_settings(policy, settings),
        authorisations=auth,
        keep=True,
    )
    if case.apply == "counterfactual":
        evaluation.own_term = policy.term
    return evaluation


def _outside_term(run: CaseRun, policy: Policy, exp: Expectation, day: dt.date) -> str | None:
    """Why ``exp`` cannot be checked on ``day``: outside the policy's term its rules are not
    evaluated, so only ``mode``/``status`` ``not_in_force`` can be expected there (a case that
    means to evaluate them says ``apply: counterfactual``)."""
    if policy.term.covers(day) or exp.no_rule:
        return None
    asserted = {
        k
        for k, v in exp.model_dump(exclude={"scope", "unit", "date", "from_", "through"}).items()
        if v is not None
    }
    if asserted <= {"mode", "status"} and {exp.mode, exp.status} <= {"not_in_force", None}:
        return None
    return (
        f"{run.path}: case {run.case_id}: {day} is outside the term of policy {policy.id} "
        f"({policy.term.words()}), where its rules are not evaluated, so "
        f"{', '.join(sorted(asserted))} cannot be checked there: expect mode not_in_force, or "
        "add `apply: counterfactual` to the case to apply the policy as if in force"
    )


def _run_engine(run: CaseRun, case: EngineCase, policy: Policy, result: CaseResult) -> None:
    try:
        evaluation = evaluate_case(case, policy, run.settings)
    except EventProblem as exc:
        raise event_error(run.path, case.id, exc) from None
    if case.apply == "counterfactual":
        result.counterfactual = f"applied outside its term ({policy.term.words()})"
    adapter = TypeAdapter(Expectation)
    for raw in run.expect:
        exp = raw if isinstance(raw, Expectation) else adapter.validate_python(raw)
        for day in _days(exp):
            outside = _outside_term(run, policy, exp, day) if case.apply == "in_term" else None
            if outside is not None:
                result.failures.append(outside)
                continue
            result.failures.extend(check(evaluation, exp, day))


def event_error(path: Path, case_id: str, problem: EventProblem) -> PolicyFileError:
    """``problem`` as an error naming the case file, its line, the event row and field."""
    loaded = load_yaml(path)
    cases = loaded.data.get("cases") if isinstance(loaded.data, dict) else None
    index = next(
        (i for i, c in enumerate(cases or []) if isinstance(c, dict) and c.get("id") == case_id),
        None,
    )
    loc = ("cases", index, *problem.loc) if index is not None else problem.loc
    return PolicyFileError(
        path,
        [
            Problem(
                loaded.key_path(loc) or ".".join(map(str, loc)),
                problem.message,
                loaded.line_of(loc),
            )
        ],
    )


def expected_unit_days(run: CaseRun) -> list[tuple[str, str, dt.date]]:
    """The unit-days a case's expectations name (a range by its first day), once each, in the
    order written: what ``policy explain --case`` explains. A ``no_rule`` expectation names
    none (the policy decides nothing at its scope)."""
    out: list[tuple[str, str, dt.date]] = []
    for raw in run.expect:
        exp = raw if isinstance(raw, Expectation) else TypeAdapter(Expectation).validate_python(raw)
        day = exp.date or exp.from_
        key = (exp.scope.value, exp.unit, day)
        if day is not None and not exp.no_rule and key not in out:
            out.append(key)  # type: ignore[arg-type]
    return out


def _days(exp: Expectation) -> list[dt.date]:
    if exp.date is not None:
        return [exp.date]
    if exp.from_ is not None and exp.through is not None:
        n = (exp.through - exp.from_).days
        return [exp.from_ + dt.timedelta(days=i) for i in range(n + 1)]
    raise SchoolmodeError(
        f"an expectation for unit {exp.unit!r} needs `date`, or `from` and `through`"
    )


def check(evaluation: Evaluation, exp: Expectation, day: dt.date) -> list[str]:
    scope = exp.scope.value
    ruled = [r.id for r in evaluation.policy.rules if r.scope.value == scope]
    if exp.no_rule is not None:
        if exp.no_rule and ruled:
            return [f"expected no {scope} rule, the policy has {', '.join(ruled)}"]
        if not exp.no_rule and not ruled:
            return [f"expected a {scope} rule, the policy has none"]
        if exp.no_rule:
            return []  # nothing at this scope to check further
    if scope not in evaluation.scopes:
        return [
            f"no {scope}-level result: the policy has no {scope} rules, or no {scope} frame was given"
        ]
    frame = evaluation.frame(scope, only_present=False)
    row = frame.filter((pl.col("unit") == exp.unit) & (pl.col("date") == day))
    where = f"{scope} {exp.unit} on {day}"
    if row.height == 0:
        return [f"{where}: no such unit-day in the evaluation"]
    got = row.row(0, named=True)
    failures: list[str] = []

    def want(label: str, expected: object, actual: object) -> None:
        if expected is not None and str(expected) != str(actual):
            failures.append(f"{where}: expected {label} {expected}, got {actual}")

    want("mode", exp.mode, got["mode"])
    want("status", exp.status, got["status"])
    want("rule", exp.rule, got["rule"])
    want("spell start", exp.spell_start, got["spell_start"])
    want("earliest return", exp.earliest_return, got["earliest_return"])
    for rule_id, expected in (exp.trigger or {}).items():
        want(f"trigger of rule {rule_id}", expected, got.get(f"trigger.{rule_id}"))
    for rule_id, expected_level in (exp.level or {}).items():
        want(f"level of rule {rule_id}", expected_level, got.get(f"level.{rule_id}"))
    for rule_id, expected_lack in (exp.lacking_data or {}).items():
        want(
            f"lack of data of rule {rule_id}",
            expected_lack,
            lacking_data(evaluation, scope, rule_id, exp.unit, day),
        )
    for node_id, expected_bool in (exp.node or {}).items():
        value = node_value(evaluation, scope, node_id, exp.unit, day)
        want(f"condition {node_id}", expected_bool, value)
    for node_id, expected_run in (exp.run or {}).items():
        found = node_run(evaluation, scope, node_id, exp.unit, day)
        want(f"run of {node_id}", expected_run, found if isinstance(found, str) else found.length)
    for node_id, expected_break in (exp.broke_on or {}).items():
        found = node_run(evaluation, scope, node_id, exp.unit, day)
        actual = found if isinstance(found, str) else found.broke_on
        if str(expected_break) != str(actual):  # null expects none: checked too
            failures.append(
                f"{where}: expected the day that broke the run of {node_id} "
                f"{expected_break or 'none'}, got {actual or 'none'}"
            )
    for node_id, expected_value in (exp.values or {}).items():
        value = node_value(evaluation, scope, node_id, exp.unit, day)
        if isinstance(value, Decimal):
            exponent = expected_value.as_tuple().exponent
            places = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
            value = value.quantize(places, rounding=ROUND_HALF_UP)
        want(f"value of {node_id}", expected_value, value)
    return failures


def lacking_data(evaluation: Evaluation, scope: str, rule_id: str, unit: str, day: dt.date) -> bool:
    """Whether ``rule_id`` lacked its data for ``unit`` on ``day``: a trigger rule whose inputs
    were outside their series' days (and did not fire anyway), a level rule in force without
    a level."""
    result = evaluation.scopes[scope]
    rr = next((r for r in result.rules if r.rule.id == rule_id), None)
    if rr is None:
        raise SchoolmodeError(f"policy {evaluation.policy.id!r} has no {scope} rule {rule_id!r}")
    u, d = result.grid.unit_index(unit), evaluation.axis.index(day)
    if rr.known is not None:
        return not bool(rr.known[u, d])
    if rr.level is not None:
        active = any(seg.mask[d] and seg.inactive is None for seg in rr.segments)
        return active and int(rr.level[u, d]) == -1 and result.mode[u, d] != NOT_IN_FORCE
    return False


def find_node(policy: Policy, node_id: str) -> tuple[str, Any]:
    for rule in policy.rules:
        for node in walk(rule):
            if isinstance(node, NodeMeta) and node.id == node_id:
                return rule.id, node
    raise SchoolmodeError(f"policy {policy.id!r} has no node with id {node_id!r}")


def node_value(evaluation: Evaluation, scope: str, node_id: str, unit: str, day: dt.date) -> object:
    rule_id, node = find_node(evaluation.policy, node_id)
    result = evaluation.scopes[scope]
    rr = next(r for r in result.rules if r.rule.id == rule_id)
    d = evaluation.axis.index(day)
    u = result.grid.unit_index(unit)
    if not evaluation.policy.term.covers(day):
        return f"not in force (outside its term, {evaluation.term.words()})"
    for seg in rr.segments:
        if seg.mask[d]:
            if seg.inactive is not None:
                return f"not in force (parameter {seg.inactive} has no value)"
            if seg.record is None or id(node) not in seg.record:
                return "not evaluated"
            return cell(seg.record[id(node)], u, d)
    return "not evaluated"


def node_run(
    evaluation: Evaluation, scope: str, node_id: str, unit: str, day: dt.date
) -> Run | str:
    """The current run of a sustained or trend condition for ``unit`` on ``day`` (a text when
    it was not evaluated that day)."""
    rule_id, node = find_node(evaluation.policy, node_id)
    if not isinstance(node, m.SustainedCond | m.TrendCond):
        raise SchoolmodeError(
            f"condition {node_id!r} is not a sustained or trend condition: it has no runs"
        )
    result = evaluation.scopes[scope]
    rr = next(r for r in result.rules if r.rule.id == rule_id)
    d = evaluation.axis.index(day)
    u = result.grid.unit_index(unit)
    seg = next((s for s in rr.segments if s.mask[d]), None)
    if seg is None or seg.inactive is not None or seg.record is None:
        return "not evaluated"
    daily = runs.daily_of(node, seg.record)
    if daily is None:
        return "not evaluated"

    def resolve(ref: object) -> object:
        if isinstance(ref, m.ParamRef):
            return seg.values.get(ref.param)
        if isinstance(ref, m.InterpRef):
            return evaluation.interpretations[ref.interp]
        return ref

    return runs.run_at(daily, u, d, evaluation.axis, runs.unit_of(node, resolve))


def cell(value: object, u: int, d: int) -> object:
    if isinstance(value, CondValue):
        return bool(value.value[u, d]) if value.known[u, d] else "unknown"
    if isinstance(value, Rational):
        known = np.broadcast_to(np.asarray(value.known), np.shape(value.num) or (1, 1))
        if np.ndim(value.num) == 2 and not known[u, d]:
            return "unknown"
        num = int(np.asarray(value.num)[u, d]) if np.ndim(value.num) == 2 else int(value.num)
        den = int(np.asarray(value.den)[u, d]) if np.ndim(value.den) == 2 else int(value.den)
        return Decimal(num) / Decimal(den)
    if isinstance(value, np.ndarray):
        return int(value[u, d])
    return value


# ---------------------------------------------------------------------- operation cases

Operation = Callable[..., dict[str, Any]]

OPERATIONS: dict[str, Operation] = {
    "staff_screening_tests": lambda p, s, **kw: screening.staff_tests(
        p, kw.pop("on"), settings=s, **kw
    ),
    "zip_student_screening_tests": lambda p, s, **kw: screening.zip_student_tests(
        p, kw.pop("on"), settings=s, **kw
    ),
    "random_student_screening_tests": lambda p, s, **kw: screening.random_student_tests(
        p, kw.pop("on"), settings=s, **kw
    ),
    "quarantine_release": lambda p, s, **kw: quarantine.quarantine_release(p, settings=s, **kw),
    "isolation_release": lambda p, s, **kw: quarantine.isolation_release(p, settings=s, **kw),
    "test_to_stay": lambda p, s, **kw: quarantine.attendance_under_test_to_stay(
        p, settings=s, **kw
    ),
    "vaccination_weeks_to_offer": lambda p, s, **kw: vaccination.weeks_to_offer(
        p, kw.pop("on"), settings=s, **kw
    ),
    "accommodation_quota": lambda p, s, **kw: accommodations.quota_case(p, s, **kw),
}


def _plain_input(value: Any) -> Any:
    if isinstance(value, Decimal) and value == value.to_integral_value() and "." not in str(value):
        return int(value)
    return value


def _run_operation(run: CaseRun, case: OperationCase, policy: Policy, result: CaseResult) -> None:
    func = OPERATIONS.get(case.operation)
    if func is None:
        raise PolicyFileError(
            run.path,
            [
                Problem(
                    f"cases.{case.id}.operation",
                    f"unknown operation {case.operation!r}",
                    None,
                    f"use one of: {', '.join(sorted(OPERATIONS))}",
                )
            ],
        )
    for index, raw in enumerate(run.expect):
        example = raw if not isinstance(raw, dict) else TypeAdapter(Any).validate_python(raw)
        inputs = dict(example.input if hasattr(example, "input") else example["input"])
        expected = dict(example.expect if hasattr(example, "expect") else example["expect"])
        got = func(policy, run.settings, **{k: _plain_input(v) for k, v in inputs.items()})
        for key, want in expected.items():
            if key not in got:
                result.failures.append(
                    f"example {index + 1}: the operation gives no `{key}` (it gives {sorted(got)})"
                )
            elif str(got[key]) != str(want):
                result.failures.append(
                    f"example {index + 1}: expected {key} {want}, got {got[key]}"
                )
