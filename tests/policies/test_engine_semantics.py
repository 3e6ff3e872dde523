"""Engine behaviour the shipped cases do not pin down: missing data, strictness, the term."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from schoolmode.cases.runner import CaseRun, collect
from schoolmode.engine.evaluate import evaluate
from schoolmode.engine.nodes import EvaluationError
from schoolmode.policy.cases import EngineCase
from schoolmode.policy.loader import Registry


def _school(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows).with_columns(pl.col("date").cast(pl.Date))


def test_a_level_rule_without_data_says_no_data(registry: Registry) -> None:
    policy = registry.get("cdc-k12-2021-02-12").policy
    frame = _school(
        [
            {
                "unit": "A",
                "date": dt.date(2021, 3, 1),
                "grade_band": "ES",
                "cases_per_100k_7d": 71.5,
                "positivity_7d_pct": 2.76,
            },
            {
                "unit": "B",
                "date": dt.date(2021, 3, 1),
                "grade_band": "ES",
                "cases_per_100k_7d": None,
                "positivity_7d_pct": None,
            },
        ]
    )
    out = evaluate(policy, {"school": frame}).frame("school")
    modes = dict(zip(out["unit"], out["status"], strict=True))
    assert modes["B"] == "no_data"
    assert modes["A"] != "no_data"


def test_a_missing_metric_is_reported_and_never_meets(registry: Registry) -> None:
    policy = registry.get("cps-ctu-2022-01-10").policy
    frame = _school(
        [
            {
                "unit": "X",
                "date": dt.date(2022, 1, 18),
                "classroom_teachers": 40,
                "covid_absent_teachers": 20,
            },
            {
                "unit": "X",
                "date": dt.date(2022, 1, 19),
                "classroom_teachers": 40,
                "covid_absent_teachers": 20,
            },
        ]
    )
    evaluation = evaluate(policy, {"school": frame})
    assert ("school", "absences_covered_by_substitutes") in evaluation.missing_metrics
    assert evaluation.frame("school")["status"].to_list() == ["in_person", "in_person"]


def test_strict_mode_refuses_a_missing_metric(registry: Registry) -> None:
    policy = registry.get("cps-ctu-2022-01-10").policy
    frame = _school([{"unit": "X", "date": dt.date(2022, 1, 18), "classroom_teachers": 40}])
    with pytest.raises(EvaluationError, match="needs the school metric `covid_absent_teachers`"):
        evaluate(policy, {"school": frame}, strict=True)


def test_days_outside_the_term_are_not_in_force(registry: Registry) -> None:
    policy = registry.get("cps-ctu-2022-01-10").policy
    frame = _school(
        [
            {
                "unit": "X",
                "date": dt.date(2022, 1, 7),
                "classroom_teachers": 40,
                "covid_absent_teachers": 40,
                "absences_covered_by_substitutes": 0,
            },
            {
                "unit": "X",
                "date": dt.date(2022, 8, 29),
                "classroom_teachers": 40,
                "covid_absent_teachers": 40,
                "absences_covered_by_substitutes": 0,
            },
        ]
    )
    assert (
        evaluate(policy, {"school": frame}).frame("school")["mode"].to_list()
        == ["not_in_force"] * 2
    )


def test_duplicate_rows_are_refused(registry: Registry) -> None:
    policy = registry.get("cps-ctu-2022-01-10").policy
    row = {"unit": "X", "date": dt.date(2022, 1, 18), "classroom_teachers": 40}
    with pytest.raises(Exception, match="more than one row for the same unit and day"):
        evaluate(policy, {"school": _school([row, row])})


def _engine_cases() -> list[tuple[CaseRun, EngineCase]]:
    from tests.conftest import POLICIES

    runs = collect(Registry(POLICIES))
    return [
        (r, r.case) for r in runs if isinstance(r.case, EngineCase) and not r.case.authorisations
    ]


@pytest.mark.parametrize("shuffle", [False, True])
def test_chunked_evaluation_equals_one_shot(registry: Registry, shuffle: bool) -> None:
    """evaluate_table in chunks of one unit gives exactly evaluate(...).frame(), sorted or not."""
    from schoolmode.cases.runner import case_frames, split_settings
    from schoolmode.engine.table import evaluate_table

    checked = 0
    for run, case in _engine_cases():
        policy = registry.get(run.policy_id).policy
        frames = case_frames(case, policy, run.settings)  # raw events: counted by the policy
        if shuffle:
            frames = {k: v.sample(fraction=1.0, shuffle=True, seed=7) for k, v in frames.items()}
        settings = split_settings(policy, run.settings)
        whole = evaluate(policy, frames, settings=settings)
        chunked = evaluate_table(policy, frames, settings=settings, chunk_units=1)
        for scope, frame in chunked.items():
            expected = whole.frame(scope).sort("unit", "date")
            assert frame.sort("unit", "date").equals(expected), (run.test_id, scope)
            checked += 1
    assert checked > 30


def test_cases_can_say_a_rule_lacked_its_data_and_a_scope_has_no_rule(registry: Registry) -> None:
    """``lacking_data`` and ``no_rule`` in a case's expectations: right where they hold, a
    named failure where they do not (a level rule without a level lacks its data; a trigger
    rule outside its metric's series days too; the policy has school rules only)."""
    from schoolmode.cases.runner import check
    from schoolmode.policy.cases import Expectation

    day = dt.date(2021, 3, 1)
    policy = registry.get("cdc-k12-2021-02-12").policy
    frame = _school(
        [
            {"unit": "A", "date": day, "grade_band": "ES", "cases_per_100k_7d": 71.5,
             "positivity_7d_pct": 2.76},
            {"unit": "B", "date": day, "grade_band": "ES", "cases_per_100k_7d": None,
             "positivity_7d_pct": None},
        ]
    )  # fmt: skip
    evaluation = evaluate(policy, {"school": frame})

    def expect(**fields: object) -> list[str]:
        return check(evaluation, Expectation.model_validate({"date": day, **fields}), day)

    assert expect(unit="B", lacking_data={"transmission-level": True}) == []
    assert expect(unit="A", lacking_data={"transmission-level": False}) == []
    wrong = expect(unit="A", lacking_data={"transmission-level": True})
    assert wrong == [
        "school A on 2021-03-01: expected lack of data of rule transmission-level True, got False"
    ]
    assert expect(scope="classroom", unit="x", no_rule=True) == []
    assert expect(scope="school", unit="A", no_rule=True) == [
        "expected no school rule, the policy has transmission-level"
    ]
    assert expect(scope="classroom", unit="x", no_rule=False) == [
        "expected a classroom rule, the policy has none"
    ]
