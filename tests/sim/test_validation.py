"""The simulator against real waves (``schoolmode sim validate``; issue 16, item 5): the weekly
sums of the real and simulated series, and the command end to end on a few schools."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from schoolmode.app.sim_validation import HISTORY_DAYS, case_history, initial_infections
from schoolmode.cli.app import app
from schoolmode.metrics.community import CHICAGO_POPULATION_2019
from schoolmode.pathogen import load_pathogen
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.sim.immunity_data import variant_share
from schoolmode.sim.scenario import load_scenario
from schoolmode.sim.seeding import still_infected
from schoolmode.sim.validation import (
    FIT_ASCERTAINMENT,
    FIT_IMMUNITY_ASCERTAINMENT,
    FIT_RANGE,
    FIT_STEPS,
    MASKED,
    WAVES,
    city_cases,
    fit,
    fit_beta,
    load_fit,
    observed_weekly,
    protection,
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
    scenario = load_scenario(out / "scenario.yaml")  # the run's scenario, to rerun it
    assert scenario.seed_state == "staged"
    assert scenario.masking == MASKED  # universal masking in school (fall 2021)
    history = case_history(wave)
    assert scenario.seed_history == history
    assert history[0] == float(
        city_cases().filter(pl.col("date") == START - dt.timedelta(days=1))["cases"].item()
    )
    assert (out / "delta-2021.png").stat().st_size > 0
    assert (table["lo"] <= table["mean"]).all()
    assert (table["mean"] <= table["hi"]).all()
    assert "week from 2021-08-30: real" in " ".join(result.output.split())
    # where the infections came from: the seeds (exactly the initial infections), the
    # importations and the rest, which add up
    said = " ".join(result.output.split())
    found = re.search(
        r"([\d,.]+) infections: ([\d,.]+) seeded on day 0 \(\d+%\), ([\d,.]+) imported "
        r"\(\d+%\), ([\d,.]+) transmitted among the agents",
        said,
    )
    assert found is not None, said
    total, seeded, imported, transmitted = (float(g.replace(",", "")) for g in found.groups())
    assert seeded == scenario.initial_infections
    assert seeded + imported + transmitted == pytest.approx(total, abs=1.5)
    assert "seeded on day 0" in page
    fitted = CliRunner().invoke(app, [*args, "--fit-weeks", "1", "--out", str(tmp_path / "fit")])
    assert fitted.exit_code == 0, fitted.output
    assert "fitted to the first 1 week(s): beta" in fitted.output
    assert ", ascertainment " in fitted.output
    assert "Fitted: beta and the ascertainment" in (tmp_path / "fit" / "validation.md").read_text()
    refit = load_scenario(tmp_path / "fit" / "scenario.yaml")
    assert refit.importation.ascertainment in FIT_ASCERTAINMENT
    assert refit.immunity.ascertainment in FIT_IMMUNITY_ASCERTAINMENT
    assert refit.immunity.protection == wave.prior_protection  # no Delta counted apart
    assert refit.vaccination.efficacy == wave.vaccine_efficacy
    assert refit.importation.outside_only
    assert refit.beta != "auto"
    saved = load_fit(tmp_path / "fit" / "fit.json")
    assert (saved.wave, saved.weeks, saved.ascertainment, saved.immunity_ascertainment) == (
        "delta-2021",
        1,
        refit.importation.ascertainment,
        refit.immunity.ascertainment,
    )
    assert saved.factor * saved.start_beta == pytest.approx(refit.beta)
    assert FIT_RANGE[0] <= saved.factor <= FIT_RANGE[1]
    # the saved fit predicts a wave with its factor of that wave's beta from R0 (here the same)
    again = tmp_path / "again"
    from_fit = ["--from-fit", str(tmp_path / "fit" / "fit.json"), "--out", str(again)]
    predicted = CliRunner().invoke(app, [*args, *from_fit])
    assert predicted.exit_code == 0, predicted.output
    assert "from the fit to delta-2021" in predicted.output
    rerun = load_scenario(again / "scenario.yaml")
    assert rerun.beta == pytest.approx(refit.beta)
    assert rerun.immunity.ascertainment == refit.immunity.ascertainment
    assert rerun.initial_infections == refit.initial_infections
    assert "Every week is out of sample." in (again / "validation.md").read_text()
    both = CliRunner().invoke(app, [*args, *from_fit, "--fit-weeks", "1"])
    assert both.exit_code != 0
    assert "give one or the other" in " ".join(both.output.split())
    too_many = CliRunner().invoke(app, [*args, "--fit-weeks", "4", "--out", str(tmp_path / "x")])
    assert too_many.exit_code != 0
    assert "--fit-weeks 4: the wave has 3 whole weeks" in " ".join(too_many.output.split())


def _weeks(real: float, simulated: float) -> pl.DataFrame:
    return pl.DataFrame({"observed": [real], "mean": [simulated]})


def test_fit_beta_finds_the_beta_that_gives_the_real_cases() -> None:
    tried: list[tuple[float, int]] = []

    def simulate(beta: float, days: int) -> pl.DataFrame:
        tried.append((beta, days))
        return _weeks(100.0, 400.0 * beta)  # the cases rise with beta: 100 at 0.25

    got = fit_beta(simulate, start_beta=0.5, weeks=2)
    assert got.beta == pytest.approx(0.25, rel=0.035)
    assert got.factor == pytest.approx(0.5, rel=0.035)
    assert not got.edge
    assert len(tried) == FIT_STEPS
    assert {days for _, days in tried} == {14}  # only the fitted weeks are simulated


def test_a_fit_that_no_beta_reaches_says_so() -> None:
    got = fit_beta(lambda beta, days: _weeks(10.0, 50.0 + beta), start_beta=0.5, weeks=1)
    assert got.edge
    assert got.beta == pytest.approx(0.5 * FIT_RANGE[0], rel=0.03)


def test_fit_picks_the_ascertainments_whose_weeks_are_nearest_week_by_week() -> None:
    """Two weeks, real 100 then 300: at each pair of ascertainments beta matches the total
    (400); only at 0.25 (recent cases) and 0.4 (cumulative) is the split between the weeks
    right."""
    tried: list[tuple[float, float]] = []
    split = {(0.25, 0.4): 0.25}

    def simulate(beta: float, share: float, prior: float, days: int) -> pl.DataFrame:
        tried.append((share, prior))
        total = 1600.0 * beta
        first = split.get((share, prior), 0.6) * total
        return pl.DataFrame({"observed": [100.0, 300.0], "mean": [first, total - first]})

    got = fit(simulate, start_beta=0.5, weeks=2)
    assert (got.ascertainment, got.immunity_ascertainment) == (0.25, 0.4)
    assert not got.ascertainment_edge
    assert not got.immunity_edge
    assert got.beta == pytest.approx(0.25, rel=0.035)
    assert got.error < 0.05
    grid = len(FIT_ASCERTAINMENT) * len(FIT_IMMUNITY_ASCERTAINMENT)
    assert got.trials == len(tried) == FIT_STEPS * grid
    assert len(set(tried)) == grid
    # the nearest at the edge of a grid: said
    split = {(FIT_ASCERTAINMENT[-1], FIT_IMMUNITY_ASCERTAINMENT[0]): 0.25}
    edge = fit(simulate, start_beta=0.5, weeks=2)
    assert edge.ascertainment_edge
    assert edge.immunity_edge


def test_the_initial_infections_are_those_still_under_way() -> None:
    """Flat cases of 0.001 per resident a day over ascertainment 0.5: 0.002 infections per
    agent a day, of which those still under way are the daily infections times the mean
    course (``seeding.still_infected`` sums to it)."""
    pathogen = load_pathogen("covid-delta")
    history = [CHICAGO_POPULATION_2019 / 1000] * HISTORY_DAYS  # 0.001 per resident a day
    got = initial_infections(history, 100_000, 0.5, pathogen, 0.4)
    course = float(still_infected(pathogen, 0.4, HISTORY_DAYS).sum())
    assert got == round(100_000 * 0.002 * course)
    assert initial_infections([0.0] * HISTORY_DAYS, 100, 0.5, pathogen, 0.4) == 1


def test_a_bad_fit_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "fit.json"
    path.write_text(
        '{"wave": "delta-2021", "weeks": 2, "factor": -1, "ascertainment": 0.4, '
        '"immunity_ascertainment": 0.25, "beta": 0.1, "start_beta": 0.4}'
    )
    with pytest.raises(SchoolmodeError, match=r"fit\.json: field factor: Input should be greater"):
        load_fit(path)
    path.write_text("{")
    with pytest.raises(SchoolmodeError, match=r"fit\.json: not JSON"):
        load_fit(path)
    with pytest.raises(SchoolmodeError, match="no such file"):
        load_fit(tmp_path / "none.json")


def test_omicron_prior_protection_mixes_omicron_and_earlier_infections() -> None:
    """The prior infections of Omicron's own wave (reported from 19 December 2021) protect
    0.94, the earlier ones 0.56: the mean weighted by the city's reported cases."""
    wave = WAVES["omicron-2022"]
    assert wave.variant_since is not None
    share = variant_share(wave.start, wave.variant_since)
    assert 0.1 < share < 0.5  # the December-January wave against everything since 2020
    assert protection(wave) == pytest.approx(share * 0.94 + (1 - share) * 0.56)
    assert variant_share(wave.start, wave.start) == 0.0
    assert variant_share(wave.start, dt.date(2019, 1, 1)) == 1.0
    assert variant_share(wave.start, dt.date(2021, 12, 1)) > share
    assert protection(WAVES["delta-2021"]) == 0.92  # nothing counted apart
