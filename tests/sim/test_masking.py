"""Masking decided by policy in the simulator (sim/masking.py; issue 16, item 6)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.pathogen import load_pathogen
from schoolmode.policy import model as m
from schoolmode.policy.loader import Registry
from schoolmode.sim.calendar import school_calendar
from schoolmode.sim.compare import load_population
from schoolmode.sim.loop import run_policy
from schoolmode.sim.masking import OPTIONAL, UNIVERSAL, UNSAID, MaskingPlan, mode_masking
from schoolmode.sim.network import Population
from schoolmode.sim.outcomes import LoopResult
from schoolmode.sim.scenario import Scenario
from tests.synth.test_district import PROFILES

CPS = "cps-masks-optional-2022-03-14"
CTU = "ctu-masks-by-vaccination-2022-03"
MASKS = {"homeroom": 0.5, "grade": 0.5, "school": 0.5, "staff": 0.5}
# March 2022 on eight schools whose students' vaccination differs widely (nobody previously
# infected), lively enough for in-school transmission to show in 24 days
SCENARIO = Scenario(
    start=dt.date(2022, 3, 1),
    days=24,
    beta=0.15,
    initial_infections=40,
    masking=MASKS,
    vaccination={"student_school_spread": 0.4},
)
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "masking-march-2022.yaml"
MARCH_14 = (dt.date(2022, 3, 14) - SCENARIO.start).days


@pytest.fixture(scope="module")
def population() -> Population:
    return load_population(str(PROFILES), 8)


@pytest.fixture(scope="module")
def policies() -> Registry:
    return Registry()


def run(
    population: Population, policy: m.Policy | None, seed: int = 1, scenario: Scenario = SCENARIO
) -> LoopResult:
    return run_policy(
        population, load_pathogen(scenario.pathogen), scenario, policy, seed, keep_gates=True
    )


def threshold(policy: m.Policy, pct: float) -> m.Policy:
    """The union's policy from the first day of the run, with another threshold."""
    param = policy.parameters["student_vaccination_threshold_pct"]
    first = param.values[0].model_copy(update={"value": Decimal(str(pct)), "from_": SCENARIO.start})
    params = {
        **policy.parameters,
        "student_vaccination_threshold_pct": param.model_copy(update={"values": [first]}),
    }
    term = m.Term.model_validate({"from": SCENARIO.start})
    return policy.model_copy(update={"parameters": params, "term": term})


def test_mode_codes_and_how_district_and_school_combine(policies: Registry) -> None:
    codes = mode_masking(policies.get(CPS).policy)
    assert codes.tolist() == [OPTIONAL, UNIVERSAL, UNSAID, UNSAID]  # + not in force, no data
    assert mode_masking(policies.get(CTU).policy)[:2].tolist() == [UNIVERSAL, OPTIONAL]
    silent = policies.get("cps-ctu-2022-01-10").policy
    assert not silent.decides_masking()
    assert (mode_masking(silent) == UNSAID).all()
    plan = MaskingPlan(codes, np.array([0]), np.array([0.5]), np.ones((2, 3)))
    school = np.array([0, 1, -1])  # optional, universal, not in force
    assert plan.masked(None, school, 3).tolist() == [False, True, True]
    assert plan.masked(1, school, 3).tolist() == [True, True, True]  # district universal
    assert plan.masked(0, school, 3).tolist() == [False, True, False]  # district optional
    assert plan.masked(0, None, 3).tolist() == [False, False, False]
    assert plan.masked(None, None, 3).tolist() == [True, True, True]  # says nothing
    plan.set_day(np.array([True, False, True]))
    assert plan.scale.tolist() == [[0.5, 1.0, 0.5], [1.0, 1.0, 1.0]]


def test_the_union_masks_the_schools_below_the_threshold_and_not_the_others(
    population: Population, policies: Registry
) -> None:
    result = run(population, policies.get(CTU).policy)
    assert result.engine is not None
    metrics = result.engine.metrics["school"]
    share = 100 * metrics["students_vaccinated"] / metrics["enrolled"]
    masked = np.array(result.masked)  # (days, schools)
    # before the union's term the scenario's masking holds in every school; on its first day,
    # 14 March, its default: universal masking
    assert masked[: MARCH_14 + 1].all()
    # from then on a school is masked the day after its share was below 50%, and only then
    for d in range(MARCH_14 + 1, SCENARIO.days):
        np.testing.assert_array_equal(masked[d], share[:, d - 1] < 50, err_msg=f"day {d}")
    after = masked[MARCH_14 + 1 :]
    assert after.any()  # the spread puts schools on both sides
    assert not after.all()
    # the vaccinated share differs by school with the spread, and hardly without it
    assert share[:, 0].max() - share[:, 0].min() > 20
    even = run(
        population,
        policies.get(CTU).policy,
        scenario=SCENARIO.model_copy(
            update={
                "vaccination": SCENARIO.vaccination.model_copy(update={"student_school_spread": 0})
            }
        ),
    )
    assert even.engine is not None
    even_share = (
        even.engine.metrics["school"]["students_vaccinated"][:, 0]
        / even.engine.metrics["school"]["enrolled"][:, 0]
    )
    assert even_share.max() - even_share.min() < 0.1  # one share for all, up to the draws


def test_cps_masks_every_school_until_march_14_and_none_after(
    population: Population, policies: Registry
) -> None:
    result = run(population, policies.get(CPS).policy)
    masked = np.array(result.masked)
    assert masked[:MARCH_14].all()
    assert not masked[MARCH_14:].any()
    # masked school-days: the open schools of the school days before 14 March
    school = school_calendar(SCENARIO.start, SCENARIO.days, SCENARIO.district_holidays)
    opened = (8 - result.daily["schools_remote"]) * school
    assert result.outcomes["masked_school_days"] == opened[:MARCH_14].sum() > 0


def test_masking_lowers_in_school_transmission_over_seeds(
    population: Population, policies: Registry
) -> None:
    """The union's rule from the first day with a threshold above 100% masks every school
    every day, one of 0 none (but on the first two days: before the engine's first decision,
    and its default): over eight seeds masking gives fewer in-school infections, on at least
    seven of them."""
    ctu = policies.get(CTU).policy
    masked_in, open_in = [], []
    for seed in range(8):
        masked = run(population, threshold(ctu, 101), seed)
        unmasked = run(population, threshold(ctu, 0), seed)
        assert np.array(masked.masked).all()
        assert not np.array(unmasked.masked)[2:].any()
        masked_in.append(masked.outcomes["infections_in_school"])
        open_in.append(unmasked.outcomes["infections_in_school"])
    masked_in_a, open_in_a = np.array(masked_in), np.array(open_in)
    assert masked_in_a.sum() < 0.8 * open_in_a.sum(), (masked_in, open_in)
    assert (masked_in_a < open_in_a).sum() >= 7, (masked_in, open_in)


@pytest.mark.parametrize("sampling", ["contact", "skip"])
def test_masking_or_not_on_one_seed_share_their_draws(
    population: Population, policies: Registry, sampling: str
) -> None:
    """Common random numbers in the loop: the union's rule masking every school against
    masking none, on one seed, are the same run until the first day they infect differently;
    that day the masked run infects a subset of the unmasked run's agents (the same draws
    kept under smaller probabilities). Skip draws whose gaps moved with masking failed this
    (1 to 4 agents infected only under masks, on each of four seeds)."""
    ctu = policies.get(CTU).policy
    scenario = SCENARIO.model_copy(update={"sampling": sampling, "beta": 0.3})
    for seed in range(2):
        masked = run(population, threshold(ctu, 101), seed, scenario).agents
        unmasked = run(population, threshold(ctu, 0), seed, scenario).agents
        assert masked is not None
        assert unmasked is not None
        t_m, t_u = masked["t_infected"], unmasked["t_infected"]
        first = next(d for d in range(scenario.days) if not np.array_equal(t_m == d, t_u == d))
        assert np.array_equal(np.minimum(t_m, first), np.minimum(t_u, first))
        only_masked = (t_m == first) & (t_u != first)
        assert (t_u == first).sum() > (t_m == first).sum() > 0
        assert not only_masked.any(), np.flatnonzero(only_masked)


def test_a_policy_silent_on_masking_keeps_the_scenario_constant(
    population: Population, policies: Registry
) -> None:
    """The January 2022 agreement says nothing about masks: every open school-day is masked
    when the scenario masks in school, none when it does not, and the kernel gets no table."""
    agreement = policies.get("cps-ctu-2022-01-10").policy
    result = run(population, agreement)
    assert np.array(result.masked).all()
    opened = result.daily["schools_masked"]
    assert result.outcomes["masked_school_days"] == opened.sum() > 0
    bare = run(population, agreement, scenario=SCENARIO.model_copy(update={"masking": {}}))
    assert bare.outcomes["masked_school_days"] == 0


def test_cli_compares_the_two_positions_with_masked_school_days(tmp_path: Path) -> None:
    """The documented command on four schools: the report gives masked school-days per position
    with intervals; the union's default keeps every school masked on 14 March, so it has more."""
    out = tmp_path / "report"
    args = ["sim", "compare", "--policies", f"{CPS},{CTU}", "--scenario", str(EXAMPLE)]
    args += ["--seeds", "2", "--days", "20", "--schools", "4"]
    result = CliRunner().invoke(app, [*args, "--profiles", str(PROFILES), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / "report.md").read_text()
    rows = [x for x in text.splitlines() if x.startswith("| school-days masked (school days) |")]
    assert len(rows) == 2  # per position, then the paired difference
    assert rows[0].count("[") == 2  # a mean and an interval per position
    outcomes = pl.read_csv(out / "outcomes.csv")
    masked = {
        p: outcomes.filter(pl.col("policy") == p)["masked_school_days"].to_list()
        for p in (CPS, CTU)
    }
    # CPS: the four schools on the nine school days before 14 March (no closures here)
    assert masked[CPS] == [36.0, 36.0]
    assert all(u > c for u, c in zip(masked[CTU], masked[CPS], strict=True))
    assert "in-person student-days" in text
