"""Test positivity outside the infectious period (issue 16, item 7): a test type's
``positive_after_infectious`` (positives on the days after infectiousness ends) and
``sensitivity_presymptomatic``, in individual and pooled tests; recently recovered seeds
(``Scenario.initial_recovered``) are not infectious, not susceptible, not the run's infections,
and can test positive."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from schoolmode.pathogen import load_pathogen
from schoolmode.policy.loader import Registry
from schoolmode.sim import testing
from schoolmode.sim.day_state import DayState
from schoolmode.sim.loop import run_policy
from schoolmode.sim.model import seed_agents
from schoolmode.sim.network import Population, from_sociopatterns
from schoolmode.sim.outcomes import LoopResult
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.scenario import TestType as Kind
from schoolmode.sim.setup import RunSetup, setup
from schoolmode.sim.state import NEVER
from tests.sim.test_any_population import made_up_school
from tests.sim.test_edges import pairs
from tests.sim.test_sim import simple_pathogen

N = 20_000  # agents tested at once: a share within 5 sd is within about 0.018 of its law


def within(hits: int, trials: int, p: float) -> bool:
    """``hits`` of ``trials`` is within 5 standard deviations of the law ``p``."""
    sd = math.sqrt(max(p * (1 - p), 1e-12) / trials)
    return abs(hits / trials - p) <= 5 * sd + 1e-12


def a_run(pool_size: int = 1, **tests: dict[str, object]) -> RunSetup:
    """A set-up run of ``N`` agents (pairs in classrooms) whose natural history the tests set."""
    scenario = Scenario.model_validate(
        {
            "screening": {"pool_size": pool_size},
            "days": 30,
            "beta": 0.1,
            "initial_infections": 0,
            "vaccination": {"initial_share": {}},
            "tests": {"pcr": {}, "antigen": {}, **tests},
        }
    )
    return setup(pairs(N // 2), simple_pathogen(latent=1, infectious=3), scenario, None, 3)


def course(run: RunSetup, infectious: int, symptoms: int, recovered: int) -> np.ndarray:
    """Every agent infectious from ``infectious`` to ``recovered`` (symptoms from
    ``symptoms``; ``NEVER``: asymptomatic); returns all agents."""
    epi = run.epi
    epi.t_infected[:] = 0
    epi.t_infectious[:] = infectious
    epi.t_symptoms[:] = symptoms
    epi.t_recovered[:] = recovered
    return np.arange(N, dtype=np.int64)


def share_positive(run: RunSetup, day: int, kind: Kind, stream: int = 1) -> tuple[int, int]:
    everyone = np.arange(N, dtype=np.int64)
    got, result_day, positive, used = testing.test(run, everyone, day, kind, stream)
    assert got.size == N
    assert used == N
    assert (result_day == day + kind.turnaround_days).all()
    return int(positive.sum()), N


SHED = [0.8, 0.5, 0.2]
PCR = {
    "sensitivity": 0.9,
    "specificity": 0.99,
    "turnaround_days": 0,
    "invalid_rate": 0.0,
    "positive_after_infectious": SHED,
    "sensitivity_presymptomatic": 0.6,
}


@pytest.mark.parametrize(("after", "law"), [(0, 0.8), (1, 0.5), (2, 0.2), (3, 0.01), (6, 0.01)])
def test_positives_after_infectiousness_follow_the_list_then_the_false_positive_rate(
    after: int, law: float
) -> None:
    run = a_run(pcr=PCR)
    course(run, 2, NEVER, 5)
    hits, trials = share_positive(run, 5 + after, run.scenario.test("pcr"))
    assert within(hits, trials, law)


def test_without_the_list_a_recovered_person_is_positive_at_the_false_positive_rate() -> None:
    run = a_run(pcr={**PCR, "positive_after_infectious": []})
    course(run, 2, NEVER, 5)
    hits, trials = share_positive(run, 5, run.scenario.test("pcr"))
    assert within(hits, trials, 0.01)
    assert hits < 0.05 * trials


@pytest.mark.parametrize(
    ("symptoms", "day", "presymptomatic", "law"),
    [
        (6, 3, 0.6, 0.6),  # before onset: the presymptomatic sensitivity
        (6, 7, 0.6, 0.9),  # after onset: the sensitivity
        (NEVER, 3, 0.6, 0.9),  # asymptomatic: the sensitivity throughout
        (6, 3, None, 0.9),  # None: the sensitivity
        (6, 1, 0.6, 0.01),  # latent: not infectious, the false-positive rate
    ],
)
def test_the_presymptomatic_sensitivity_applies_before_symptom_onset(
    symptoms: int, day: int, presymptomatic: float | None, law: float
) -> None:
    run = a_run(pcr={**PCR, "sensitivity_presymptomatic": presymptomatic})
    course(run, 2, symptoms, 10)
    hits, trials = share_positive(run, day, run.scenario.test("pcr"))
    assert within(hits, trials, law)


def test_the_defaults_give_the_sensitivity_while_infectious_and_one_minus_specificity_else() -> (
    None
):
    kind = Kind()
    assert kind.positive_after_infectious == []
    assert kind.sensitivity_presymptomatic is None
    run = a_run()
    who = course(run, 2, 4, 6)
    for day, law in [(1, 1 - kind.specificity), (3, kind.sensitivity), (5, kind.sensitivity)]:
        assert (testing.positive_chance(run.epi, who, day, kind) == law).all()
    assert (testing.positive_chance(run.epi, who, 6, kind) == 1 - kind.specificity).all()


def pool_share(run: RunSetup, day: int, state: list[str]) -> tuple[int, int]:
    """Pools of two on ``day`` whose members are, in turn, ``state[0]`` and ``state[1]``
    (``clean``: never infected, ``shed``: first day after infectiousness, ``inf``:
    infectious, symptomatic): (positive pools, pools), from the retests of positive pools."""
    epi = run.epi
    times = {"clean": (NEVER, NEVER, NEVER), "shed": (0, 3, 5), "inf": (0, 3, 9)}
    for member, name in enumerate(state):
        who = np.arange(member, N, 2)
        inf, sym, rec = times[name]
        epi.t_infected[who] = 0 if inf != NEVER else NEVER
        epi.t_infectious[who], epi.t_symptoms[who], epi.t_recovered[who] = inf, sym, rec
    st = DayState.new(len(run.population.network.layers), N, 1)
    cand = np.arange(N, dtype=np.int64)
    used, pools = testing._pooled(run, st, day, cand, cand.copy(), np.zeros(N, dtype=np.int64))
    assert pools == N // 2
    retested = used - pools  # two individual tests per positive pool (no invalid results)
    return retested // 2, pools


@pytest.mark.parametrize(
    ("members", "law"),
    [
        (["shed", "clean"], 0.8),  # one member within the list: its probability
        (["clean", "shed"], 0.8),  # whichever member it is
        (["inf", "shed"], 0.9),  # the largest member probability
        (["shed", "inf"], 0.9),  # not the first carrier's
        (["clean", "clean"], 0.01),  # nobody carries it: the false-positive rate
    ],
)
def test_a_pool_is_positive_with_its_largest_member_probability(
    members: list[str], law: float
) -> None:
    run = a_run(pool_size=2, pcr=PCR)
    hits, trials = pool_share(run, 5, members)
    assert within(hits, trials, law)


def test_a_value_outside_0_1_is_an_error_naming_the_field_and_index() -> None:
    with pytest.raises(ValidationError, match=r"positive_after_infectious\[1\] = 1.5"):
        Kind(positive_after_infectious=[0.5, 1.5])
    with pytest.raises(ValidationError, match="sensitivity_presymptomatic"):
        Kind(sensitivity_presymptomatic=-0.1)
    with pytest.raises(ValidationError, match="initial_recovered"):
        Scenario(initial_recovered=-1)


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Population:
    return from_sociopatterns(made_up_school(tmp_path_factory.mktemp("sp") / "school.csv"))


def screened(school: Population, after: list[float], seeds: int, recovered: int) -> LoopResult:
    """Every student screened on day 0 (the run's first school day) with a perfect PCR whose
    results arrive that day; ``recovered`` recently recovered seeds, a very contagious pathogen."""
    scenario = Scenario.model_validate(
        {
            "days": 14,
            "beta": 3.0,
            "initial_infections": seeds,
            "initial_recovered": recovered,
            "importation_per_100k_per_day": 0,
            "district_holidays": False,
            "vaccination": {"initial_share": {}},
            "symptomatic": {"share_tested": 0, "background_symptoms_per_day": 0},
            "screening": {"student_weekly_share_pct": 100, "student_consent_share": 1.0},
            "tests": {
                "pcr": {
                    "sensitivity": 1.0,
                    "specificity": 1.0,
                    "turnaround_days": 0,
                    "invalid_rate": 0.0,
                    "positive_after_infectious": after,
                },
                "antigen": {"specificity": 1.0},  # no false positive in test-to-stay
            },
        }
    )
    return run_policy(school, load_pathogen(scenario.pathogen), scenario, None, 5, Registry())


def test_recovered_seeds_are_neither_infectious_nor_infections_and_test_positive(
    school: Population,
) -> None:
    result = screened(school, [1.0], 0, 6)
    agents = result.agents
    assert agents is not None
    prior = np.flatnonzero(agents["t_infected"] != NEVER)
    assert prior.size == 6  # the recovered seeds, and nobody infected by them
    assert (agents["t_infectious"][prior] == 0).all()
    assert (agents["t_recovered"][prior] == 0).all()
    assert (agents["t_symptoms"][prior] == NEVER).all()
    assert result.outcomes["infections"] == 0
    assert result.outbreak["infections"] == 0
    students = int((agents["role"][prior] == 0).sum())
    assert students > 0  # screened on day 0 (their index 0): all positive, reported
    assert result.outcomes["cases_reported"] == students
    assert result.daily["cases_reported"][0] == students


def test_recovered_seeds_without_the_list_are_never_positive(school: Population) -> None:
    result = screened(school, [], 0, 6)
    assert result.outcomes["cases_reported"] == 0


def test_recovered_seeds_are_not_susceptible_and_apart_from_the_initial_infections(
    school: Population,
) -> None:
    result = screened(school, [], 4, 6)
    agents = result.agents
    assert agents is not None
    n = school.network.n
    before = agents["t_infected"] < 0  # infected before the seed day (day 0): the recovered
    assert int(before.sum()) == 6
    seeds = seed_agents(n, 4, 5)
    assert not before[seeds].any()
    # the run's chain grows beyond its seeds, never into the recovered seeds
    infected = (agents["t_infected"] != NEVER) & ~before
    assert result.outcomes["infections"] == int(infected.sum()) > 4
    assert (agents["t_infectious"][before] == agents["t_recovered"][before]).all()
