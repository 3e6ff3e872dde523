"""The public explanation's bands: a share or a large threshold gets its band; a small count
threshold does not (its band would give the count back)."""

from __future__ import annotations

import pytest

from schoolmode.app.explain_public import ABOVE, _conditions, band
from schoolmode.engine.trace import Node


def _threshold(raw: str, limit: str, percent: bool = False) -> Node:
    return Node(kind="threshold", label="cases", met=None, raw=raw, limit=limit, percent=percent)


@pytest.mark.parametrize(
    ("value", "limit", "shown"),
    [
        ("1", "4", "under half the threshold"),
        ("3", "4", "between half the threshold and the threshold"),
        ("4", "4", "from the threshold to one and a half times it"),
        ("7", "4", "from one and a half to twice the threshold"),
        ("8", "4", ABOVE),
        (None, "4", None),
        ("3", "0", None),
    ],
)
def test_band(value: str | None, limit: str, shown: str | None) -> None:
    assert band(value, limit) == shown


def test_a_small_count_threshold_gets_no_band() -> None:
    # threshold 2 cases: "between half the threshold and the threshold" would say exactly 1
    (found,) = _conditions(_threshold("1", "2"), small=10)
    assert found.band is None
    (found,) = _conditions(_threshold("10", "10"), small=10)
    assert found.band is None


def test_a_share_or_a_large_count_threshold_gets_its_band() -> None:
    (share,) = _conditions(_threshold("0.2", "0.3", percent=True), small=10)
    assert share.band == "between half the threshold and the threshold"
    (large,) = _conditions(_threshold("30", "20"), small=10)
    assert large.band == "from one and a half to twice the threshold"
    # a rate (not a whole number) against a small threshold: positivity 4.43 against 10
    (rate,) = _conditions(_threshold("4.43", "10.0"), small=10)
    assert rate.band == "under half the threshold"


def _case_rules(case_id: str, scope: str, unit: str, day: str) -> list[object]:
    import datetime as dt

    from schoolmode.cases.runner import collect, evaluate_case
    from schoolmode.engine.trace import trace
    from schoolmode.policy.loader import Registry

    registry = Registry()
    run = next(r for r in collect(registry) if r.case.id == case_id and r.reading is None)
    evaluation = evaluate_case(run.case, registry.get(run.policy_id).policy, run.settings)
    return list(trace(evaluation, scope, unit, dt.date.fromisoformat(day)).rules)


def test_a_public_rule_says_what_would_have_to_change() -> None:
    import datetime as dt

    from schoolmode.app.explain_public import _rule

    # Cambridge: remote until its own return condition holds; on the 15th it holds
    day = "2020-12-15"
    rules = _case_rules("cambridge-real-dec-2020", "district", "cambridge-if-resume-met", day)
    shown = [_rule(r, 10, dt.date.fromisoformat(day)) for r in rules]  # type: ignore[arg-type]
    remote = next(r for r in shown if r.status == "in effect")
    assert remote.returns_when == "return_condition"
    assert remote.return_label == "one or no metrics exceeded for 7 consecutive days"
    assert remote.return_met is True
    assert remote.earliest_return == dt.date(2020, 12, 16)
    # a pause of a set length: nothing but its end brings the district back
    day = "2021-03-27"
    rules = _case_rules("moa21-real-march-2021-trend-only", "district", "chicago", day)
    assert not [r for r in rules if getattr(r, "in_effect", False)]  # the default reading
    # a rule not met says nothing of a return
    quiet = [_rule(r, 10, dt.date.fromisoformat(day)) for r in rules]  # type: ignore[arg-type]
    assert all(r.returns_when is None for r in quiet if r.status == "not met")
