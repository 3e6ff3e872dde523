"""``beta: auto`` on a small population: the first-generation R0 (``calibrate.first_generation_r0``)
against closed forms and against one generation simulated by the policy loop itself."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from schoolmode.pathogen import Pathogen, load_pathogen
from schoolmode.policy.loader import Registry
from schoolmode.sim import beta as beta_module
from schoolmode.sim.beta import auto_beta
from schoolmode.sim.calibrate import first_generation, first_generation_beta, first_generation_r0
from schoolmode.sim.loop import run_policy
from schoolmode.sim.network import Population, build, cliques
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.state import NEVER, STUDENT, new_agents

ROOMS, ROOM_SIZE = 4, 10
"""Four homerooms of ten pupils: each pupil has 9 homeroom contacts."""


def school(
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4), off_school: bool = False, household: bool = False
) -> Population:
    """40 pupils in four homerooms (weight 1, cliques: degree 9), optionally pairs of pupils
    sharing a household (weight 0.5, degree 1) and an off-school layer pairing each pupil
    with one of another homeroom (weight 0.3, degree 1), whole-day contacts."""
    n = ROOMS * ROOM_SIZE
    room = np.repeat(np.arange(ROOMS), ROOM_SIZE)
    agents = new_agents(n)
    agents["age"] = 9
    agents["role"] = STUDENT
    agents["school"] = 0
    agents["classroom"] = room
    agents["household"] = np.arange(n) // 2
    layers: dict[str, Any] = {"homeroom": cliques(room)}
    weights = {"homeroom": 1.0}
    roles = ["homeroom"]
    if household:
        layers["household"] = (np.arange(0, n, 2), np.arange(1, n, 2))
        weights["household"] = 0.5
        roles.append("household")
    if off_school:
        half = np.arange(n // 2)
        layers["play"] = (half, (half + ROOM_SIZE * 2) % n)
        weights["play"] = 0.3
        roles.append("community")
    return Population(
        agents,
        build(n, layers, weights),
        [str(i) for i in range(n)],
        ["s"],
        [f"r{k}" for k in range(ROOMS)],
        layer_roles=tuple(roles),
        school_weekdays=weekdays,
        holidays=False,
        off_school_layers=(len(roles) - 1,) if off_school else (),
    )


SOURCE = {"confidence": "U", "source": "assumption: a made-up course for the test"}


def pathogen(symptomatic_share: float, presym: int, sym: int, asym: int, r0: float) -> Pathogen:
    """Fixed durations: latent 3 days (longer than any infectious period, so the index's
    infectees cannot infect its contacts before it recovers), asymptomatic half as
    infectious."""
    data = load_pathogen("covid-omicron").model_dump(mode="json")

    def fixed(days: int) -> dict[str, Any]:
        return {"distribution": "fixed", "mean": days, "minimum": 0, **SOURCE}

    data.update(
        r0={"value": r0, **SOURCE},
        latent=fixed(3),
        presymptomatic=fixed(presym),
        symptomatic_infectious=fixed(sym),
        asymptomatic_infectious=fixed(asym),
        relative_infectiousness_asymptomatic={"value": 0.5, **SOURCE},
        age_bands=[
            {
                "min_age": 0,
                "max_age": None,
                "susceptibility": {"value": 1.0, **SOURCE},
                "symptomatic_share": {"value": symptomatic_share, **SOURCE},
            }
        ],
    )
    return Pathogen.model_validate(data)


def r0_at(population: Population, path: Pathogen, beta: float, stay_home: float = 0.0) -> float:
    return first_generation_r0(first_generation(population, path, stay_home, 0.5), beta)


def test_every_day_school_gives_the_closed_form() -> None:
    # school every day, everyone symptomatic, 3 infectious days, nobody stays home: each of
    # the 9 classmates escapes 3 daily hazards of beta
    path = pathogen(1.0, 1, 2, 2, 2.0)
    population = school(weekdays=tuple(range(7)))
    beta = 0.05
    assert r0_at(population, path, beta) == pytest.approx(9 * (1 - math.exp(-3 * beta)), 1e-12)
    fitted = first_generation_beta(population, path, stay_home_share=0.0)
    assert fitted == pytest.approx(-math.log(1 - 2.0 / 9) / 3, rel=1e-3)


def test_weekends_lower_r0_by_the_share_of_school_days() -> None:
    # one infectious day (asymptomatic, half as infectious): a weekday start meets the
    # homeroom, a weekend start nobody
    path = pathogen(0.0, 0, 1, 1, 2.0)
    beta = 0.2
    every_day = r0_at(school(weekdays=tuple(range(7))), path, beta)
    weekdays = r0_at(school(), path, beta)
    assert every_day == pytest.approx(9 * (1 - math.exp(-0.5 * beta)), 1e-12)
    assert weekdays == pytest.approx(every_day * 5 / 7, 1e-12)
    assert first_generation_beta(school(), path) > first_generation_beta(
        school(weekdays=tuple(range(7))), path
    )


def test_staying_home_ill_lowers_r0() -> None:
    # no presymptomatic day, 2 days with symptoms, school every day: staying home keeps the
    # case there for half its onset day (onset_day_fraction 0.5), then away
    path = pathogen(1.0, 0, 2, 2, 2.0)
    population = school(weekdays=tuple(range(7)))
    beta = 0.1
    at_school = r0_at(population, path, beta, stay_home=0.0)
    home = r0_at(population, path, beta, stay_home=1.0)
    half = r0_at(population, path, beta, stay_home=0.5)
    assert at_school == pytest.approx(9 * (1 - math.exp(-2 * beta)), 1e-12)
    assert home == pytest.approx(9 * (1 - math.exp(-0.5 * beta)), 1e-12)
    assert half == pytest.approx((at_school + home) / 2, 1e-12)
    # an off-school layer is open for two agents both away from school: not for a case at
    # home ill with a contact at school (gates.py)
    with_play = school(weekdays=tuple(range(7)), off_school=True)
    assert r0_at(with_play, path, beta, 1.0) == pytest.approx(home, 1e-12)


def one_generation(
    population: Population, path: Pathogen, beta: float, runs: int, stay_home: float
) -> np.ndarray:
    """Direct infectees of one index case infected on a random one of the first seven days,
    in the policy loop (no policy), one run per seed."""
    scenario = Scenario.model_validate(
        {
            "beta": beta,
            "days": 16,
            "start": "2026-11-30",
            "initial_infections": 1,
            "seed_weekday": "random",
            "importation_per_100k_per_day": 0,
            "vaccination": {"initial_share": {}},
            "immunity": {"prior_infection_share": {}},
            "symptomatic": {"share_tested": 0.0, "stay_home_share": stay_home},
        }
    )
    offspring = np.empty(runs, dtype=np.int64)
    registry = Registry()
    for seed in range(runs):
        agents = run_policy(population, path, scenario, None, seed, registry).agents
        index = np.flatnonzero((agents["t_infected"] != NEVER) & (agents["infector"] < 0))
        assert index.size == 1
        offspring[seed] = int((agents["infector"] == index[0]).sum())
    return offspring


def test_the_fitted_beta_gives_r0_secondary_cases_in_the_simulator() -> None:
    # weekends, an off-school layer, households, a presymptomatic day, 60% symptomatic,
    # half of them staying home: every rule the calibration models, against the loop itself
    path = pathogen(0.6, 1, 2, 2, 3.0)
    population = school(off_school=True, household=True)
    beta = first_generation_beta(population, path, stay_home_share=0.5)
    assert r0_at(population, path, beta, 0.5) == pytest.approx(3.0, rel=1e-3)
    offspring = one_generation(population, path, beta, 1500, 0.5)
    error = offspring.std() / math.sqrt(offspring.size)
    assert abs(offspring.mean() - 3.0) < 3 * error, (offspring.mean(), error)
    # and the test tells: a third of the beta gives far fewer
    low = one_generation(population, path, beta / 3, 200, 0.5)
    assert low.mean() < 2.0


def test_a_time_resolved_network_gives_r0_averaged_over_the_recorded_days_in_turn() -> None:
    # two recorded days: the homerooms on day 1, groups of five on day 2, households every
    # day. The calibration averages over where in the cycle of recorded days a case starts;
    # a run's fixed start ties that to the weekday, so the loop is run on the population and
    # on its twin with the recorded days swapped, which together start at either
    path = pathogen(0.6, 1, 2, 2, 3.0)
    base = school(household=True)
    n = base.network.n
    room = base.agents["classroom"]
    layers = {
        "homeroom": cliques(room),
        "household": (np.arange(0, n, 2), np.arange(1, n, 2)),
        "groups": cliques(np.arange(n) // 5),
    }
    weights = {"homeroom": 1.0, "household": 0.5, "groups": 1.0}
    twins = [
        replace(
            base,
            network=build(n, layers, weights),
            layer_roles=("homeroom", "household", "homeroom"),
            layer_day=days,
            recorded_days=2,
        )
        for days in ((0, -1, 1), (1, -1, 0))
    ]
    beta = first_generation_beta(twins[0], path, stay_home_share=0.5)
    assert first_generation_beta(twins[1], path, stay_home_share=0.5) == beta
    offspring = np.concatenate([one_generation(p, path, beta, 1000, 0.5) for p in twins])
    error = offspring.std() / math.sqrt(offspring.size)
    assert abs(offspring.mean() - 3.0) < 3 * error, (offspring.mean(), error)


def test_auto_beta_is_cached_per_calendar_and_stay_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(beta_module, "_memory", {})
    path = pathogen(0.6, 1, 2, 2, 3.0)
    week, every_day = school(), school(weekdays=tuple(range(7)))
    assert beta_module.population_digest(week) == beta_module.population_digest(every_day)
    beta, cached = auto_beta(week, path, cache_dir=tmp_path)
    assert not cached
    assert beta == first_generation_beta(week, path)  # the scenario defaults: 0.5, 0.5
    assert auto_beta(week, path, cache_dir=tmp_path) == (beta, True)
    other, cached = auto_beta(every_day, path, cache_dir=tmp_path)
    assert not cached
    assert other < beta
    home, cached = auto_beta(week, path, cache_dir=tmp_path, stay_home_share=1.0)
    assert not cached
    assert home > beta
