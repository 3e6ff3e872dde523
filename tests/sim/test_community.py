"""Community by ZIP, importation from weekly cases by ZIP, ``beta: auto`` and prior immunity."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from schoolmode.importers.cps import SchoolProfiles
from schoolmode.pathogen import load_pathogen
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry
from schoolmode.settings import AppSettings
from schoolmode.sim import beta as beta_module
from schoolmode.sim.beta import auto_beta, cache_file
from schoolmode.sim.calibrate import beta_for_r0, first_generation_beta
from schoolmode.sim.community import (
    importation_rates,
    load_zip_cases,
    load_zip_population,
    zip_cases_path,
    zip_community,
)
from schoolmode.sim.compare import load_population
from schoolmode.sim.loop import run_policy
from schoolmode.sim.network import NetworkConfig, Population, from_district
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.state import NEVER
from schoolmode.synth.district import synth_district
from tests.conftest import FIXTURE_DATA, ROOT
from tests.sim.test_sim import random_graph
from tests.synth.test_district import PROFILES


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    return synth_district(SchoolProfiles().parse(PROFILES).frame).frames


def community_pairs(population: Population) -> tuple[np.ndarray, np.ndarray]:
    net = population.network
    ptr = net.indptr[net.layers.index("community")]
    src = np.repeat(np.arange(net.n), np.diff(ptr))
    return src, net.indices[ptr[0] : ptr[-1]]


@pytest.mark.parametrize("share", [0.8, 0.3])
def test_the_share_of_community_contacts_within_zip_is_the_configured_share(
    frames: dict[str, pl.DataFrame], share: float
) -> None:
    population = from_district(frames, NetworkConfig(community_within_zip_share=share))
    assert population.agent_zip is not None
    assert len(population.zip_codes) >= 5
    src, dst = community_pairs(population)
    within = float((population.agent_zip[src] == population.agent_zip[dst]).mean())
    assert abs(within - share) < 0.02
    # children draw fewer community contacts than adults (2 and 4 by default)
    child = population.agents["age"] < 18
    degree = np.bincount(src, minlength=population.network.n)
    assert degree[child].mean() < degree[~child].mean() - 1.0


def test_staff_live_in_their_school_zip_and_households_in_theirs(
    frames: dict[str, pl.DataFrame],
) -> None:
    population = from_district(frames)
    assert population.agent_zip is not None
    codes = np.asarray(population.zip_codes)[population.agent_zip]
    assert "" not in set(codes)
    hh = frames["household"].sort("household_id")["zip"].to_numpy()
    home = population.agents["household"]
    has = home >= 0
    assert (codes[has] == hh[home[has]]).all()
    # a school's staff share the ZIP of its students
    school = population.agents["school"]
    for s in np.unique(school[school >= 0]):
        assert np.unique(codes[school == s]).size == 1


def test_cross_zip_contacts_go_to_zips_in_proportion_to_their_weight() -> None:
    agent_zip = np.repeat(np.arange(3), 2000)
    child = np.zeros(agent_zip.size, dtype=bool)
    weights = np.array([[1.0, 0.0, 3.0], [1.0, 0.0, 3.0]])
    src, dst = zip_community(
        agent_zip, np.full(agent_zip.size, 5), child, weights, 0.5, np.random.default_rng(3)
    )
    assert np.bincount(src).tolist() == [5] * agent_zip.size
    own, other = agent_zip[src], agent_zip[dst]
    assert abs((own == other).mean() - 0.5) < 0.01
    from_1 = other[(own == 1) & (other != 1)]
    assert abs((from_1 == 2).mean() - 0.75) < 0.02  # 3 : 1 between ZIPs 2 and 0
    assert not ((own == 0) & (other == 1)).any()  # ZIP 1 weighs nothing: no cross contact
    assert not ((own == 2) & (other == 1)).any()


def test_real_population_by_zip_and_age() -> None:
    population = load_zip_population(
        ROOT / "tests/fixtures/shared/data/chicago-population/Chicago_Population_Counts.csv"
    )
    assert population.height == 59
    row = population.filter(pl.col("zip") == "60601").row(0, named=True)
    # Chicago_Population_Counts.csv, "Zip Code,2019,60601,15083,880,...,14203" (the latest year)
    assert row == {"zip": "60601", "children": 880, "adults": 14203, "total": 15083}


def hand_made_cases(zips: list[str], weekly: list[list[float | None]]) -> pl.DataFrame:
    rows = []
    for week, start in enumerate((dt.date(2022, 1, 9), dt.date(2022, 1, 16))):
        for z, code in enumerate(zips):
            rows.append(
                {
                    "zip": code,
                    "week_start": start,
                    "cases": weekly[z][week],
                    "population": 1000.0 * (z + 1),
                }
            )
    return pl.DataFrame(rows)


def test_importation_rates_follow_the_weekly_cases_by_zip() -> None:
    cases = hand_made_cases(["60601", "60602", "60603"], [[70, 140], [700, 400], [None, 2100]])
    rates = importation_rates(
        cases, ["", "60601", "60603", "60602", "60699"], dt.date(2022, 1, 14), 5, 0.5, 2.0
    )
    # 2022-01-14 and -15 are in the week of 9 January, 16-18 in the week of 16 January
    factor = 2.0 / 7 / 0.5
    assert rates[1].tolist() == pytest.approx([70 / 1000 * factor] * 2 + [140 / 1000 * factor] * 3)
    assert rates[3, 0] == pytest.approx(700 / 2000 * factor)
    assert rates[2, 0] == 0.0  # suppressed: none counted
    assert rates[2, 4] == pytest.approx(2100 / 3000 * factor)
    city = [(70 + 700) / 6000 * factor, (140 + 400 + 2100) / 6000 * factor]
    for unknown in (0, 4):  # the unknown ZIP and a ZIP without rows: all ZIPs together
        assert rates[unknown, [0, 4]].tolist() == pytest.approx(city)
    # ranking by case rate in the second week: 60603 > 60602 > 60601
    assert rates[2, 3] > rates[3, 3] > rates[1, 3]
    with pytest.raises(SchoolmodeError, match=r"cover weeks 2022-01-09 \.\. 2022-01-16"):
        importation_rates(cases, ["60601"], dt.date(2022, 1, 20), 10, 0.5)


def test_importation_in_the_loop_follows_the_case_rate_ranking() -> None:
    population = load_population(str(PROFILES), 6)
    assert population.agent_zip is not None
    zips = population.zip_codes
    # daily rates 0.2%, 0.6%, 1.8%, 5.4% per person (ascertainment 1) in a shuffled ZIP order
    order = [2, 0, 3, 1][: len(zips)]
    daily = [0.002 * 3**k for k in order]
    weekly = [[r * 7 * 1000 * (z + 1)] * 2 for z, r in enumerate(daily)]
    cases = hand_made_cases(zips, weekly)  # type: ignore[arg-type]
    scenario = Scenario(
        days=13,
        start=dt.date(2022, 1, 10),
        beta=1e-9,
        initial_infections=0,
        importation={"source": "zip-weekly-cases", "ascertainment": 1.0},
        seeds=1,
    )
    result = run_policy(
        population, load_pathogen("covid-omicron"), scenario, None, 0, Registry(), zip_cases=cases
    )
    assert result.agents is not None
    infected = result.agents["t_infected"] != NEVER
    per_capita = np.bincount(population.agent_zip[infected], minlength=len(zips)) / np.bincount(
        population.agent_zip, minlength=len(zips)
    )
    assert np.argsort(per_capita).tolist() == np.argsort(daily).tolist()
    assert infected.sum() > 100


def test_weekly_factors_scale_the_importation_week_by_week() -> None:
    """Flat importation with ``weekly_factors`` [1, 0, 3]: none in the second week, three
    times the first week's in the third and later weeks (the last factor repeated), each
    week's count within 5 sd of its binomial law; transmission off."""
    population = load_population(str(PROFILES), 6)
    rate = 1000.0  # 1% a day, times each agent's susceptibility
    scenario = Scenario(
        days=28,
        start=dt.date(2022, 1, 10),
        beta=1e-9,
        initial_infections=0,
        importation_per_100k_per_day=rate,
        importation={"weekly_factors": [1.0, 0.0, 3.0]},
        vaccination={"initial_share": {}},  # susceptibility: the pathogen's by age only
        seeds=1,
    )
    result = run_policy(population, load_pathogen("covid-omicron"), scenario, None, 0, Registry())
    assert result.agents is not None
    t_inf, sus = result.agents["t_infected"], result.agents["susceptibility"].astype(float)
    weekly = np.bincount(t_inf[t_inf != NEVER] // 7, minlength=4)[:4]
    for week, factor in enumerate([1.0, 0.0, 3.0, 3.0]):
        left = t_inf >= 7 * week  # still susceptible at the week's start
        q = 1 - (1 - rate / 1e5 * factor * sus[left]) ** 7
        mean, sd = q.sum(), np.sqrt((q * (1 - q)).sum())
        assert abs(weekly[week] - mean) <= 5 * sd + 1e-9, (week, weekly[week], mean)
    assert weekly[1] == 0
    assert weekly[2] > 2 * weekly[0]
    flat = run_policy(
        population,
        load_pathogen("covid-omicron"),
        scenario.model_copy(
            update={"importation": scenario.importation.model_copy(update={"weekly_factors": []})}
        ),
        None,
        0,
        Registry(),
    )
    assert flat.agents is not None
    flat_weekly = np.bincount(flat.agents["t_infected"][flat.agents["t_infected"] != NEVER] // 7)
    assert flat_weekly[1] > 0  # the factors, not the population, emptied the second week


def test_weekly_factors_must_be_finite_and_not_negative() -> None:
    with pytest.raises(
        ValueError, match=r"importation.weekly_factors\n.*every value must be a finite number"
    ):
        Scenario(importation={"weekly_factors": [1.0, -0.5]})
    assert Scenario().importation.factor(100) == 1.0
    factors = Scenario(importation={"weekly_factors": [2.0, 0.5]}).importation
    assert [factors.factor(d) for d in (0, 6, 7, 13, 14, 70)] == [2.0, 2.0, 0.5, 0.5, 0.5, 0.5]


def test_cdph_cases_by_zip_are_read_with_the_importer_and_give_daily_rates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the committed extract of the CDPH file (the data folder's layout)
    monkeypatch.setenv("SCHOOLMODE_DATA", str(FIXTURE_DATA))
    cases = load_zip_cases(zip_cases_path(AppSettings.load().data_dir))
    feb = cases.filter(pl.col("week_start") == dt.date(2022, 2, 6)).row(0, named=True)
    assert (feb["zip"], feb["cases"], feb["population"]) == ("60601", 30.0, 14675.0)
    # Saturday 2022-02-12 is in the week of 30 cases, Sunday 2022-02-13 in the week of 18
    rates = importation_rates(cases, ["60601"], dt.date(2022, 2, 12), 2, 0.25)
    expected = [30 / 7 / 14675 / 0.25, 18 / 7 / 14675 / 0.25]
    assert rates[0].tolist() == pytest.approx(expected, rel=1e-12)


def test_auto_beta_is_calibrated_once_and_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(beta_module, "MIN_AGENTS", 0)
    monkeypatch.setattr(beta_module, "_memory", {})
    graph = random_graph(20_000, 10.0, 5)
    pathogen = load_pathogen("covid-delta")
    beta, cached = auto_beta(graph, pathogen, cache_dir=tmp_path)
    assert not cached
    assert beta == beta_for_r0(graph, pathogen)
    assert json.loads(cache_file(tmp_path).read_text()) == {next(iter(beta_module._memory)): beta}
    assert auto_beta(graph, pathogen, cache_dir=tmp_path) == (beta, True)
    monkeypatch.setattr(beta_module, "_memory", {})  # a new process: from the disk
    assert auto_beta(graph, pathogen, cache_dir=tmp_path) == (beta, True)
    other, cached = auto_beta(graph, pathogen, {"community": 0.5}, cache_dir=tmp_path)
    assert not cached
    assert other > beta  # a lighter layer needs a larger hazard for the same R0


def test_auto_beta_on_a_small_population_is_the_first_generation_beta() -> None:
    population = load_population(str(PROFILES), 4)
    pathogen = load_pathogen("covid-omicron")
    scenario = Scenario(days=5, seeds=1)
    assert scenario.beta == "auto"
    result = run_policy(population, pathogen, scenario, None, 0, Registry())
    assert result.beta == first_generation_beta(
        population,
        pathogen,
        stay_home_share=scenario.symptomatic.stay_home_share,
        onset_day_fraction=scenario.onset_day_fraction,
    )


def test_prior_immunity_is_applied() -> None:
    population = load_population(str(PROFILES), 6)
    pathogen = load_pathogen("covid-omicron")
    base = Scenario(days=30, beta=0.15, initial_infections=40, seeds=1)
    open_ = run_policy(population, pathogen, base, None, 0, Registry())
    everyone = dict.fromkeys(("student", "classroom_teacher", "other_staff"), 1.0)
    immune = Scenario.model_validate(
        {
            **base.model_dump(),
            "immunity": {
                "prior_infection_share": {**everyone, "household_adult": 1.0},
                "protection": 1.0,
            },
        }
    )
    none = run_policy(population, pathogen, immune, None, 0, Registry())
    half = Scenario.model_validate(
        {**base.model_dump(), "immunity": {"prior_infection_share": everyone, "protection": 0.5}}
    )
    partly = run_policy(population, pathogen, half, None, 0, Registry())
    assert none.outcomes["infections"] == 40  # only the seeds
    assert 40 < partly.outcomes["infections"] < open_.outcomes["infections"]
