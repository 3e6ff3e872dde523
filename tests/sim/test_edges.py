"""The simulator at its edges (issue 16, item 3): seeds that start exposed or infectious, on a
chosen or random weekday; a rule that counts to date decides in the loop as over the whole
history; a measure that starts during a day leaves a fraction of it (``onset_day_fraction``);
policies are read once per sweep."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.engine.grid import Calendar
from schoolmode.engine.settings import Settings
from schoolmode.engine.window import counts_to_date, policy_window
from schoolmode.pathogen import load_pathogen
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry, shipped_registry
from schoolmode.sim.decide import LoopEngine
from schoolmode.sim.loop import run_policy
from schoolmode.sim.model import seed_agents
from schoolmode.sim.network import Population, build, from_sociopatterns
from schoolmode.sim.outcomes import LoopResult
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.setup import seed_day
from schoolmode.sim.state import new_agents
from tests.sim.test_any_population import made_up_school
from tests.sim.test_sim import simple_pathogen
from tests.synth.test_district import PROFILES

AGREEMENT = "cps-ctu-2022-01-10"
START = dt.date(2022, 1, 11)  # a Tuesday
BASE = {
    "days": 30,
    "beta": 3.0,
    "start": START,
    "initial_infections": 4,
    "importation_per_100k_per_day": 0,
    "vaccination": {"initial_share": {}},
    "district_holidays": False,  # school layers open every day: the seeds' day is all that moves
}


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Population:
    return from_sociopatterns(made_up_school(tmp_path_factory.mktemp("sp") / "school.csv"))


@pytest.fixture(scope="module")
def registry() -> Registry:
    return shipped_registry()


def go(school: Population, registry: Registry, seed: int, **extra: object) -> LoopResult:
    scenario = Scenario.model_validate({**BASE, **extra})
    return run_policy(
        school, load_pathogen(scenario.pathogen), scenario, None, seed, registry, keep_records=True
    )


def test_infectious_seeds_transmit_on_their_day_with_the_same_course(
    school: Population, registry: Registry
) -> None:
    n = school.network.n
    same_day = 0
    for seed in range(1, 9):
        exposed = go(school, registry, seed)
        infectious = go(school, registry, seed, seed_state="infectious")
        assert exposed.agents is not None
        assert infectious.agents is not None
        seeds = seed_agents(n, 4, seed)
        e, i = exposed.agents[seeds], infectious.agents[seeds]
        assert (e["t_infected"] == 0).all()
        assert (i["t_infected"] == 0).all()
        assert (e["t_infectious"] >= 1).all()  # exposed: latent for at least a day
        assert (i["t_infectious"] == 0).all()  # infectious from their day
        latent = e["t_infectious"]
        # the rest of the natural history keeps its drawn lengths, earlier by the latent period
        assert np.array_equal(i["t_recovered"], e["t_recovered"] - latent)
        sym = e["t_symptoms"] != np.iinfo(np.int32).max
        assert np.array_equal(i["t_symptoms"][sym], e["t_symptoms"][sym] - latent[sym])
        # exposed seeds infect nobody on day 0; infectious ones can
        assert not ((exposed.agents["t_infected"] == 0) & (exposed.agents["infector"] >= 0)).any()
        same_day += int(
            ((infectious.agents["t_infected"] == 0) & (infectious.agents["infector"] >= 0)).sum()
        )
    assert same_day > 0, "no infectious seed transmitted on its day"


def test_seeds_start_on_the_chosen_weekday(school: Population, registry: Registry) -> None:
    result = go(school, registry, 3, seed_weekday="sat")
    assert result.agents is not None
    seeds = seed_agents(school.network.n, 4, 3)
    assert (result.agents["t_infected"][seeds] == 4).all()  # Tue 11 Jan -> Sat 15 Jan, day 4
    infected = result.agents["t_infected"][result.agents["t_infected"] != np.iinfo(np.int32).max]
    assert infected.min() == 4  # nothing before the seeds (no importation)
    assert result.daily["new_infections"][:4].sum() == 0
    assert result.daily["new_infections"][4] >= 4
    assert result.outbreak["seed_day"] == 4
    assert seed_day(Scenario(start=START), 0) == 0
    assert seed_day(Scenario(start=START, seed_weekday="tue"), 0) == 0
    assert seed_day(Scenario(start=START, seed_weekday="mon"), 0) == 6


def test_a_random_weekday_is_drawn_per_seed_within_the_first_week() -> None:
    scenario = Scenario(start=START, seed_weekday="random")
    days = [seed_day(scenario, s) for s in range(60)]
    assert set(days) == set(range(7))  # every weekday is drawn
    assert days == [seed_day(scenario, s) for s in range(60)]  # the same for a seed
    short = Scenario(start=START, days=3, seed_weekday="random")
    assert {seed_day(short, s) for s in range(60)} == {0, 1, 2}


def test_a_weekday_after_the_run_is_an_error_naming_the_field() -> None:
    with pytest.raises(SchoolmodeError, match=r"seed_weekday 'mon'.*day 6, after the run's 5 days"):
        seed_day(Scenario(start=START, days=5, seed_weekday="mon"), 0)


def test_the_cli_takes_the_seed_state_and_weekday(tmp_path: Path) -> None:
    contacts = made_up_school(tmp_path / "school.csv")
    out = tmp_path / "out"
    args = ["sim", "run", "--policy", "none", "--contacts", str(contacts), "--seeds", "2"]
    args += ["--days", "12", "--param", "initial_infections=2", "--seed-state", "infectious"]
    args += ["--seed-weekday", "thu", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    runs = pl.read_csv(out / "runs.csv")
    assert runs["seed_day"].to_list() == [2, 2]  # Tue 11 Jan -> Thu 13 Jan
    assert runs["seed_state"].to_list() == ["infectious"] * 2
    assert runs["seed_weekday"].to_list() == ["thu"] * 2
    assert '"seed_state": "infectious"' in (out / "report.md").read_text()
    bad = CliRunner().invoke(app, [*args[:-4], "--seed-weekday", "someday", "--out", str(out)])
    assert bad.exit_code == 2
    assert "--seed-weekday" in bad.output


OUTBREAK = "idph-outbreak-2021-10-15"


def outbreak_engine(registry: Registry, window: int | None) -> LoopEngine:
    """The IDPH outbreak definition with prong 1 counting every case of a core group to date,
    decided day by day over 210 days of made-up classroom cases: c1 has one case on day 3 and
    one on day 200 (two of 20, 10%: an outbreak only when counting to date), c2 two on day 100."""
    days = 210
    engine = LoopEngine(
        registry.get(OUTBREAK).policy,
        {"district": ["district"], "school": ["s"], "classroom": ["c1", "c2"]},
        dt.date(2021, 11, 1),
        days,
        Calendar(),
        settings=Settings(interpretations={"conditions_apply_to_prong1": False}),
        window=window,
    )
    cases = np.zeros((2, days), dtype=np.int64)
    cases[0, 3] = cases[0, 200] = 1
    cases[1, 100] = 2
    for d in range(days):
        engine.record("classroom", "core_group_cases", d, cases[:, d])
        engine.record("classroom", "qualifying_cases", d, np.zeros(2, dtype=np.int64))
        engine.record("classroom", "group_size", d, np.full(2, 20, dtype=np.int64))
        engine.decide(d)
    return engine


def test_a_rule_counting_to_date_decides_in_the_loop_as_the_whole_history(
    registry: Registry,
) -> None:
    policy = registry.get(OUTBREAK).policy
    assert counts_to_date(policy)
    assert not counts_to_date(registry.get(AGREEMENT).policy)
    default, whole = outbreak_engine(registry, None), outbreak_engine(registry, 0)
    assert np.array_equal(default.modes["classroom"], whole.modes["classroom"])
    assert default.authorisations == whole.authorisations
    authorised = {
        (unit, (day - dt.date(2021, 11, 1)).days) for unit, day, _ in whole.authorisations
    }
    assert ("c1", 201) in authorised  # the second case of c1, 197 days after its first
    # the policy's trailing window alone (175 days) misses c1's first case: the bug this fixes
    trailing = outbreak_engine(registry, policy_window(policy))
    assert ("c1", 201) not in {
        (unit, (day - dt.date(2021, 11, 1)).days) for unit, day, _ in trailing.authorisations
    }
    assert not np.array_equal(trailing.modes["classroom"], whole.modes["classroom"])


def test_policies_are_read_once_per_sweep(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A sweep of two values x two seeds reads each policy file once (per process: each Dask
    worker keeps its registry), and a second sweep in the same process reads none."""
    from schoolmode.policy import loader
    from schoolmode.sim import sweep

    reads: list[Path] = []
    real = loader.read_file

    def counted(path: Path, cache_dir: Path | None = None) -> object:
        reads.append(path)
        return real(path, cache_dir)

    monkeypatch.setattr(loader, "read_file", counted)
    loader._shipped.cache_clear()
    sweep._registry.cache_clear()
    scenario = Scenario(days=5, initial_infections=5, vaccination={"initial_share": {}})
    args = (scenario, [AGREEMENT, "none"], [1, 2], "tracing.delay_days", ["0", "1"])
    rows = sweep.run_sweep(*args, profiles=str(PROFILES), schools=2)
    assert rows.height == 8
    files = sorted(loader.default_policy_dir().glob(f"*/{loader.POLICY_FILE}"))
    assert sorted(reads) == files  # every shipped policy file, each once
    reads.clear()
    sweep.run_sweep(*args, profiles=str(PROFILES), schools=2)
    assert reads == []
    # a folder of one's own: its files once, the shipped ones not again
    own = tmp_path / "policies" / "mine"
    own.mkdir(parents=True)
    (own / loader.POLICY_FILE).write_text(
        (loader.default_policy_dir() / AGREEMENT / loader.POLICY_FILE)
        .read_text()
        .replace(f"id: {AGREEMENT}", "id: mine", 1)
    )
    sweep.run_sweep(
        scenario,
        ["mine"],
        [1, 2],
        "tracing.delay_days",
        ["0", "1"],
        profiles=str(PROFILES),
        schools=2,
        policy_root=str(own.parent),
    )
    assert reads == [own / loader.POLICY_FILE]
    loader._shipped.cache_clear()
    sweep._registry.cache_clear()


def pairs(count: int) -> Population:
    """``count`` classrooms of two students each, one homeroom contact per classroom (weight
    1), nothing else: each pair with one seed is one trial of one exposure."""
    n = 2 * count
    first = np.arange(0, n, 2)
    network = build(n, {"homeroom": (first, first + 1)}, {"homeroom": 1.0})
    agents = new_agents(n)
    agents["age"] = 10
    agents["school"] = 0
    agents["classroom"] = np.arange(n) // 2
    return Population(
        agents, network, [f"P{i}" for i in range(n)], ["S"], [f"C{i}" for i in range(count)]
    )


def attack_in_pairs(fraction: float, symptomatic: dict[str, object]) -> float:
    """Share of the seeds' classmates infected, over pairs with exactly one seed: infectious
    seeds with symptoms from day 0 (fixed 1-day latency, 3 infectious days), beta ln 2 (a
    whole day together infects with probability 1/2)."""
    population = pairs(1000)
    scenario = Scenario.model_validate(
        {
            **BASE,
            "beta": math.log(2),
            "initial_infections": 500,
            "seed_state": "infectious",
            "onset_day_fraction": fraction,
            "symptomatic": {"background_symptoms_per_day": 0, **symptomatic},
            "tests": {
                "pcr": {
                    "sensitivity": 1,
                    "specificity": 1,
                    "turnaround_days": 1,
                    "invalid_rate": 0,
                },
                "antigen": {},
            },
            "days": 12,
        }
    )
    registry = Registry()
    pathogen = simple_pathogen(latent=1, infectious=3)
    hit = trials = 0
    for seed in range(4):
        result = run_policy(population, pathogen, scenario, None, seed, registry)
        assert result.agents is not None
        seeded = np.zeros(population.network.n, dtype=bool)
        seeded[seed_agents(population.network.n, 500, seed)] = True
        pair_seeded = seeded.reshape(-1, 2)
        one = pair_seeded.sum(axis=1) == 1
        infected = (result.agents["t_infected"] != np.iinfo(np.int32).max).reshape(-1, 2)
        hit += int(infected[one].all(axis=1).sum())
        trials += int(one.sum())
    assert trials > 1000
    return hit / trials


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_staying_home_from_the_onset_day_leaves_a_fraction_of_it(fraction: float) -> None:
    """A seed ill from day 0 stays home from then on: its classmate's only exposure is the
    part of day 0 before it goes home, infected with probability 1 - exp(-beta f)."""
    attack = attack_in_pairs(fraction, {"share_tested": 0, "stay_home_share": 1})
    expected = 1 - math.exp(-math.log(2) * fraction)
    assert attack == pytest.approx(expected, abs=0.05)  # about 4 standard errors


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_isolation_takes_effect_within_the_report_day(fraction: float) -> None:
    """A seed tested on its onset day (day 0, result the next day) attends day 0 and is
    isolated during day 1: exposure 1 + f days, infection 1 - exp(-beta (1 + f))."""
    attack = attack_in_pairs(fraction, {"share_tested": 1, "stay_home_share": 0})
    expected = 1 - math.exp(-math.log(2) * (1 + fraction))
    assert attack == pytest.approx(expected, abs=0.05)
