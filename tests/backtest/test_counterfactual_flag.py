"""A backtest applies a policy outside its term only when asked (issue 15, item 4), and its
report says which it did."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from schoolmode.backtest.run import run_backtest
from schoolmode.backtest.summary import headline
from schoolmode.policy.loader import Registry

POLICY = "cps-ctu-2021-02-06"  # in effect 2021-02-11 to 2021-08-24
START, END = dt.date(2021, 12, 1), dt.date(2021, 12, 20)
# the arithmetic of moa21-exact-15pct-counts: the 14th day triggers the district pause
RISE = [10.00, 10.10, 10.20, 10.30, 10.40, 10.50, 10.60]
RISE += [11.50, 11.615, 11.73, 11.845, 11.96, 12.075, 12.19]


def _district() -> pl.DataFrame:
    days = [START + dt.timedelta(days=i) for i in range((END - START).days + 1)]
    values = [*RISE, *[9.0] * (len(days) - len(RISE))]
    return pl.DataFrame(
        {"unit": ["chicago"] * len(days), "date": days, "positivity_7d_pct": values},
        schema={"unit": pl.String, "date": pl.Date, "positivity_7d_pct": pl.Float64},
    )


def _modes(registry: Registry, **kwargs: bool) -> list[str]:
    policy = registry.get(POLICY).policy
    backtest = run_backtest([policy], {"district": _district()}, START, END, **kwargs)
    frame = backtest.runs[0].results["district"].sort("date")
    return frame["mode"].cast(pl.String).to_list()


def test_outside_its_term_a_policy_is_not_in_force_unless_asked(registry: Registry) -> None:
    assert set(_modes(registry)) == {"not_in_force"}
    asked = _modes(registry, apply_over_whole_period=True)
    assert asked[14:20] == ["pause"] * 6  # from 15 December, the day after the trigger
    assert asked[:14] == ["in_person"] * 14


def test_the_report_says_whether_it_applied_the_policies_outside_their_terms(
    registry: Registry, tmp_path: Path
) -> None:
    from schoolmode.backtest.report import write_report

    policy = registry.get(POLICY).policy
    for asked, words in (
        (False, "Each policy applies only within its own term"),
        (True, "As asked (`--counterfactual`), each policy is applied over the whole period"),
    ):
        backtest = run_backtest(
            [policy], {"district": _district()}, START, END, apply_over_whole_period=asked
        )
        assert backtest.counterfactual is asked
        files = write_report(backtest, tmp_path / str(asked))
        assert words in files["report.md"].read_text(encoding="utf-8")
        assert headline(backtest).height == 1
