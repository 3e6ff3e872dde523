"""``Evaluation.frame(days=...)`` gives the rows of the whole frame filtered to those days, on
every shipped worked case (a day's decision builds only its days)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from schoolmode.cases.runner import collect, evaluate_case
from schoolmode.policy.cases import EngineCase
from schoolmode.policy.loader import Registry


def test_a_frame_of_some_days_is_the_whole_frame_filtered(registry: Registry) -> None:
    checked = 0
    for run in collect(registry):
        if not isinstance(run.case, EngineCase):
            continue
        evaluation = evaluate_case(run.case, registry.get(run.policy_id).policy, run.settings)
        start = evaluation.axis.start
        end = evaluation.axis.date(evaluation.axis.days - 1)
        spans = [
            (start, end),
            (end, end),
            (start, start),
            (start + dt.timedelta(days=1), end - dt.timedelta(days=1)),
            (start - dt.timedelta(days=30), start + dt.timedelta(days=2)),
            (end + dt.timedelta(days=1), end + dt.timedelta(days=9)),
        ]
        for scope in evaluation.scopes:
            for only_present in (True, False):
                whole = evaluation.frame(scope, only_present=only_present)
                for first, last in spans:
                    part = evaluation.frame(scope, only_present=only_present, days=(first, last))
                    expected = whole.filter(pl.col("date").is_between(first, last))
                    assert part.equals(expected), (run.test_id, scope, first, last)
                    checked += 1
    assert checked > 300
