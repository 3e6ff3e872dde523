"""A duration in hours (issue 16, item 2: "close for a duration in hours or days"): in effect
as whole calendar days, rounded up, in the engine and its reference alike; a window or a run
cannot be counted in hours."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from schoolmode.engine.evaluate import evaluate
from schoolmode.engine.reference import evaluate_reference
from schoolmode.engine.window import policy_window
from schoolmode.policy import model as m
from schoolmode.policy.durations import duration_in_days
from schoolmode.policy.loader import load_policy_path

CLASS_CLOSURE = (
    Path(__file__).resolve().parents[2] / "docs" / "examples" / "reactive" / "class-closure"
)
START = dt.date(2021, 3, 1)


def _fixed_hold(count: int, unit: str) -> m.Policy:
    """The class-closure example with a fixed hold of ``count`` ``unit`` from the next day
    (its trigger: a case reported that day, a window of 1 day)."""
    policy = load_policy_path(CLASS_CLOSURE / "policy.yaml").policy
    window = policy.parameters["closed_days"]
    one = window.values[0].model_copy(update={"value": Decimal(1)})
    policy = policy.model_copy(
        update={
            "parameters": {
                **policy.parameters,
                "closed_days": window.model_copy(update={"values": [one]}),
            }
        }
    )
    hold = m.Duration(days=Decimal(count), unit=unit)
    rule = policy.rules[0]
    timing = rule.timing.model_copy(
        update={"min_duration": hold, "max_duration": hold, "exit_when": "min_duration_elapsed"}
    )
    return policy.model_copy(update={"rules": [rule.model_copy(update={"timing": timing})]})


def _closed_days(policy: m.Policy) -> list[int]:
    """Days after the case (reported on day 0) the class is closed, by the engine; the
    reference engine gives the same modes."""
    days = [START + dt.timedelta(days=k) for k in range(12)]
    frame = pl.DataFrame({"unit": "1A", "date": days, "positive_cases_reported": [1] + [0] * 11})
    result = evaluate(policy, {"classroom": frame}).frame("classroom").sort("date")
    reference = evaluate_reference(policy, {"classroom": frame})["classroom"].sort("date")
    modes = result["mode"].cast(pl.String).to_list()
    assert modes == reference["mode"].cast(pl.String).to_list()
    return [k for k, mode in enumerate(modes) if mode == "class_closed"]


@pytest.mark.parametrize(
    ("hours", "days"), [(1, 1), (23, 1), (24, 1), (25, 2), (36, 2), (48, 2), (49, 3)]
)
def test_hours_are_whole_days_rounded_up(hours: int, days: int) -> None:
    assert duration_in_days(hours, "hours") == (days, "calendar_days")
    assert _closed_days(_fixed_hold(hours, "hours")) == list(range(1, days + 1))
    assert _closed_days(_fixed_hold(hours, "hours")) == _closed_days(
        _fixed_hold(days, "calendar_days")
    )


def test_the_window_counts_hours_as_days() -> None:
    assert policy_window(_fixed_hold(48, "hours")) == policy_window(_fixed_hold(2, "calendar_days"))


def test_a_window_in_hours_is_an_error() -> None:
    with pytest.raises(ValidationError, match="hours is a unit of durations"):
        m.WindowSpec(of=m.MetricOp(metric="x"), days=Decimal(36), unit="hours")
    with pytest.raises(ValidationError, match="hours is a unit of durations"):
        m.SustainedSpec(condition=m.ConstantCond(constant=True), days=Decimal(2), unit="hours")
