"""The backtest use cases, called directly on the fixture history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from schoolmode.app.backtests import BacktestRequest, SweepRequest, backtest, sweep
from schoolmode.app.context import Context
from schoolmode.app.errors import UseCaseError
from schoolmode.policy.errors import UnknownPolicyError

POLICIES = ["cps-ctu-2021-02-06", "cdc-k12-2021-02-12"]
START, END = dt.date(2021, 3, 1), dt.date(2021, 3, 31)


def test_backtest_writes_the_report(history_ctx: Context, tmp_path: Path) -> None:
    stages: list[str] = []
    req = BacktestRequest(policy_ids=POLICIES, start=START, end=END, out=tmp_path / "bt")
    result = backtest(history_ctx, req, stages.append)
    assert stages[0] == "reading metrics from the store"
    assert len(stages) == 3
    assert result.headline.height == len(POLICIES)
    assert result.files["report.md"].exists()
    assert result.files["report.html"].exists()
    text = result.files["report.md"].read_text(encoding="utf-8")
    assert "School figures use the CPS school profiles" in text, "no synthetic district here"


def test_sweep_serially(history_ctx: Context, tmp_path: Path) -> None:
    told: list[tuple[int, str]] = []
    req = SweepRequest(
        policy_ids=["cps-ctu-2021-02-06"],
        param="trend_rising_days",
        values=["5", "7"],
        start=START,
        end=END,
        out=tmp_path / "sw",
        workers=0,
    )
    result = sweep(history_ctx, req, lambda n, where: told.append((n, where)))
    assert told == [(2, "serial")]
    assert result.table.height == 2
    assert set(result.outcomes) <= set(result.table.columns)
    assert result.files["sweep.csv"].exists()


def test_bad_requests(ctx: Context, tmp_path: Path) -> None:
    with pytest.raises(UseCaseError, match="is before"):
        backtest(ctx, BacktestRequest(policy_ids=POLICIES, start=END, end=START, out=tmp_path))
    with pytest.raises(UnknownPolicyError):
        backtest(ctx, BacktestRequest(policy_ids=["nope"], start=START, end=END, out=tmp_path))
    with pytest.raises(UseCaseError):  # an empty store: no history to replay
        backtest(ctx, BacktestRequest(policy_ids=POLICIES, start=START, end=END, out=tmp_path))
    with pytest.raises(UseCaseError, match="names no policy"):
        sweep(
            ctx,
            SweepRequest(
                policy_ids=[""], param="x", values=["1"], start=START, end=END, out=tmp_path
            ),
        )
