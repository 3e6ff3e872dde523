from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from schoolmode.importers.cps import SchoolProfiles
from schoolmode.pathogen import Pathogen, load_pathogen, pathogen_names
from schoolmode.sim.model import (
    SAMPLINGS,
    Epidemic,
    Sampling,
    SimConfig,
    run,
    schedule,
    seed_agents,
)
from schoolmode.sim.network import SCHOOL_LAYERS, Network, Population, build, from_district
from schoolmode.sim.rng import SEEDING, uniform, uniforms
from schoolmode.sim.state import NEVER, new_agents
from schoolmode.synth.district import synth_district
from tests.synth.test_district import PROFILES

BAND = {"min_age": 0, "max_age": None}


def simple_pathogen(latent: int, infectious: int) -> Pathogen:
    fixed: dict[str, Any] = {"distribution": "fixed", "source": "assumption: test"}
    return Pathogen.model_validate(
        {
            "name": "test",
            "label": "SEIR with fixed durations",
            "r0": {"value": 2, "source": "assumption: test"},
            "latent": {**fixed, "mean": latent},
            "presymptomatic": {**fixed, "mean": 0, "minimum": 0},
            "symptomatic_infectious": {**fixed, "mean": infectious},
            "asymptomatic_infectious": {**fixed, "mean": infectious},
            "relative_infectiousness_asymptomatic": {"value": 1, "source": "assumption: test"},
            "age_bands": [
                {
                    **BAND,
                    "susceptibility": {"value": 1, "source": "assumption: test"},
                    "symptomatic_share": {"value": 1, "source": "assumption: test"},
                }
            ],
            "sources": {"none": "none"},
        }
    )


def random_graph(n: int, k: float, seed: int) -> Population:
    """Erdős–Rényi graph with mean degree ``k`` in one layer of weight 1."""
    rng = np.random.default_rng(seed)
    m = int(n * k / 2)
    network: Network = build(
        n,
        {"community": (rng.integers(0, n, m), rng.integers(0, n, m))},
        {"community": 1.0},
    )
    agents = new_agents(n)
    agents["age"] = 30
    return Population(agents, network, [str(i) for i in range(n)], [], [])


def per_day_hazard(r0: float, k: float, days: int) -> float:
    """beta such that each edge transmits over ``days`` infectious days with T = r0 / k."""
    t = r0 / k
    p = 1 - (1 - t) ** (1 / days)
    return -math.log(1 - p)


def final_size(r0: float) -> float:
    z = 0.9
    for _ in range(200):
        z = 1 - math.exp(-r0 * z)
    return z


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("r0", [1.5, 2.0, 3.0])
def test_final_size_on_a_random_graph_matches_the_final_size_equation(
    r0: float, sampling: Sampling
) -> None:
    # bond percolation on an Erdős–Rényi graph with fixed infectious period gives exactly
    # z = 1 - exp(-R0 z) with R0 = k T as N grows
    n, k, infectious = 20_000, 20.0, 3
    population = random_graph(n, k, seed=1)
    pathogen = simple_pathogen(latent=1, infectious=infectious)
    beta = per_day_hazard(r0, k, infectious)
    config = SimConfig(beta=beta, days=200, seed=5, initial_infections=20, sampling=sampling)
    result = run(population, pathogen, config)
    assert result.infectious[-1] == 0
    attack = result.infected[-1] / n
    assert attack == pytest.approx(final_size(r0), abs=0.02)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_each_contact_transmits_with_its_probability(sampling: Sampling) -> None:
    # one infectious agent with 200,000 contacts, half of them 0.4 as susceptible: each
    # group's infected share is 1 - exp(-beta * susceptibility) within 5 binomial sd, for
    # both ways of drawing (the same law), and their draws differ
    n, beta = 200_001, 0.5
    center = np.zeros(n - 1, dtype=np.int64)
    network = build(n, {"community": (center, np.arange(1, n))}, {"community": 1.0})
    agents = new_agents(n)
    agents["age"] = 30
    population = Population(agents, network, [str(i) for i in range(n)], [], [])
    epi = Epidemic(population, simple_pathogen(latent=1, infectious=3), seed=3)
    epi.sampling = sampling
    low = np.arange(1, n) % 2 == 0
    epi.susceptibility[1:][low] = 0.4
    epi.seed_infections(np.array([0]), infectious=True)
    gate = np.ones((1, n), dtype=np.bool_)
    count = epi.transmit(0, np.array([0]), network.weights, gate, beta)
    hit = np.zeros(n, dtype=np.bool_)
    hit[epi.out_dst[:count]] = True
    assert (epi.out_src[:count] == 0).all()
    for group, sus in ((low, 0.4), (~low, 1.0)):
        p = 1 - math.exp(-beta * sus)
        size = int(group.sum())
        share = hit[1:][group].mean()
        assert abs(share - p) < 5 * math.sqrt(p * (1 - p) / size)
    other = Epidemic(population, simple_pathogen(latent=1, infectious=3), seed=3)
    other.sampling = "contact" if sampling == "skip" else "skip"
    other.susceptibility[1:][low] = 0.4
    other.seed_infections(np.array([0]), infectious=True)
    count_other = other.transmit(0, np.array([0]), network.weights, gate, beta)
    assert set(other.out_dst[:count_other].tolist()) != set(epi.out_dst[:count].tolist())


def star(n: int, seed: int) -> Epidemic:
    """Agent 0 infectious on day 0 with ``n - 1`` contacts in one in-school layer, all of
    one school, present for whole days."""
    center = np.zeros(n - 1, dtype=np.int64)
    network = build(n, {"homeroom": (center, np.arange(1, n))}, {"homeroom": 1.0})
    agents = new_agents(n)
    agents["age"] = 30
    population = Population(agents, network, [str(i) for i in range(n)], [], [])
    epi = Epidemic(population, simple_pathogen(latent=1, infectious=3), seed=seed)
    epi.seed_infections(np.array([0]), infectious=True)
    epi.school_of = np.zeros(n, dtype=np.int64)
    epi.presence_row[:] = 0
    return epi


def star_day(
    sampling: Sampling, scale: float, here: float, weight: float, bound: float | None
) -> set[int]:
    """Who agent 0 infects on day 0 of ``star``: its school's masking ``scale``, its share
    of the day ``here``, the layer's ``weight`` and the skip draws' weight ``bound``."""
    n, beta = 100_001, 0.3
    epi = star(n, seed=11)
    epi.sampling = sampling
    epi.school_scale = np.full((1, 1), scale)
    epi.presence[0, 0] = here
    epi.weight_bound = None if bound is None else np.array([bound])
    gate = np.ones((1, n), dtype=np.bool_)
    count = epi.transmit(0, np.array([0]), np.array([weight]), gate, beta)
    return set(epi.out_dst[:count].tolist())


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_two_policies_share_the_draws_of_a_source(sampling: Sampling) -> None:
    # common random numbers: the same source on the same day under a policy that masks its
    # school (0.5), isolates it for half the day (here 0.5) or masks by the scenario's
    # constant (weight 0.5 within a bound of 1) infects a subset of those it infects with
    # none of these; each set's size is its binomial law's (5 sd). Skip draws' gaps at a
    # p_max that moved with masking or presence (as before) gave unrelated sets.
    n, beta = 100_001, 0.3
    free = star_day(sampling, 1.0, 1.0, 1.0, 1.0)
    for scale, here, weight in ((0.5, 1.0, 1.0), (1.0, 0.5, 1.0), (1.0, 1.0, 0.5)):
        reduced = star_day(sampling, scale, here, weight, 1.0)
        assert reduced < free
        for hits, hazard in ((reduced, beta * 0.5), (free, beta)):
            p = 1 - math.exp(-hazard)
            assert abs(len(hits) - (n - 1) * p) < 5 * math.sqrt((n - 1) * p * (1 - p))


def test_vaccination_during_a_run_does_not_move_the_skip_draws() -> None:
    # two runs of one source: in one, everyone is vaccinated (susceptibility 0.4) after
    # day 0; on day 1 it infects a subset of those of the other run. The gap law keeps the
    # largest susceptibility seen (1), so both draw the same candidates; with the day's
    # maximum (0.4 in one run, 1 in the other) they differed.
    n, beta = 100_001, 0.3
    days = []
    for vaccinated in (False, True):
        epi = star(n, seed=11)
        gate = np.ones((1, n), dtype=np.bool_)
        epi.transmit(0, np.array([0]), np.array([1.0]), gate, beta)
        if vaccinated:
            epi.susceptibility[:] = 0.4
        count = epi.transmit(1, np.array([0]), np.array([1.0]), gate, beta)
        days.append(set(epi.out_dst[:count].tolist()))
    assert days[1] < days[0]
    assert len(days[1]) > 0


def test_a_weight_above_its_bound_keeps_the_law() -> None:
    # a bound below the layer's weight (a masking multiplier above 1): the gap law takes the
    # larger, so each contact still transmits with its probability
    n, beta = 100_001, 0.3
    hits = star_day("skip", 1.0, 1.0, 2.0, 1.0)
    p = 1 - math.exp(-beta * 2.0)
    assert abs(len(hits) - (n - 1) * p) < 5 * math.sqrt((n - 1) * p * (1 - p))
    assert hits == star_day("skip", 1.0, 1.0, 2.0, None)


def test_sampling_must_be_named() -> None:
    with pytest.raises(ValueError, match="sampling must be one of"):
        SimConfig(beta=1.0, days=1, sampling="every")  # type: ignore[arg-type]


@pytest.mark.parametrize(("n", "count"), [(1000, 10), (10, 10), (10, 11), (10, 0), (50_000, 20)])
def test_seed_agents_are_the_lowest_keys(n: int, count: int) -> None:
    # a partition instead of a full sort: the same agents as a stable argsort's first ones
    keys = uniforms(4, SEEDING, np.arange(n, dtype=np.int64), 0, 0)
    expected = np.sort(np.argsort(keys, kind="stable")[:count])
    assert np.array_equal(seed_agents(n, count, 4), expected)


def euler_lotka_rate(kernel: np.ndarray) -> float:
    """r with sum_s kernel[s] exp(-r s) = 1 (kernel[s]: mean infections caused s days after)."""
    s = np.arange(kernel.size)
    lo, hi = -1.0, 3.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if (kernel * np.exp(-mid * s)).sum() > 1:
            lo = mid
        else:
            hi = mid
    return lo


def test_early_growth_rate_matches_euler_lotka() -> None:
    n, k, latent, infectious, r0 = 50_000, 20.0, 2, 4, 2.0
    beta = per_day_hazard(r0, k, infectious)
    p = 1 - math.exp(-beta)
    kernel = np.zeros(latent + infectious)
    # a neighbour is infected on the j-th infectious day if missed on the days before
    kernel[latent:] = k * p * (1 - p) ** np.arange(infectious)
    assert kernel.sum() == pytest.approx(r0)
    expected = euler_lotka_rate(kernel)
    rates = []
    for seed in range(3):
        result = run(
            random_graph(n, k, seed=seed),
            simple_pathogen(latent, infectious),
            SimConfig(beta=beta, days=120, seed=seed, initial_infections=20),
        )
        daily = result.total_by_day
        window = (result.infected >= 200) & (result.infected <= 2_500)
        days = np.flatnonzero(window)
        assert days.size >= 10
        rates.append(np.polyfit(days, np.log(daily[days]), 1)[0])
    assert float(np.mean(rates)) == pytest.approx(expected, rel=0.12)


@pytest.fixture(scope="module")
def district() -> Population:
    return from_district(synth_district(SchoolProfiles().parse(PROFILES).frame).frames)


def test_same_seed_same_epidemic_other_seed_different(district: Population) -> None:
    delta = load_pathogen("covid-delta")
    a = run(district, delta, SimConfig(beta=0.3, days=60, seed=3))
    b = run(district, delta, SimConfig(beta=0.3, days=60, seed=3))
    c = run(district, delta, SimConfig(beta=0.3, days=60, seed=4))
    assert a.infected[-1] > 100
    assert np.array_equal(a.agents, b.agents)
    assert not np.array_equal(a.agents, c.agents)


@pytest.mark.parametrize("name", ["covid-omicron", "influenza-seasonal"])
def test_the_active_list_equals_the_mask_over_all_agents(district: Population, name: str) -> None:
    pathogen = load_pathogen(name)
    config = SimConfig(beta=0.3, days=50, seed=5, initial_infections=30)
    fast = run(district, pathogen, config)
    reference = run(district, pathogen, config, active_list=False)
    assert fast.infected[-1] > 200
    assert fast.agents.tobytes() == reference.agents.tobytes()
    for field in ("new_infections", "new_by_layer", "infectious", "infected"):
        assert np.array_equal(getattr(fast, field), getattr(reference, field)), field


def test_gates_that_never_close_change_nothing(district: Population) -> None:
    delta = load_pathogen("covid-delta")
    config = SimConfig(beta=0.3, days=60, seed=3)
    n_layers = len(district.network.layers)
    always_open = np.ones((n_layers, district.network.n), dtype=np.bool_)
    ungated = run(district, delta, config)
    gated = run(district, delta, config, gates=lambda day: always_open)
    assert np.array_equal(ungated.agents, gated.agents)


def test_a_closed_school_has_no_in_school_transmission(district: Population) -> None:
    delta = load_pathogen("covid-delta")
    config = SimConfig(beta=0.3, days=60, seed=3)
    network = district.network
    school_layers = [network.layers.index(name) for name in SCHOOL_LAYERS]
    closed = district.agents["school"] == 0
    gate = np.ones((len(network.layers), network.n), dtype=np.bool_)
    gate[np.ix_(school_layers, np.flatnonzero(closed))] = False
    result = run(district, delta, config, gates=lambda day: gate)
    agents = result.agents
    in_school = np.isin(agents["layer"], school_layers)
    assert in_school.sum() > 0  # other schools still transmit in school
    infector = agents["infector"]
    assert not (in_school & closed).any()
    assert not (in_school & (infector >= 0) & closed[np.maximum(infector, 0)]).any()
    assert agents["t_infected"][closed].min() < 60  # the closed school is still infected
    # the whole district remote: no school-layer infection at all
    everything_closed = np.ones_like(gate)
    everything_closed[school_layers] = False
    remote = run(district, delta, config, gates=lambda day: everything_closed)
    assert remote.new_by_layer[:, school_layers].sum() == 0
    assert remote.new_by_layer.sum() > 0


def test_shipped_pathogens_load_and_cite_every_number() -> None:
    names = pathogen_names()
    assert {
        "covid-ancestral",
        "covid-delta",
        "covid-omicron",
        "influenza-seasonal",
        "measles",
    } <= set(names)
    for name in names:
        pathogen = load_pathogen(name)
        for duration in (pathogen.latent, pathogen.symptomatic_infectious):
            assert duration.pmf().sum() == pytest.approx(1)
    bad = load_pathogen("measles").model_dump()
    bad["r0"]["source"] = "somebody2020"
    with pytest.raises(ValueError, match="neither a key of sources"):
        Pathogen.model_validate(bad)


def test_counter_based_uniforms_depend_only_on_their_coordinates() -> None:
    draws = [uniform(1, 101, day, 5, 7) for day in range(2000)]
    assert uniform(1, 101, 3, 5, 7) == draws[3]
    assert uniform(1, 102, 3, 5, 7) != draws[3]
    assert 0.47 < float(np.mean(draws)) < 0.53


def test_scenarios_share_draws_where_their_gates_agree(district: Population) -> None:
    # common random numbers: an agent infected in both scenarios has the same natural history,
    # and the days before the gates first differ are identical
    delta = load_pathogen("covid-delta")
    config = SimConfig(beta=0.3, days=60, seed=3)
    network = district.network
    school_layers = [network.layers.index(name) for name in SCHOOL_LAYERS]
    gate = np.ones((len(network.layers), network.n), dtype=np.bool_)
    gate[np.ix_(school_layers, np.flatnonzero(district.agents["school"] == 0))] = False
    open_ = run(district, delta, config)
    closed = run(district, delta, config, gates=lambda day: gate if day >= 10 else None)
    a, b = open_.agents, closed.agents
    assert np.array_equal(open_.new_infections[:10], closed.new_infections[:10])
    assert not np.array_equal(a["t_infected"], b["t_infected"])
    both = (a["t_infected"] < 60) & (b["t_infected"] < 60)
    assert both.sum() > 100
    assert np.array_equal(a["t_symptoms"][both] == NEVER, b["t_symptoms"][both] == NEVER)
    for field in ("t_infectious", "t_symptoms", "t_recovered"):
        course_a = a[field][both].astype(np.int64) - a["t_infected"][both]
        course_b = b[field][both].astype(np.int64) - b["t_infected"][both]
        scheduled = a[field][both] != NEVER
        assert np.array_equal(course_a[scheduled], course_b[scheduled])


@pytest.mark.parametrize("name", ["covid-delta", "covid-omicron"])
def test_epidemic_schedule_is_the_reference_schedule(district: Population, name: str) -> None:
    # Epidemic.schedule (one numba pass) writes what model.schedule (numpy) writes, and the
    # same values into its contiguous copies
    pathogen = load_pathogen(name)
    epi = Epidemic(district, pathogen, seed=7)
    reference = epi.agents.copy()
    who = np.arange(0, district.network.n, 3)
    epi.schedule(who, 5)
    schedule(reference, who, 5, pathogen, 7)
    assert np.array_equal(epi.agents, reference)
    for field in ("t_infectious", "t_symptoms", "t_recovered", "infectiousness"):
        assert np.array_equal(getattr(epi, field)[who], reference[field][who])
    assert (reference["t_symptoms"][who] == NEVER).any()  # both kinds of course
    assert (reference["t_symptoms"][who] != NEVER).any()
