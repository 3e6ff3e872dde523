"""The simulator against real waves (``schoolmode sim validate``; issue 16, item 5): the weekly
sums of the real and simulated series, and the command end to end on a few schools."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.sim.validation import (
    WAVES,
    observed_weekly,
    school_cases,
    simulated_weekly,
)

START = dt.date(2021, 8, 30)


def test_observed_weeks_are_whole_weeks_from_the_start_per_100k() -> None:
    daily = pl.DataFrame(
        {
            "date": [
                START - dt.timedelta(days=1),
                START,
                START + dt.timedelta(days=6),
                START + dt.timedelta(days=7),
                START + dt.timedelta(days=15),
            ],
            "cases": [1000, 3, 4, 5, 6],
        }
    )
    got = observed_weekly(daily, START, 17, per=1000.0)
    # weeks from 30 August and 6 September; the third (13 September) is not whole in 17 days
    assert got["week"].to_list() == [START, START + dt.timedelta(days=7)]
    assert got["observed"].to_list() == pytest.approx([700.0, 500.0])  # (3+4), 5 per 1,000


def test_simulated_weeks_are_summed_per_seed_then_summarised() -> None:
    values = np.array([[1] * 14 + [9], [2] * 14 + [9]], dtype=float)  # 15 days: 2 whole weeks
    got = simulated_weekly(values, START, per=100_000.0)
    assert got["week"].to_list() == [START, START + dt.timedelta(days=7)]
    assert got["mean"].to_list() == pytest.approx([10.5, 10.5])
    assert got["lo"][0] == pytest.approx(7 + 7 * 0.025)
    assert got["hi"][0] == pytest.approx(7 + 7 * 0.975)


def test_sim_validate_compares_the_fall_2021_term_with_the_cps_reports(tmp_path: Path) -> None:
    out = tmp_path / "val"
    args = ["sim", "validate", "--wave", "delta-2021", "--seeds", "2", "--schools", "3"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pl.read_csv(out / "validation.csv", try_parse_dates=True)
    assert table["week"].to_list() == [START + dt.timedelta(days=7 * k) for k in range(3)]
    # the real series: CPS's reports summed over schools in each week, over one denominator
    wave = WAVES["delta-2021"]
    cps = school_cases()
    sums = [
        cps.filter(pl.col("date").is_between(w, w + dt.timedelta(days=6)))["cases"].sum()
        for w in table["week"]
    ]
    assert sums == [137, 126, 150]
    ratio = table["observed"] / pl.Series(sums, dtype=pl.Float64)
    assert ratio.n_unique() == 1  # one denominator for every week
    page = (out / "validation.md").read_text()
    assert wave.title in page
    assert "The comparison is out of sample." in page
    assert '"source": "data"' in page  # immunity from the data
    assert '"source": "zip-weekly-cases"' in page
    assert (out / "delta-2021.png").stat().st_size > 0
    assert (table["lo"] <= table["mean"]).all()
    assert (table["mean"] <= table["hi"]).all()
    assert "week from 2021-08-30: real" in " ".join(result.output.split())
