"""A policy outside its term (issue 15, item 4): evaluated only when a case asks for it
(``apply: counterfactual``), said in the output; otherwise "not in force" names the term, and a
case cannot pass by expecting what an unevaluated rule seems to give."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolmode.cases.runner import evaluate_case, execute, node_value, runs_for
from schoolmode.engine.explain import explain
from schoolmode.engine.plain import summary
from schoolmode.engine.trace import OUTSIDE_TERM, trace
from schoolmode.policy.cases import EngineCase
from schoolmode.policy.loader import Registry

POLICY = "cps-ctu-2021-02-06"  # in effect 2021-02-11 to 2021-08-24
RISE = ["10.00", "10.10", "10.20", "10.30", "10.40", "10.50", "10.60"]
RISE += ["11.50", "11.615", "11.73", "11.845", "11.96", "12.075", "12.19"]


def _case_file(tmp_path: Path, start: dt.date, expect: str, apply: str | None = None) -> Path:
    rows = "\n".join(
        f"        - {{unit: chicago, date: {start + dt.timedelta(days=i)}, positivity_7d_pct: {v}}}"
        for i, v in enumerate(RISE)
    )
    rows += f"\n        - {{unit: chicago, date: {start + dt.timedelta(days=len(RISE))}}}"
    path = tmp_path / "outside.yaml"
    path.write_text(
        "cases:\n"
        "  - id: outside-term-probe\n"
        "    title: probe\n"
        "    confidence: U\n"
        "    justification: a probe\n"
        + (f"    apply: {apply}\n" if apply else "")
        + "    settings: {level_threshold_pct: 10.0}\n"
        "    frames:\n"
        "      district:\n"
        f"{rows}\n"
        "    expect:\n"
        f"      - {expect}\n",
        encoding="utf-8",
    )
    return path


def _failures(registry: Registry, path: Path) -> list[str]:
    runs = list(runs_for(registry.get(POLICY), path))
    assert len(runs) == 1
    return execute(runs[0], registry).failures


def test_never_triggers_outside_the_term_fails_naming_file_and_case(
    registry: Registry, tmp_path: Path
) -> None:
    # the rule would trigger on the 14th day: "never triggers" must not pass unevaluated
    path = _case_file(
        tmp_path,
        dt.date(2021, 12, 1),
        "{scope: district, unit: chicago, date: 2021-12-14, trigger: {district-pause: false}}",
    )
    failures = _failures(registry, path)
    assert failures == [
        f"{path}: case outside-term-probe: 2021-12-14 is outside the term of policy {POLICY} "
        "(2021-02-11 to 2021-08-24), where its rules are not evaluated, so trigger cannot be "
        "checked there: expect mode not_in_force, or add `apply: counterfactual` to the case "
        "to apply the policy as if in force"
    ]


def test_not_in_force_can_still_be_expected_outside_the_term(
    registry: Registry, tmp_path: Path
) -> None:
    path = _case_file(
        tmp_path,
        dt.date(2021, 12, 1),
        "{scope: district, unit: chicago, date: 2021-12-14, mode: not_in_force}",
    )
    assert _failures(registry, path) == []


def test_a_counterfactual_case_evaluates_the_rule(registry: Registry, tmp_path: Path) -> None:
    never = "{scope: district, unit: chicago, date: 2021-12-14, trigger: {district-pause: false}}"
    path = _case_file(tmp_path, dt.date(2021, 12, 1), never, apply="counterfactual")
    assert _failures(registry, path) == [
        "district chicago on 2021-12-14: expected trigger of rule district-pause False, got True"
    ]
    fires = "{scope: district, unit: chicago, date: 2021-12-15, mode: pause}"
    path = _case_file(tmp_path, dt.date(2021, 12, 1), fires, apply="counterfactual")
    run = next(iter(runs_for(registry.get(POLICY), path)))
    result = execute(run, registry)
    assert result.passed
    assert result.counterfactual == "applied outside its term (2021-02-11 to 2021-08-24)"


def test_before_the_term_the_cause_is_the_term_not_a_parameter(
    registry: Registry, tmp_path: Path
) -> None:
    """Before 2021-02-11 the agreement's parameters have no value either; the cause given is
    the term, with its dates."""
    path = _case_file(
        tmp_path,
        dt.date(2021, 1, 20),
        "{scope: district, unit: chicago, date: 2021-02-02, mode: not_in_force}",
    )
    run = next(iter(runs_for(registry.get(POLICY), path)))
    assert isinstance(run.case, EngineCase)
    evaluation = evaluate_case(run.case, registry.get(POLICY).policy, run.settings)
    day = dt.date(2021, 2, 2)
    got = node_value(evaluation, "district", "trend", "chicago", day)
    assert got == "not in force (outside its term, 2021-02-11 to 2021-08-24)"
    t = trace(evaluation, "district", "chicago", day)
    assert t.term == "2021-02-11 to 2021-08-24"
    assert not t.counterfactual
    assert all(r.not_in_force == OUTSIDE_TERM and r.inactive is None for r in t.rules)
    for text in (explain(t), explain(t, technical=True)):
        assert "has no value" not in text
        assert "Thursday 11 February 2021 to Tuesday 24 August 2021" in text
    assert "outside its term" in summary(t)


def test_a_counterfactual_trace_says_so(registry: Registry, tmp_path: Path) -> None:
    path = _case_file(
        tmp_path,
        dt.date(2021, 12, 1),
        "{scope: district, unit: chicago, date: 2021-12-15, mode: pause}",
        apply="counterfactual",
    )
    run = next(iter(runs_for(registry.get(POLICY), path)))
    assert isinstance(run.case, EngineCase)
    evaluation = evaluate_case(run.case, registry.get(POLICY).policy, run.settings)
    t = trace(evaluation, "district", "chicago", dt.date(2021, 12, 15))
    assert t.counterfactual
    assert t.term == "2021-02-11 to 2021-08-24"
    assert t.mode == "pause"
    for text in (explain(t), explain(t, technical=True)):
        assert "applied here outside its term" in text
        assert "not what was in force" in text


@settings(max_examples=12, deadline=None)
@given(shift=st.integers(min_value=0, max_value=150))
def test_within_the_term_a_counterfactual_changes_nothing(registry: Registry, shift: int) -> None:
    """The same rows evaluated in term and counterfactually give the same frame on every day
    inside the term (the counterfactual only adds the days outside it)."""
    start = dt.date(2021, 2, 11) + dt.timedelta(days=shift)
    rows = [
        {"unit": "chicago", "date": start + dt.timedelta(days=i), "positivity_7d_pct": v}
        for i, v in enumerate(RISE)
    ]
    base = {
        "id": "probe",
        "title": "probe",
        "confidence": "U",
        "justification": "probe",
        "settings": {"level_threshold_pct": Decimal("10.0")},
        "frames": {"district": rows},
    }
    policy = registry.get(POLICY).policy
    frames: list[pl.DataFrame] = []
    for apply in ("in_term", "counterfactual"):
        case = EngineCase.model_validate({**base, "apply": apply})
        evaluation = evaluate_case(case, policy, {"level_threshold_pct": Decimal("10.0")})
        frames.append(evaluation.frame("district").filter(pl.col("date") <= dt.date(2021, 8, 24)))
    assert frames[0].equals(frames[1])
