"""Importation only from outside the simulated population (issue 16, item 5): the infections
the agents give each other are simulated, and CDPH's cases, which count them too, are not
imported again for them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from schoolmode.app.sim_validation import wave_scenario
from schoolmode.pathogen import load_pathogen
from schoolmode.policy.loader import Registry
from schoolmode.sim.community import importation_rates, outside_shares
from schoolmode.sim.compare import load_population
from schoolmode.sim.loop import run_policy
from schoolmode.sim.network import Population
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.state import NEVER
from schoolmode.sim.validation import WAVES
from tests.sim.test_community import hand_made_cases
from tests.synth.test_district import PROFILES


def test_the_rate_is_the_zips_times_its_residents_not_simulated() -> None:
    cases = hand_made_cases(["60601", "60602", "60603"], [[70, 140], [700, 400], [210, 2100]])
    zips = ["", "60601", "60602", "60603", "60699"]
    # residents 1000, 2000, 3000; simulated 250 of 60601, all 2000 of 60602, none of 60603,
    # 500 with no ZIP and 100 in a ZIP without rows
    simulated = np.array([500, 250, 2000, 0, 100])
    shares = outside_shares(cases, zips, simulated)
    city = 1 - 2850 / 6000
    assert shares.tolist() == pytest.approx([city, 0.75, 0.0, 1.0, city])
    whole = importation_rates(cases, zips, dt.date(2022, 1, 14), 5, 0.5)
    outside = importation_rates(cases, zips, dt.date(2022, 1, 14), 5, 0.5, simulated=simulated)
    assert outside == pytest.approx(whole * shares[:, None])
    assert outside[2].tolist() == [0.0] * 5  # every resident simulated: nothing from outside
    with pytest.raises(ValueError, match="3 counts for 5 ZIP codes"):
        outside_shares(cases, zips, simulated[:3])


def infected_by_importation(population: Population, residents: float, outside_only: bool) -> int:
    """Agents infected in 13 days with transmission off (beta 1e-9), no seeds and nobody
    vaccinated: all by importation, 1% a day per resident, each ZIP's residents ``residents`` times its agents."""
    assert population.agent_zip is not None
    agents = np.bincount(population.agent_zip, minlength=len(population.zip_codes))
    rows = [
        {
            "zip": z,
            "week_start": week,
            "cases": 0.01 * 7 * n * residents,
            "population": n * residents,
        }
        for week in (dt.date(2022, 1, 9), dt.date(2022, 1, 16))
        for z, n in zip(population.zip_codes, agents.tolist(), strict=True)
    ]
    scenario = Scenario(
        days=13,
        start=dt.date(2022, 1, 10),
        beta=1e-9,
        initial_infections=0,
        importation={
            "source": "zip-weekly-cases",
            "ascertainment": 1.0,
            "outside_only": outside_only,
        },
        vaccination={"initial_share": {}},
        seeds=1,
    )
    result = run_policy(
        population,
        load_pathogen("covid-omicron"),
        scenario,
        None,
        0,
        Registry(),
        zip_cases=pl.DataFrame(rows),
    )
    assert result.agents is not None
    return int((result.agents["t_infected"] != NEVER).sum())


def test_agents_who_are_all_the_residents_import_nothing() -> None:
    """Fails if the simulated agents' own infections are imported as well: with the agents all
    of their ZIPs' residents, every infection CDPH counts is one the simulation makes."""
    population = load_population(str(PROFILES), 6)
    n = population.network.n
    assert infected_by_importation(population, 1.0, outside_only=True) == 0
    half = infected_by_importation(population, 2.0, outside_only=True)
    whole = infected_by_importation(population, 2.0, outside_only=False)
    # the same random numbers: every agent infected at half the rate is infected at the whole
    # one; over 13 days at 1% a day (less by each agent's susceptibility) about half as many
    assert 0 < half < whole
    assert whole > 0.05 * n
    assert half / whole == pytest.approx(0.53, abs=0.08)


def test_the_waves_import_only_from_outside() -> None:
    for wave in WAVES.values():
        scenario = wave_scenario(wave, 1, [])
        assert scenario.importation.outside_only
        assert (
            wave_scenario(wave, 1, ["importation.outside_only=false"]).importation.outside_only
            is False
        )
