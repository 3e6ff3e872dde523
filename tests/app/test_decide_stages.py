"""A long use case tells its stages as they begin (issue 17, item 5: `schoolmode decide`
printed nothing for minutes): the face shows each as a spinner with the time elapsed."""

from __future__ import annotations

import datetime as dt

from schoolmode.app.context import Context
from schoolmode.app.decisions import DecideRequest, decide

DAY = dt.date(2021, 3, 26)


def test_decide_tells_each_stage_in_order(history_ctx: Context) -> None:
    told: list[str] = []
    result = decide(history_ctx, DecideRequest(first=DAY), told.append)
    assert result.decisions > 1
    assert told[0] == "reading the policies"
    assert told[1].startswith("reading the metrics from ")
    assert told[1].endswith(f" to {DAY} from the store")
    assert told[2] == f"deciding 1 day under {result.policy_id}"
    assert told[3] == f"storing {result.decisions:,} decisions with their audit record"
    assert len(told) == 4


def test_decide_over_days_names_how_many(history_ctx: Context) -> None:
    told: list[str] = []
    last = DAY + dt.timedelta(days=2)
    decide(history_ctx, DecideRequest(first=DAY, last=last), told.append)
    assert told[1].endswith(f" to {last} from the store")
    assert told[2].startswith("deciding 3 days under ")


def test_decide_without_a_listener_tells_no_one(history_ctx: Context) -> None:
    assert decide(history_ctx, DecideRequest(first=DAY)).decisions > 1
