"""What one run of the policy loop knows from the start (``RunSetup``): the population's groups,
the infection state, the operational numbers in force, the school calendar, the engine, the
layer weights, importation, the test types and the per-agent draws that do not change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.engine.settings import Settings
from schoolmode.pathogen import Pathogen
from schoolmode.policy import model as m
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry, shipped_registry
from schoolmode.sim import rng
from schoolmode.sim.beta import auto_beta
from schoolmode.sim.calendar import engine_calendar, school_calendar
from schoolmode.sim.community import importation_rates, load_zip_cases
from schoolmode.sim.decide import DISTRICT_UNIT, LoopEngine, closed_mode_mask
from schoolmode.sim.groups import Groups
from schoolmode.sim.in_force import Operations
from schoolmode.sim.masking import MaskingPlan, masks_in_school
from schoolmode.sim.model import Epidemic
from schoolmode.sim.network import SCHOOL_LAYERS, Population
from schoolmode.sim.records import Records
from schoolmode.sim.scenario import Scenario, TestType


@dataclass
class RunSetup:
    """One run of one policy (or none) on one seed, as set up before day 0."""

    population: Population
    scenario: Scenario
    policy: m.Policy | None
    seed: int
    ops: Operations
    groups: Groups
    epi: Epidemic
    beta: float
    beta_cached: bool
    weights: np.ndarray
    """Layer weights times masking multipliers."""
    school_layers: np.ndarray
    community: int
    """Index of the community layer (-1: none) that is open every day."""
    off_school: np.ndarray
    """Layers that replace school time (``Population.off_school_layers``)."""
    recorded_day: np.ndarray
    """(days,) int: the recorded day of a time-resolved network whose layers a day opens
    (``Population.layer_day``; -1 on a day without school)."""
    day_layers: list[np.ndarray]
    """Per recorded day, its layers (empty: the network is not time-resolved)."""
    in_school_layer: np.ndarray
    school_day: np.ndarray
    engine: LoopEngine | None
    closed: np.ndarray
    """``closed[mode]``: whether a mode closes school layers (``decide.closed_mode_mask``)."""
    import_rates: np.ndarray | None
    zip_index: np.ndarray
    symptomatic_test: TestType
    screen_test: TestType
    tts_test: TestType
    consent: np.ndarray
    """(agents,) bool: a student consented to screening."""
    stay_home: np.ndarray
    """(agents,) bool: stays home when symptomatic."""
    records: Records | None
    keep_gates: bool
    active_list: bool
    seed_day: int = 0
    """Day of the initial infections (``seed_day``)."""
    masking: MaskingPlan | None = None
    """The policy's masking by school and day (None: the policy says nothing about masks, the
    scenario's masking is in ``weights``; ``masking.py``)."""
    masks_in_school: bool = False
    """Whether the scenario's masking multiplies an in-school layer (masked school-days)."""
    gates_kept: list[np.ndarray] = field(default_factory=list)
    orders_kept: list[np.ndarray] = field(default_factory=list)
    masked_kept: list[np.ndarray] = field(default_factory=list)

    def u(self, stream: int, who: np.ndarray, b: int = 0, c: int = 0) -> np.ndarray:
        """Counter-based uniforms of ``stream`` for agents ``who`` (``rng.uniforms``)."""
        return rng.uniforms(self.seed, stream, np.ascontiguousarray(who, dtype=np.int64), b, c)

    def order(self, kind: str, who: np.ndarray, day: int, last: np.ndarray) -> None:
        """Keep an isolation or quarantine order as a record (when ``keep_records``)."""
        if self.records is not None:
            self.records.order(kind, who, day, last)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def seed_day(scenario: Scenario, seed: int) -> int:
    """Day of the initial infections: 0, the first ``seed_weekday`` from the start, or for
    ``random`` one of the run's first seven days drawn for the seed."""
    chosen = scenario.seed_weekday
    if chosen is None:
        return 0
    if chosen == "random":
        u = rng.uniforms(seed, rng.SEED_WEEKDAY, np.zeros(1, dtype=np.int64), 0, 0)[0]
        return int(u * min(7, scenario.days))
    day = (WEEKDAYS.index(chosen) - scenario.start.weekday()) % 7
    if day >= scenario.days:
        raise SchoolmodeError(
            f"scenario seed_weekday {chosen!r}: the first {chosen} from {scenario.start} is day "
            f"{day}, after the run's {scenario.days} days (set more days or another weekday)"
        )
    return day


def run_calendar(population: Population, scenario: Scenario) -> np.ndarray:
    """(days,) bool: the run's school days, from the population's school weekdays and, where
    both the scenario and the population keep them, the synthetic CPS calendar's holidays."""
    holidays = scenario.district_holidays and population.holidays
    return school_calendar(scenario.start, scenario.days, holidays, population.school_weekdays)


def recorded_days(population: Population, school_day: np.ndarray) -> np.ndarray:
    """(days,) int: the recorded day each school day repeats (school day ``k`` of the run:
    ``k mod recorded_days``), -1 on the other days."""
    count = np.cumsum(school_day) - 1
    return np.where(school_day, count % max(population.recorded_days, 1), -1).astype(np.int64)


def _importation(
    population: Population, scenario: Scenario, zip_cases: pl.DataFrame | None
) -> tuple[np.ndarray | None, np.ndarray]:
    """Daily importation rates by ZIP and day, and each agent's ZIP (``zip-weekly-cases``)."""
    if scenario.importation.source != "zip-weekly-cases":
        return None, np.zeros(0, dtype=np.int64)
    if population.agent_zip is None:
        raise SchoolmodeError(
            "importation from weekly cases by ZIP needs a population with home ZIPs "
            "(network.from_district)"
        )
    imp = scenario.importation
    cases = zip_cases if zip_cases is not None else load_zip_cases(imp.cases_file)
    simulated = (
        np.bincount(population.agent_zip, minlength=len(population.zip_codes))
        if imp.outside_only
        else None
    )
    rates = importation_rates(
        cases,
        population.zip_codes,
        scenario.start,
        scenario.days,
        imp.ascertainment,
        imp.scale,
        simulated=simulated,
    )
    return rates, population.agent_zip


def _weights(population: Population, scenario: Scenario, decided: MaskingPlan | None) -> np.ndarray:
    """Layer weights times the scenario's masking multipliers, but on the in-school layers of
    a policy that decides masking (``decided``: there they act per school and day)."""
    weights = population.network.weights.copy()
    for name, w in scenario.layer_weights.items():
        weights[population.layers_called(name, "layer_weights")] = w
    for name, mult in scenario.masking.items():
        layers = population.layers_called(name, "masking")
        if decided is not None:
            layers = layers[~np.isin(layers, decided.layers)]
        weights[layers] *= mult
    return weights


def _weight_bound(population: Population, scenario: Scenario) -> np.ndarray:
    """Per layer, the largest weight any policy can give it: its weight, times a masking
    multiplier only where it is above 1 (``Epidemic.weight_bound``: the skip draws' gap law,
    the same for every policy on a scenario)."""
    bound = population.network.weights.copy()
    for name, w in scenario.layer_weights.items():
        bound[population.layers_called(name, "layer_weights")] = w
    for name, mult in scenario.masking.items():
        bound[population.layers_called(name, "masking")] *= max(1.0, mult)
    return bound


def _engine(
    population: Population,
    scenario: Scenario,
    policy: m.Policy,
    groups: Groups,
    school_day: np.ndarray,
    school_attributes: Mapping[str, list[str]],
    settings: Settings | None,
) -> LoopEngine:
    return LoopEngine(
        policy,
        {
            "district": [DISTRICT_UNIT],
            "school": list(population.school_ids),
            "grade": list(groups.grade_ids),
            "classroom": list(population.classroom_ids),
        },
        scenario.start,
        scenario.days,
        engine_calendar(scenario.start, scenario.days, school_day, population.school_weekdays),
        attributes={
            "school": dict(school_attributes),
            "grade": {"parent": [population.school_ids[s] for s in groups.grade_school]},
            "classroom": {
                "parent": [population.school_ids[s] if s >= 0 else "" for s in groups.room_school]
            },
        },
        window=scenario.engine_window_days,
        incremental=scenario.engine_incremental,
        settings=settings,
        act_on_eligible=scenario.act_on_eligible,
    )


def setup(
    population: Population,
    pathogen: Pathogen,
    scenario: Scenario,
    policy: m.Policy | None,
    seed: int,
    registry: Registry | None = None,
    keep_gates: bool = False,
    keep_records: bool = False,
    school_attributes: Mapping[str, list[str]] | None = None,
    settings: Settings | None = None,
    active_list: bool = True,
    zip_cases: pl.DataFrame | None = None,
    beta_cache: Path | None = None,
) -> RunSetup:
    """Everything a run needs before day 0 (the arguments of ``loop.run_policy``)."""
    if scenario.beta == "auto":
        beta, beta_cached = auto_beta(
            population,
            pathogen,
            scenario.layer_weights,
            beta_cache,
            scenario.symptomatic.stay_home_share,
            scenario.onset_day_fraction,
        )
    else:
        beta, beta_cached = float(scenario.beta), False
    import_rates, zip_index = _importation(population, scenario, zip_cases)
    ops = Operations.resolve(scenario, policy, registry or shipped_registry(), settings)
    net = population.network
    school_layers = population.layers_of(*SCHOOL_LAYERS)
    in_school_layer = np.zeros(len(net.layers), dtype=bool)
    in_school_layer[school_layers] = True
    epi = Epidemic(population, pathogen, seed)
    epi.sampling = scenario.sampling
    epi.weight_bound = _weight_bound(population, scenario)
    epi.presence_row[school_layers] = 0  # a measure starting during the day: gates.py
    off_school = np.array(population.off_school_layers, dtype=np.int64)
    community = np.setdiff1d(population.layers_of("community"), off_school)
    epi.presence_row[community] = 1
    groups = Groups.build(population, epi.agents, school_attributes or {})
    school_day = run_calendar(population, scenario)
    engine, closed = None, np.array([False, False, False], dtype=bool)
    masking: MaskingPlan | None = None
    if policy is not None:
        engine = _engine(
            population, scenario, policy, groups, school_day, school_attributes or {}, settings
        )
        closed = closed_mode_mask(policy, scenario.closed_modes)
        masking = MaskingPlan.build(population, scenario, policy, groups.n_schools)
        if masking is not None:
            epi.school_of = np.ascontiguousarray(groups.school, dtype=np.int64)
            epi.school_scale = masking.scale
    n = net.n
    agents = np.arange(n, dtype=np.int64)
    consent = (
        rng.uniforms(seed, rng.CONSENT, agents, 0, 0) < scenario.screening.student_consent_share
    )
    stay_home = (
        rng.uniforms(seed, rng.STAY_HOME, agents, 0, 0) < scenario.symptomatic.stay_home_share
    )
    return RunSetup(
        population=population,
        scenario=scenario,
        policy=policy,
        seed=seed,
        ops=ops,
        groups=groups,
        epi=epi,
        beta=beta,
        beta_cached=beta_cached,
        weights=_weights(population, scenario, masking),
        school_layers=school_layers,
        community=int(next(iter(community), -1)),
        off_school=off_school,
        recorded_day=recorded_days(population, school_day),
        day_layers=[
            np.flatnonzero(np.array(population.layer_day) == k)
            for k in range(population.recorded_days if population.layer_day else 0)
        ],
        in_school_layer=in_school_layer,
        school_day=school_day,
        engine=engine,
        closed=closed,
        import_rates=import_rates,
        zip_index=zip_index,
        symptomatic_test=scenario.test(scenario.symptomatic.test),
        screen_test=scenario.test(scenario.screening.test),
        tts_test=scenario.test(scenario.tracing.test_to_stay_test),
        consent=consent,
        stay_home=stay_home,
        records=Records(population, scenario.start, pathogen.name) if keep_records else None,
        keep_gates=keep_gates,
        active_list=active_list,
        seed_day=seed_day(scenario, seed),
        masking=masking,
        masks_in_school=masks_in_school(population, scenario),
    )
