"""Initial infections spread over the stages of infection (``seed_state: staged``,
``sim.seeding``): the stage shares follow the pathogen's durations and the weights of the days
before, and exactly ``initial_infections`` agents are seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from schoolmode.pathogen import load_pathogen
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.sim.loop import run_policy
from schoolmode.sim.model import Epidemic, seed_agents
from schoolmode.sim.network import Population, build, from_sociopatterns
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.seeding import (
    STAGES,
    _pmf,
    courses,
    infected_now,
    initial_agents,
    seed,
    stage_days,
    still_infected,
)
from schoolmode.sim.state import NEVER, new_agents
from tests.sim.test_any_population import made_up_school

PATHOGEN = load_pathogen("covid-omicron")
SYMPTOMATIC_SHARE = 0.37  # covid-omicron, ages 20-59


def adults(n: int) -> Population:
    """``n`` agents aged 30 with no contacts (a seeding needs no network)."""
    network = build(
        n, {"community": (np.zeros(0, np.int64), np.zeros(0, np.int64))}, {"community": 1.0}
    )
    agents = new_agents(n)
    agents["age"] = 30
    return Population(agents, network, [f"P{i}" for i in range(n)], [], [])


def seeded(population: Population, count: int, run_seed: int, **extra: object) -> Epidemic:
    scenario = Scenario.model_validate(
        {"initial_infections": count, "seed_state": "staged", **extra}
    )
    epi = Epidemic(population, PATHOGEN, run_seed)
    first = initial_agents(epi, scenario, run_seed)
    assert first.size == count
    assert np.unique(first).size == count
    seed(epi, first, 0, scenario)
    return epi


def stage_shares(epi: Epidemic) -> dict[str, float]:
    """The seeded agents' stages on day 0."""
    who = np.flatnonzero(epi.t_infected == 0)
    inf, sym, rec = epi.t_infectious[who], epi.t_symptoms[who], epi.t_recovered[who]
    assert (rec > 0).all()  # nobody seeded after the end of the course
    stage = {
        "latent": inf > 0,
        "presymptomatic": (inf <= 0) & (sym != NEVER) & (sym > 0),
        "symptomatic": (sym != NEVER) & (sym <= 0),
        "asymptomatic": (inf <= 0) & (sym == NEVER),
    }
    assert sum(int(s.sum()) for s in stage.values()) == who.size  # one stage each
    return {name: float(s.mean()) for name, s in stage.items()}


@pytest.fixture(scope="module")
def crowd() -> Population:
    return adults(160_000)


def test_with_flat_weights_the_stage_shares_follow_the_durations(crowd: Population) -> None:
    days = stage_days(PATHOGEN, SYMPTOMATIC_SHARE)
    expected = {name: days[name] / sum(days.values()) for name in STAGES}
    runs = [stage_shares(seeded(crowd, 20_000, run_seed)) for run_seed in (1, 2)]
    for name in STAGES:  # 40,000 seeds: a share's standard error is at most 0.0025
        mean = (runs[0][name] + runs[1][name]) / 2
        assert mean == pytest.approx(expected[name], abs=0.01), name
    assert expected["latent"] < 0.3 < expected["symptomatic"] + expected["asymptomatic"]


def test_a_longer_course_is_seeded_in_proportion_to_its_length(crowd: Population) -> None:
    """Infections still under way are length-biased: with flat weights the seeds' mean course
    is E[T^2] / E[T], not E[T] (about 0.7 days more for covid-omicron)."""
    s = still_infected(PATHOGEN, SYMPTOMATIC_SHARE, 200)
    t = np.arange(1, 201)
    pmf = np.concatenate([s[:-1] - s[1:], [s[-1]]])  # P(T = t) for t = 1 .. 200
    mean, biased = float((t * pmf).sum()), float((t * t * pmf).sum() / (t * pmf).sum())
    assert biased - mean > 0.4
    epi = seeded(crowd, 20_000, 6)
    who = np.flatnonzero(epi.t_infected == 0)
    length = courses(epi.agents, who, PATHOGEN, 6)
    assert float(length.mean()) == pytest.approx(biased, abs=0.1)  # standard error 0.02


def test_the_days_before_weigh_the_infections_by_their_age(crowd: Population) -> None:
    """A rising epidemic (infections doubling every two days) leaves more seeds latent: the
    latent share is sum of w(k) P(latent > k) over sum of w(k) P(course > k)."""
    history = [0.5 ** (k / 2) for k in range(40)]
    w = np.array(history)
    latent_left = 1 - np.cumsum(_pmf(PATHOGEN.latent, 1))[:40]
    expected = float((w * latent_left).sum() / (w * still_infected(PATHOGEN, 0.37, 40)).sum())
    rising = stage_shares(seeded(crowd, 4000, 3, seed_history=history))
    flat = stage_shares(seeded(crowd, 4000, 3))
    assert rising["latent"] == pytest.approx(expected, abs=0.03)
    assert rising["latent"] > flat["latent"] + 0.1


def test_only_the_seed_day_weighted_is_the_exposed_seeding(crowd: Population) -> None:
    staged = seeded(crowd, 500, 4, seed_history=[1.0, 0.0])
    exposed = Epidemic(crowd, PATHOGEN, 4)
    exposed.seed_infections(seed_agents(crowd.network.n, 500, 4), 0)
    for name in ("t_infected", "t_infectious", "t_symptoms", "t_recovered"):
        assert np.array_equal(getattr(staged, name), getattr(exposed, name)), name


def test_totals_are_exact_when_the_candidates_run_short() -> None:
    small = adults(300)
    for count in (1, 37, 200, 300):  # more than 1/8 of the agents: every agent a candidate
        epi = seeded(small, count, 5)
        assert int((epi.t_infected == 0).sum()) == count


def test_still_infected_sums_to_the_mean_course() -> None:
    s = still_infected(PATHOGEN, SYMPTOMATIC_SHARE, 200)
    assert s[0] == pytest.approx(1.0)  # a course lasts at least a day
    assert (np.diff(s) <= 1e-12).all()
    assert s.sum() == pytest.approx(sum(stage_days(PATHOGEN, SYMPTOMATIC_SHARE).values()))
    assert infected_now(PATHOGEN, SYMPTOMATIC_SHARE, [10.0] * 200) == pytest.approx(10 * s.sum())


def test_a_staged_run_starts_with_seeds_infectious_and_past_onset(tmp_path: Path) -> None:
    school = from_sociopatterns(made_up_school(tmp_path / "school.csv"))
    scenario = Scenario.model_validate(
        {
            "pathogen": "covid-omicron",
            "days": 20,
            "beta": 0.5,
            "initial_infections": 30,
            "seed_state": "staged",
            "importation_per_100k_per_day": 0,
            "vaccination": {"initial_share": {}},
        }
    )
    result = run_policy(school, PATHOGEN, scenario, None, 2, keep_records=True)
    assert result.agents is not None
    seeds = result.agents[result.agents["t_infected"] == 0]
    assert seeds.size >= 30
    assert (seeds["t_infectious"] <= 0).any()
    assert (seeds["t_infectious"] > 0).any()
    assert result.daily["new_infections"][0] >= 30
    assert result.outbreak["seeded"] == 30


def test_a_negative_or_empty_history_is_an_error_naming_the_field() -> None:
    with pytest.raises(ValueError, match="seed_history"):
        Scenario.model_validate({"seed_history": [1.0, -1.0]})
    with pytest.raises(ValueError, match="seed_history"):
        Scenario.model_validate({"seed_history": [0.0, 0.0]})
    with pytest.raises(SchoolmodeError, match="seed_history"):
        Scenario().with_param("seed_history", "[nan]")
