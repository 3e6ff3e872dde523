"""The grade scope on real records (issue 16, item 2): a store has no grade units, so a grade
rule decides none; the daily decision and the backtest run and decide the other scopes as
without it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal
from sqlalchemy import Engine

from schoolmode.backtest.run import run_backtest
from schoolmode.decisions.record import decide
from schoolmode.metrics.frames import district_frame, school_frame, schools
from schoolmode.policy import model as m
from schoolmode.policy.loader import LoadedPolicy, load_policy_path
from tests.decisions.test_decide_window import DAYS, district_store  # noqa: F401 (fixture)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "reactive"


def _example(name: str) -> LoadedPolicy:
    return load_policy_path(EXAMPLES / name / "policy.yaml")


def _with_grade_rule(loaded: LoadedPolicy) -> m.Policy:
    """``loaded``'s policy with the grade-closure example's mode and rule added."""
    grade = _example("grade-closure").policy
    return loaded.policy.model_copy(
        update={
            "id": f"{loaded.policy.id}-and-grade",
            "modes": [*loaded.policy.modes, *grade.modes[1:]],
            "rules": [*loaded.policy.rules, *grade.rules],
        }
    )


def test_a_grade_rule_on_the_store_decides_no_unit(district_store: Engine) -> None:  # noqa: F811
    grade = _example("grade-closure")
    assert [r.scope for r in grade.policy.rules] == [m.Scope.grade]
    alone = decide(district_store, grade, DAYS[0])
    # the store's units get the default mode (no rule of theirs), nothing is missing
    assert (alone.not_default, alone.missing_metrics, alone.no_data) == (0, [], 0)
    school = _example("school-closure")
    both = dataclasses.replace(school, policy=_with_grade_rule(school))
    with_grade, without = (decide(district_store, p, DAYS[0]) for p in (both, school))
    assert with_grade.decisions == without.decisions > 0
    assert with_grade.not_default == without.not_default


def test_a_backtest_with_a_grade_rule_decides_the_schools_as_without_it(
    district_store: Engine,  # noqa: F811
) -> None:
    school = _example("school-closure")
    start, end = dt.date(2021, 11, 1), dt.date(2022, 2, 25)
    district = district_frame(district_store, start, end)
    frames = {"district": district, "school": school_frame(district, schools(district_store))}
    policies = [_example("grade-closure").policy, school.policy, _with_grade_rule(school)]
    runs = run_backtest(policies, frames, start, end, apply_over_whole_period=True).runs
    assert "grade" not in runs[0].results or runs[0].results["grade"].height == 0
    assert runs[1].results["school"].height > 0
    as_text = [
        r.results["school"].select("unit", "date", pl.col("mode", "rule").cast(pl.String))
        for r in runs[1:]
    ]
    assert_frame_equal(as_text[1], as_text[0])
