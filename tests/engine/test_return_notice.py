"""Notice before a return (``timing.return_notice``, issue 15 item 1): the effect ends on the
(N+1)-th day of the unit after the day its exit condition holds, the return stands once
announced, the maximum still ends it on time, and the trace and the explanation say so."""

from __future__ import annotations

import datetime as dt

import polars as pl

from schoolmode.engine.evaluate import evaluate
from schoolmode.engine.explain import explain
from schoolmode.engine.reference import evaluate_reference
from schoolmode.engine.trace import trace
from tests.engine.test_properties import MONDAY, make_policy

WHEN = {"threshold": {"of": {"metric": "a"}, "op": ">=", "value": 5}}


def _modes(timing: dict[str, object], readings: list[int]) -> list[str]:
    policy = make_policy(WHEN, timing=timing)
    frame = pl.DataFrame(
        {
            "unit": ["s"] * len(readings),
            "date": [MONDAY + dt.timedelta(days=i) for i in range(len(readings))],
            "a": readings,
            "b": [0] * len(readings),
        }
    )
    result = evaluate(policy, {"school": frame}).frame("school", only_present=False)
    reference = evaluate_reference(policy, {"school": frame})["school"]
    assert (
        result.select("mode").to_series().to_list()
        == reference.select("mode").to_series().to_list()
    )
    return result.sort("date").get_column("mode").to_list()


# Monday 3 January 2022 onwards: 9 on Monday starts the spell on Tuesday; Wednesday's 0 clears it
READINGS = [9, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]


def test_without_notice_the_unit_returns_the_day_after_the_exit() -> None:
    modes = _modes({}, READINGS)
    assert modes[:4] == ["in_person", "remote", "remote", "in_person"]


def test_a_return_notice_of_two_calendar_days_keeps_it_two_more_days() -> None:
    notice = {"return_notice": {"days": 2, "unit": "calendar_days"}}
    modes = _modes(notice, READINGS)
    # exit holds on Wednesday: back on the third day after it, Saturday
    assert modes[:6] == ["in_person", "remote", "remote", "remote", "remote", "in_person"]


def test_a_return_notice_in_school_days_skips_the_weekend() -> None:
    notice = {"return_notice": {"days": 2, "unit": "school_days"}}
    readings = [9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0]  # the exit holds on Friday 7 January
    modes = _modes(notice, readings)
    # the weekend, Monday and Tuesday 10-11 January of notice, back on Wednesday 12 January
    assert modes[4:9] == ["remote"] * 5
    assert modes[9] == "in_person"


def test_a_return_announced_stands_and_the_maximum_still_ends_the_effect() -> None:
    notice = {"return_notice": {"days": 3, "unit": "calendar_days"}}
    # the exit holds on Wednesday; Thursday's 9 does not cancel the return on Sunday
    modes = _modes(notice, [9, 9, 0, 9, 0, 0, 0, 0, 0])
    assert modes[6] == "in_person"
    assert modes[1:6] == ["remote"] * 5
    capped = {
        "return_notice": {"days": 5, "unit": "calendar_days"},
        "max_duration": {"days": 3, "unit": "calendar_days"},
    }
    modes = _modes(capped, READINGS)
    assert modes[1:5] == ["remote", "remote", "remote", "in_person"]


def test_the_trace_and_the_explanation_name_the_notice() -> None:
    policy = make_policy(
        WHEN,
        timing={
            "min_duration": {"days": 2, "unit": "calendar_days"},
            "return_notice": {"days": 2, "unit": "school_days"},
        },
    )
    frame = pl.DataFrame(
        {
            "unit": ["s"] * 10,
            "date": [MONDAY + dt.timedelta(days=i) for i in range(10)],
            "a": [9] + [0] * 9,
            "b": [0] * 10,
        }
    )
    evaluation = evaluate(policy, {"school": frame})
    found = trace(evaluation, "school", "s", MONDAY + dt.timedelta(days=1))
    [rule] = found.rules
    assert (rule.return_notice, rule.return_notice_unit) == ("2", "school_days")
    # the minimum ends on Thursday 6 January: the return decided on Wednesday at the
    # earliest, announced 2 school days ahead (Thursday, Friday), back on Monday 10 January
    assert rule.earliest_return == "2022-01-10"
    modes = evaluation.frame("school", only_present=False).sort("date")["mode"].to_list()
    assert modes[6] == "remote"  # Sunday 9 January: still within the notice
    assert modes[7] == "in_person"  # back on the earliest return said
    text = explain(found)
    assert "The return is announced 2 school days ahead." in text


def test_a_unit_kept_by_its_return_condition_is_told_where_the_condition_stands() -> None:
    back = {
        "id": "calm",
        "label": "a under 5 for 3 days in a row",
        "sustained": {
            "days": 3,
            "unit": "calendar_days",
            "condition": {"threshold": {"of": {"metric": "a"}, "op": "<", "value": 5}},
        },
    }
    policy = make_policy(WHEN, timing={"exit_when": back})
    frame = pl.DataFrame(
        {
            "unit": ["s"] * 8,
            "date": [MONDAY + dt.timedelta(days=i) for i in range(8)],
            "a": [9, 9, 1, 1, 1, 1, 1, 1],
            "b": [0] * 8,
        }
    )
    evaluation = evaluate(policy, {"school": frame}, keep=True)  # the nodes' values, traced
    found = trace(evaluation, "school", "s", MONDAY + dt.timedelta(days=3))  # Thursday
    [rule] = found.rules
    assert rule.in_effect
    assert rule.return_condition is not None
    assert (rule.return_condition.met, rule.return_condition.run) == (False, 2)
    text = explain(found)
    assert (
        'It returns when "a under 5 for 3 days in a row"; not yet on this day (2 of 3 so far).'
        in (" ".join(text.split()))
    )
    done = trace(evaluation, "school", "s", MONDAY + dt.timedelta(days=4))  # Friday: 3 days
    assert 'Its return condition, "a under 5 for 3 days in a row", holds on this day.' in " ".join(
        explain(done).split()
    )
    modes = evaluation.frame("school", only_present=False).sort("date")["mode"].to_list()
    assert modes[4] == "remote"
    assert modes[5] == "in_person"  # back the day after the condition holds
