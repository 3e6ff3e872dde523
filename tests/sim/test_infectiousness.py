"""Infectiousness by stage and by age (the pathogen's ``relative_infectiousness_presymptomatic``
and its age bands' ``infectiousness``): in the transmission of the plain model and of the
policy loop, in both draws, with the common random numbers of two policies on one seed, and in
``beta: auto``'s calibrations."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from schoolmode.importers.cps import SchoolProfiles
from schoolmode.pathogen import Pathogen, load_pathogen
from schoolmode.sim.beta import auto_beta
from schoolmode.sim.calibrate import (
    first_generation,
    first_generation_beta,
    first_generation_r0,
    generation_interval,
    next_generation_beta,
)
from schoolmode.sim.model import SAMPLINGS, Epidemic, Sampling, SimConfig, run, schedule
from schoolmode.sim.network import SCHOOL_LAYERS, Population, build, from_district
from schoolmode.sim.state import NEVER, new_agents
from schoolmode.synth.district import synth_district
from tests.sim.test_beta_first_generation import one_generation, school
from tests.synth.test_district import PROFILES

TEST = {"source": "assumption: test"}


def pathogen(
    presymptomatic: float | None,
    adult: float | None,
    child: float | None = None,
    symptomatic_share: float = 1.0,
    presym_days: int = 2,
    sym_days: int = 3,
    asym_days: int = 3,
    latent: int = 3,
    r0: float = 2.0,
) -> Pathogen:
    """Fixed durations; ages 0-17 and 18+ with the band infectiousness ``child`` and
    ``adult`` (None: absent), both fully susceptible, asymptomatic half as infectious."""
    fixed: dict[str, Any] = {"distribution": "fixed", "minimum": 0, **TEST}

    def band(lo: int, hi: int | None, rel: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "min_age": lo,
            "max_age": hi,
            "susceptibility": {"value": 1, **TEST},
            "symptomatic_share": {"value": symptomatic_share, **TEST},
        }
        if rel is not None:
            out["infectiousness"] = {"value": rel, **TEST}
        return out

    data: dict[str, Any] = {
        "name": "test",
        "label": "fixed durations",
        "r0": {"value": r0, **TEST},
        "latent": {**fixed, "mean": latent},
        "presymptomatic": {**fixed, "mean": presym_days},
        "symptomatic_infectious": {**fixed, "mean": sym_days},
        "asymptomatic_infectious": {**fixed, "mean": asym_days},
        "relative_infectiousness_asymptomatic": {"value": 0.5, **TEST},
        "age_bands": [band(0, 17, child), band(18, None, adult)],
        "sources": {"none": "none"},
    }
    if presymptomatic is not None:
        data["relative_infectiousness_presymptomatic"] = {"value": presymptomatic, **TEST}
    return Pathogen.model_validate(data)


def star(n: int, path: Pathogen, sampling: Sampling, seed: int = 11) -> Epidemic:
    """Agent 0 (an adult) infectious from day 0 with ``n - 1`` pupils as contacts in one
    in-school layer of one school, whole days."""
    center = np.zeros(n - 1, dtype=np.int64)
    network = build(n, {"homeroom": (center, np.arange(1, n))}, {"homeroom": 1.0})
    agents = new_agents(n)
    agents["age"] = 9
    agents["age"][0] = 30
    population = Population(agents, network, [str(i) for i in range(n)], [], [])
    epi = Epidemic(population, path, seed=seed)
    epi.sampling = sampling
    epi.seed_infections(np.array([0]), infectious=True)
    epi.school_of = np.zeros(n, dtype=np.int64)
    epi.presence_row[:] = 0
    return epi


def infected_on(day: int, path: Pathogen, sampling: Sampling, scale: float = 1.0) -> set[int]:
    """Whom agent 0 of a fresh ``star`` infects on ``day`` (its school masked by ``scale``)."""
    n = 100_001
    epi = star(n, path, sampling)
    epi.school_scale = np.full((1, 1), scale)
    epi.weight_bound = np.array([1.0])
    gate = np.ones((1, n), dtype=np.bool_)
    count = epi.transmit(day, np.array([0]), np.array([1.0]), gate, BETA)
    return set(epi.out_dst[:count].tolist())


BETA = 0.3


def binomial_ok(hits: set[int], hazard: float, trials: int = 100_000) -> bool:
    p = 1 - math.exp(-hazard)
    return abs(len(hits) - trials * p) < 5 * math.sqrt(trials * p * (1 - p))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_presymptomatic_source_transmits_at_its_factor(sampling: Sampling) -> None:
    # an adult (band infectiousness 0.5) with 2 presymptomatic days then symptoms on day 2:
    # on days 0 and 1 each contact is infected at hazard beta * 0.5 * 0.4, on the onset day
    # and after at beta * 0.5; an asymptomatic course is never presymptomatic (0.5 * 0.5);
    # without the fields, beta on every day
    path = pathogen(presymptomatic=0.4, adult=0.5, child=0.63)
    for day, factor in ((0, 0.5 * 0.4), (1, 0.5 * 0.4), (2, 0.5), (4, 0.5)):
        hits = infected_on(day, path, sampling)
        assert binomial_ok(hits, BETA * factor), (day, len(hits))
        assert not binomial_ok(hits, BETA * (0.5 if factor < 0.5 else 0.2))
    asym = pathogen(presymptomatic=0.4, adult=0.5, symptomatic_share=0.0)
    assert binomial_ok(infected_on(0, asym, sampling), BETA * 0.5 * 0.5)
    plain = pathogen(presymptomatic=None, adult=None)
    assert binomial_ok(infected_on(0, plain, sampling), BETA)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_band_infectiousness_scales_its_infections(sampling: Sampling) -> None:
    # the same source as an adult of band infectiousness 1 and of 0.3 (no stage factor)
    for adult in (1.0, 0.3):
        hits = infected_on(3, pathogen(presymptomatic=None, adult=adult), sampling)
        assert binomial_ok(hits, BETA * adult)
        assert not binomial_ok(hits, BETA * (1.3 - adult))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_two_policies_share_the_draws_of_a_presymptomatic_source(sampling: Sampling) -> None:
    # common random numbers: on a presymptomatic day, a policy masking the source's school
    # (0.5) infects a subset of those it infects unmasked (the gap law moves with the
    # natural history, not with the policy)
    path = pathogen(presymptomatic=0.4, adult=0.8)
    free = infected_on(1, path, sampling)
    masked = infected_on(1, path, sampling, scale=0.5)
    assert masked < free
    assert binomial_ok(masked, BETA * 0.8 * 0.4 * 0.5)


@pytest.fixture(scope="module")
def district() -> Population:
    return from_district(synth_district(SchoolProfiles().parse(PROFILES).frame).frames)


def with_fields(name: str, presymptomatic: float, child: float) -> Pathogen:
    """A shipped pathogen with the presymptomatic factor and the first age band's
    infectiousness set."""
    data = load_pathogen(name).model_dump(mode="json")
    data["relative_infectiousness_presymptomatic"] = {"value": presymptomatic, **TEST}
    data["age_bands"][0]["infectiousness"] = {"value": child, **TEST}
    return Pathogen.model_validate(data)


def test_epidemic_schedule_is_the_reference_schedule_with_band_infectiousness(
    district: Population,
) -> None:
    path = with_fields("covid-omicron", 0.55, 0.63)
    epi = Epidemic(district, path, seed=7)
    reference = epi.agents.copy()
    who = np.arange(0, district.network.n, 3)
    epi.schedule(who, 5)
    schedule(reference, who, 5, path, 7)
    assert np.array_equal(epi.agents, reference)
    assert np.array_equal(epi.infectiousness[who], reference["infectiousness"][who])
    child = reference["age"][who] <= path.age_bands[0].max_age  # type: ignore[operator]
    sym = reference["t_symptoms"][who] != NEVER
    assert np.allclose(reference["infectiousness"][who][child & sym], 0.63)
    assert np.allclose(reference["infectiousness"][who][~child & sym], 1.0)


def test_scenarios_share_draws_where_their_gates_agree_with_the_new_fields(
    district: Population,
) -> None:
    # the plain model with both factors: identical days before the gates first differ, the
    # same courses after, and the factors change the epidemic
    path = with_fields("covid-delta", 0.5, 0.6)
    config = SimConfig(beta=0.3, days=40, seed=3)
    network = district.network
    school_layers = [network.layers.index(name) for name in SCHOOL_LAYERS]
    gate = np.ones((len(network.layers), network.n), dtype=np.bool_)
    gate[np.ix_(school_layers, np.flatnonzero(district.agents["school"] == 0))] = False
    open_ = run(district, path, config)
    closed = run(district, path, config, gates=lambda day: gate if day >= 10 else None)
    assert np.array_equal(open_.new_infections[:10], closed.new_infections[:10])
    assert not np.array_equal(open_.agents["t_infected"], closed.agents["t_infected"])
    plain = run(district, load_pathogen("covid-delta"), config)
    assert plain.total_by_day.sum() > open_.total_by_day.sum()


def test_the_new_fields_are_optional_and_cited() -> None:
    plain = pathogen(presymptomatic=None, adult=None)
    assert plain.presymptomatic_factor == 1.0
    assert np.array_equal(plain.infectiousness_by_age(np.array([3, 40])), [1.0, 1.0])
    assert "relative_infectiousness_presymptomatic" not in plain.values()
    # a pathogen without them keeps the cache key it had before they existed
    dump = plain.cache_dump()
    assert "relative_infectiousness_presymptomatic" not in dump
    assert all("infectiousness" not in band for band in dump["age_bands"])  # type: ignore[attr-defined]
    full = pathogen(presymptomatic=0.55, adult=1.0, child=0.63)
    assert full.presymptomatic_factor == 0.55
    assert np.array_equal(full.infectiousness_by_age(np.array([3, 17, 18])), [0.63, 0.63, 1.0])
    assert full.values()["age_bands[0].infectiousness"].value == 0.63  # type: ignore[union-attr]
    data = full.model_dump(mode="json")
    data["relative_infectiousness_presymptomatic"]["source"] = "nowhere"
    with pytest.raises(ValueError, match="neither a key of sources"):
        Pathogen.model_validate(data)


def test_first_generation_r0_has_the_closed_form_with_both_factors() -> None:
    # school every day, everyone symptomatic, 1 presymptomatic day then 2 with symptoms,
    # nobody staying home: each of 9 classmates escapes beta * c * (f * 1 + 2)
    population = school(weekdays=tuple(range(7)))  # pupils of age 9
    path = pathogen(presymptomatic=0.4, adult=None, child=0.7, presym_days=1, sym_days=2)
    beta = 0.05
    got = first_generation_r0(first_generation(population, path, 0.0, 0.5), beta)
    assert got == pytest.approx(9 * (1 - math.exp(-beta * 0.7 * (0.4 + 2))), 1e-12)
    plain = pathogen(presymptomatic=None, adult=None, presym_days=1, sym_days=2)
    assert first_generation_beta(population, path, stay_home_share=0.0) > first_generation_beta(
        population, plain, stay_home_share=0.0
    )


def test_the_fitted_beta_with_both_factors_gives_r0_secondary_cases_in_the_loop() -> None:
    # as test_beta_first_generation's loop check, with a presymptomatic factor and the
    # pupils' band infectiousness: the policy loop's direct infectees of one index case
    # match R0, and the beta fitted without the factors gives too few
    path = pathogen(
        presymptomatic=0.4, adult=None, child=0.6, symptomatic_share=0.6,
        presym_days=1, sym_days=2, asym_days=2, r0=3.0,
    )  # fmt: skip
    population = school(off_school=True, household=True)
    beta = first_generation_beta(population, path, stay_home_share=0.5)
    offspring = one_generation(population, path, beta, 1500, 0.5)
    error = offspring.std() / math.sqrt(offspring.size)
    assert abs(offspring.mean() - 3.0) < 3 * error, (offspring.mean(), error)
    plain = pathogen(
        presymptomatic=None, adult=None, symptomatic_share=0.6,
        presym_days=1, sym_days=2, asym_days=2, r0=3.0,
    )  # fmt: skip
    unfitted = first_generation_beta(population, plain, stay_home_share=0.5)
    low = one_generation(population, path, unfitted, 400, 0.5)
    assert low.mean() < 2.5


def test_auto_beta_keys_the_new_fields() -> None:
    population = school()
    plain = pathogen(presymptomatic=None, adult=None, r0=3.0)
    full = pathogen(presymptomatic=0.4, adult=None, child=0.6, r0=3.0)
    a, _ = auto_beta(population, plain)
    b, cached = auto_beta(population, full)
    assert not cached
    assert b > a


def test_growth_calibration_reads_the_presymptomatic_factor() -> None:
    # the generation interval moves later when the presymptomatic days count less, and the
    # next-generation beta reads both factors
    plain = pathogen(presymptomatic=None, adult=None, presym_days=2, sym_days=2)
    late = pathogen(presymptomatic=0.2, adult=None, presym_days=2, sym_days=2)
    days = np.arange(generation_interval(plain).size)
    mean = float((generation_interval(plain) * days).sum())
    later = float((generation_interval(late) * np.arange(generation_interval(late).size)).sum())
    assert later > mean + 0.3
    n = 2_000
    rng = np.random.default_rng(1)
    network = build(
        n, {"community": (rng.integers(0, n, 4 * n), rng.integers(0, n, 4 * n))}, {"community": 1.0}
    )
    agents = new_agents(n)
    agents["age"] = 9
    population = Population(agents, network, [str(i) for i in range(n)], [], [])
    base = next_generation_beta(population, plain)
    less = next_generation_beta(population, late)
    child = next_generation_beta(
        population, pathogen(presymptomatic=None, adult=None, child=0.5, presym_days=2, sym_days=2)
    )
    assert less > base * 1.2
    assert child > base * 1.5
