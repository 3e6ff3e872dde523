"""Scenario files: what a simulated comparison runs (pathogen, seeds, days, testing, ...).

A scenario is YAML validated by :class:`Scenario`; every field has a documented default, so an
empty file is a valid scenario. Operational numbers that a policy states (quarantine and
isolation days, screening shares, test-to-stay) come from the policy in force, not from here;
the scenario's values are used only where the policy is silent (see ``docs/simulator.md``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from ruamel.yaml import YAML

from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.yamlio import load_yaml, validate
from schoolmode.sim.outbreaks import default_large
from schoolmode.sim.state import ROLES


def _finite_non_negative(value: list[float]) -> list[float]:
    if any(v < 0 or not math.isfinite(v) for v in value):
        raise ValueError("every value must be a finite number >= 0")
    return value


WeeklyFactors = Annotated[list[float], AfterValidator(_finite_non_negative)]
"""Multipliers by week of a run (``week_factor``)."""


def week_factor(factors: Sequence[float], week: int) -> float:
    """``factors`` of run week ``week`` (0: the first): the last value repeated for later weeks,
    1 when empty."""
    if not factors:
        return 1.0
    return factors[min(week, len(factors) - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TestType(_Strict):
    """A test's accuracy and logistics (per test, or per pool for pooled screening)."""

    sensitivity: float = Field(0.9, ge=0, le=1)
    """Probability that an infectious person tests positive."""
    specificity: float = Field(0.998, ge=0, le=1)
    """Probability that a person who is not infectious tests negative."""
    turnaround_days: int = Field(1, ge=0)
    """Days from specimen to reported result."""
    invalid_rate: float = Field(0.02, ge=0, lt=1)
    """Share of results that are invalid; an invalid test is repeated the next day."""
    max_attempts: int = Field(3, ge=1)
    """Attempts before a person is given up on (no result)."""
    sensitivity_presymptomatic: float | None = Field(None, ge=0, le=1)
    """Probability that an infectious person tests positive before symptom onset (a
    symptomatic infection's presymptomatic days); None: ``sensitivity``."""
    positive_after_infectious: list[float] = Field(default_factory=list)
    """Probability of a positive result on each day after infectiousness ends (index 0: the
    first day no longer infectious), e.g. a PCR's RNA shedding after recovery; it replaces the
    false-positive rate on those days. Beyond the list (and when empty, the default): the
    false-positive rate ``1 - specificity`` as for anyone not infectious."""

    @field_validator("positive_after_infectious")
    @classmethod
    def _probabilities(cls, value: list[float]) -> list[float]:
        for i, v in enumerate(value):
            if not (0 <= v <= 1):
                raise ValueError(
                    f"positive_after_infectious[{i}] = {v}: each value must be in [0, 1]"
                )
        return value


def _default_tests() -> dict[str, TestType]:
    return {
        "pcr": TestType(sensitivity=0.95, specificity=0.998, turnaround_days=2, invalid_rate=0.02),
        "antigen": TestType(
            sensitivity=0.7, specificity=0.99, turnaround_days=0, invalid_rate=0.01
        ),
    }


class SymptomaticTesting(_Strict):
    test: str = "pcr"
    share_tested: float = Field(0.6, ge=0, le=1)
    """Share of people with symptoms who get a test on the day symptoms start."""
    share_tested_by_role: dict[str, float] = Field(default_factory=dict)
    """``share_tested`` of the named roles (``student``, ``classroom_teacher``,
    ``other_staff``, ``household_adult``); the others take ``share_tested``. Empty (default):
    one share for all."""
    stay_home_share: float = Field(0.5, ge=0, le=1)
    """Share of people with symptoms who stay home while symptomatic (an illness absence)."""
    background_symptoms_per_day: float = Field(0.001, ge=0, le=1)
    """Daily probability that a person without the infection has symptoms and gets tested."""

    @field_validator("share_tested_by_role")
    @classmethod
    def _known_roles(cls, value: dict[str, float]) -> dict[str, float]:
        for role, share in value.items():
            if role not in ROLES:
                raise ValueError(
                    f"share_tested_by_role: unknown role {role!r} (roles: {', '.join(ROLES)})"
                )
            if not 0 <= share <= 1:
                raise ValueError(f"share_tested_by_role[{role}] = {share}: must be in [0, 1]")
        return value

    def shares_by_role(self) -> list[float]:
        """The share tested of each role of ``state.ROLES``, in that order."""
        return [self.share_tested_by_role.get(r, self.share_tested) for r in ROLES]


class Screening(_Strict):
    test: str = "pcr"
    staff_weekly_share_pct: float | None = Field(None, ge=0, le=100)
    """Share of staff screened each week; None: the policy's ``staff_tested_share_other_pct``
    if it has one, else 0."""
    student_weekly_share_pct: float | None = Field(None, ge=0, le=100)
    """Share of enrolled students screened each week (drawn from consented students); None:
    the policy's ``student_random_testing_share_pct`` if it has one, else 0."""
    student_consent_share: float = Field(0.4, ge=0, le=1)
    """Share of students whose parents consented to screening."""
    top_zip_count: int | None = Field(None, ge=0)
    """Schools in the ZIPs with the most cases reported over the last 7 days (this many ZIPs)
    screen the top-ZIP shares; None: the policy's ``student_testing_top_zip_count``, else 0."""
    top_zip_student_share_pct: float | None = Field(None, ge=0, le=100)
    """None: the policy's ``student_tested_share_top_zip_pct``, else 0."""
    top_zip_staff_share_pct: float | None = Field(None, ge=0, le=100)
    """Staff share at top-ZIP schools; None: the policy's ``staff_tested_share_priority_pct``,
    else 0."""
    pool_size: int = Field(1, ge=1)
    """Students per Dorfman pool (1: individual tests). Positive pools are retested one by one."""
    weekday: int = Field(0, ge=0, le=4)
    """Weekday of the weekly screening (0 Monday); moved to the next school day if closed."""
    student_weekly_factors: WeeklyFactors = Field(default_factory=list)
    """Multiplier of the students' screening shares (the weekly and the top-ZIP one, at most
    100%) in each week of the run: index 0 for the week (Monday to Sunday) holding ``start``,
    the last value repeated for later weeks; empty (default): 1. For a screened share that
    varied week by week, such as a protocol's weekly adherence (docs/simulator.md,
    "Screening")."""

    def student_factor(self, week: int) -> float:
        """The multiplier of ``student_weekly_factors`` in run week ``week``."""
        return week_factor(self.student_weekly_factors, week)


class Tracing(_Strict):
    delay_days: int = Field(1, ge=0)
    """Days from a case's report to its contacts' quarantine orders."""
    capacity_per_day: int | None = Field(None, ge=0)
    """Cases the tracers can handle per day (None: unlimited); the rest wait in a queue."""
    quarantine_days: int | None = Field(None, ge=0)
    """None: the quarantine period in force (``operations.tracing.rules_in_force``) or the
    policy's ``quarantine_days`` parameter."""
    isolation_days: int | None = Field(None, ge=0)
    """None: the isolation period in force or the policy's ``isolation_days`` parameter."""
    test_to_stay: bool | None = None
    """None: test-to-stay where the rules in force allow it."""
    test_to_stay_test: str = "antigen"
    test_to_stay_days: list[int] | None = None
    """Days after the last exposure (day 0) on which a close contact staying in school is
    tested; None: the test-to-stay policy's ``test_days`` (IDPH: 1, 3, 5 and 7)."""
    household: bool = True
    """Household members of a case quarantine too."""


INITIAL_VACCINATION_2022_01_10 = {
    "student": 0.44,
    "classroom_teacher": 0.74,
    "other_staff": 0.74,
    "household_adult": 0.74,
}
"""Share with a completed vaccine series by 2022-01-10 in Chicago: CDPH vaccinations by ZIP
(553k-3xzc, the data folder's ``chicago-vaccination-zip``), cumulative ``Vaccine Series Completed``
of ages 5+ minus 18+ (171,704) over the ACS 2019 population 5-17 (391,307) for students, and
of ages 18+ (1,587,922) over the population 18+ (2,138,535) for adults; staff are given the
adult share (an assumption: CPS staff were under a vaccination requirement, so likely more)."""


class Vaccination(_Strict):
    weekly_doses: int | None = Field(None, ge=0)
    """Doses given each week (second doses first); None: the policy's
    ``first_doses_per_week`` if it has one, else none."""
    priority: list[str] = Field(
        default_factory=lambda: ["classroom_teacher", "other_staff", "student", "household_adult"]
    )
    dose_interval_days: int = Field(21, ge=1)
    protection_delay_days: int = Field(14, ge=0)
    efficacy: float = Field(0.3, ge=0, le=1)
    """Reduction of susceptibility from ``protection_delay_days`` after the second dose."""
    initial_share: dict[str, float] = Field(
        default_factory=lambda: dict(INITIAL_VACCINATION_2022_01_10)
    )
    """Share of each role fully vaccinated and protected before day 0 (default: Chicago on
    2022-01-10, ``INITIAL_VACCINATION_2022_01_10``, for the default start date)."""
    student_school_spread: float = Field(0.0, ge=0, le=1)
    """How far a school's initial student share strays from ``initial_share['student']``: each
    school's share is that plus a uniform offset in [-spread, +spread] drawn per school and
    seed (stream ``VACCINE_SCHOOL``), clipped to 0..1. 0 (default): one share for every school.
    An assumption: CPS students' vaccination differed widely by school in 2022 (the union's
    argument), but no per-school series was retrieved."""


class Importation(_Strict):
    """Infections from outside the simulated population (docs/simulator.md, "Community by
    ZIP")."""

    source: Literal["flat", "zip-weekly-cases"] = "flat"
    """``flat``: ``importation_per_100k_per_day`` for every agent; ``zip-weekly-cases``: each
    agent's daily probability is its home ZIP's reported cases per person per day in the CDPH
    weekly cases by ZIP over the simulated dates (``community_indicator`` ``cases_weekly`` of
    ``cdph-zip-weekly``), divided by ``ascertainment`` and times ``scale``."""
    ascertainment: float = Field(0.25, gt=0, le=1)
    """Share of infections reported as cases (assumption; CDC estimated 1 in 7.7 infections
    reported in February-September 2020, Reese et al. 2021, with testing scarcer then)."""
    scale: float = Field(1.0, ge=0)
    """Multiplier of the ZIP's infection rate (assumption: an agent's exposure outside the
    simulated population equals that of an average resident of its ZIP)."""
    cases_file: Path | None = None
    """CDPH weekly cases by ZIP CSV (None: the data folder's)."""
    outside_only: bool = False
    """With ``zip-weekly-cases``: import only the infections from outside the simulated
    population, the ZIP's rate times the share of its residents who are not simulated agents
    (``community.importation_rates``' ``simulated``). CDPH's cases count the infections the
    agents give each other too, which the simulation makes itself; False (default): the whole
    ZIP rate, as before (``sim validate`` sets True)."""
    weekly_factors: WeeklyFactors = Field(default_factory=list)
    """Multiplier of the importation probability (either source) in each week of the run:
    index 0 for days 0-6 from ``start``, 1 for days 7-13, ..., the last value repeated for
    later weeks; empty (default): 1 every week. For a wave whose course is known, e.g. a
    study's introductions per week falling as the wave passes (docs/simulator.md,
    "Importation by week")."""

    def factor(self, day: int) -> float:
        """The multiplier of ``weekly_factors`` on run day ``day``."""
        return week_factor(self.weekly_factors, day // 7)


class Immunity(_Strict):
    """Protection before day 0 other than vaccination (``vaccination.initial_share``)."""

    source: Literal["given", "data"] = "given"
    """``given``: ``prior_infection_share`` and ``vaccination.initial_share`` as set; ``data``:
    both computed from Chicago's data for the day before ``start`` (``sim.immunity_data``:
    CDPH vaccinations and cases by age over the ACS population), replacing what is set."""
    prior_infection_share: dict[str, float] = Field(default_factory=dict)
    """Share of each role protected by a prior infection (drawn independently of
    vaccination)."""
    protection: float = Field(0.5, ge=0, le=1)
    """Reduction of susceptibility of a previously infected agent (assumption)."""
    ascertainment: float = Field(0.4, gt=0, le=1)
    """With ``source: data``: the share of infections reported as cases up to the start
    (assumption: no seroprevalence survey of Chicago by age is in the shipped data; CDC
    estimated 1 in 7.7 infections reported in February-September 2020, Reese et al. 2021, with
    testing far scarcer then than in 2021)."""
    max_prior_share: float = Field(0.9, gt=0, le=1)
    """With ``source: data``: the previously infected share of a role is at most this."""


class Scenario(_Strict):
    """One simulated comparison (all defaults documented in docs/simulator.md)."""

    pathogen: str = "covid-omicron"
    """A shipped pathogen's name (``schoolmode/pathogens/<name>.yaml``) or a pathogen YAML file;
    in a scenario file, a relative file path is taken from the scenario file's folder."""
    beta: float | Literal["auto"] = "auto"
    """Daily hazard of a contact of weight 1 (see ``SimConfig.beta``); ``auto``: calibrated
    to the pathogen's R0 on the population, nobody immune (``sim.beta``: the early growth rate
    from 50,000 agents, the mean direct offspring of one case below), cached per population
    and pathogen."""
    seeds: int = Field(10, ge=1)
    first_seed: int = 0
    days: int = Field(60, ge=1)
    start: dt.date = dt.date(2022, 1, 11)
    initial_infections: int = Field(200, ge=0)
    seed_state: Literal["exposed", "infectious", "staged"] = "exposed"
    """State of the initial infections on their day: ``exposed`` (infected that day, latent
    first), ``infectious`` (latent period over: they transmit that day) or ``staged`` (spread
    over the stages of infection as an epidemic under way leaves them, the infections of the
    days before weighted by ``seed_history``; ``sim.seeding``)."""
    initial_recovered: int = Field(0, ge=0)
    """Recently recovered agents at the seed day (``sim.seeding``): their infectiousness ended
    just before it (the seed day is their first day no longer infectious, index 0 of a test
    type's ``positive_after_infectious``); not susceptible, never infectious in the run, not
    counted as the run's infections, but they can test positive by that list (their positive
    results are reported cases as any other). Drawn apart from the initial infections."""
    seed_history: list[float] = Field(default_factory=list)
    """With ``seed_state: staged``: the relative infections of each day before the seed day,
    the latest first (index 0: the seed day itself), the last value repeated further back;
    empty: flat (``sim validate`` sets the city's reported cases of the days before the
    start)."""
    seed_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "random"] | None = None
    """Weekday of the initial infections: the first such day from ``start``; ``random``: one of
    the run's first seven days, drawn per seed (stream ``SEED_WEEKDAY``); None: day 0."""
    importation_per_100k_per_day: float = Field(5.0, ge=0)
    """Infections from outside the district per 100,000 agents per day (``importation.source``
    ``flat``)."""
    importation: Importation = Importation()
    immunity: Immunity = Immunity()
    layer_weights: dict[str, float] = Field(default_factory=dict)
    """Per-contact daily weights replacing ``NetworkConfig``'s for the named layers."""
    masking: dict[str, float] = Field(default_factory=dict)
    """Transmission multiplier per layer while masking (e.g. ``homeroom: 0.6``); 1 if absent."""
    tests: dict[str, TestType] = Field(default_factory=_default_tests)
    symptomatic: SymptomaticTesting = SymptomaticTesting()
    screening: Screening = Screening()
    tracing: Tracing = Tracing()
    vaccination: Vaccination = Vaccination()
    substitute_cover_share: float = Field(0.5, ge=0, le=1)
    """Probability that a teacher's COVID-19 absence is covered by a substitute."""
    act_on_eligible: bool = True
    """Whether the deciding body acts the next day on a rule that makes a unit *eligible*."""
    closed_modes: list[str] = Field(default_factory=lambda: ["remote", "closed", "pause"])
    """A mode whose id contains one of these words closes the unit's school layers."""
    engine_window_days: int | None = None
    """Trailing days the engine re-evaluates each day (None: computed from the policy, the
    whole history for rules that count to date; 0: the whole history)."""
    sampling: Literal["contact", "skip"] = "skip"
    """Transmission's draws (``SimConfig.sampling``, docs/simulator.md "Two ways of drawing
    transmission"): ``skip`` (the default), only the contacts that may transmit, by geometric
    gaps; ``contact``, one uniform per contact of an infectious agent (the default before
    2026-12-04). The same law, other numbers; both keep the common random numbers of two
    policies on one seed."""
    engine_incremental: bool = True
    """Evaluate only the units whose metrics changed, deciding days ahead while they do not
    (``sim/decide.py``; identical modes); False: every unit every day (the plain path)."""
    district_holidays: bool = True
    """Weekends and the synthetic calendar's holidays close school layers."""
    onset_day_fraction: float = Field(0.5, ge=0, le=1)
    """Share of the day an agent is still there on the day a measure starts during it: the
    symptom-onset day of a case who stays home ill, the report day of a case isolated on a
    result that arrives that day (docs/simulator.md, "Part of a day"). 0.5: the onset or the
    call comes at a uniform time of the day, so half of it is spent before."""
    large_outbreak: int | None = Field(None, ge=1)
    """A run is a large outbreak when its seeded chain reaches this many infections, seeds
    included (``outbreaks.csv``; the final-size plot shows where it falls); None: ten times
    ``initial_infections`` (``outbreaks.default_large``)."""

    @property
    def large_threshold(self) -> int:
        """``large_outbreak``, or its default."""
        if self.large_outbreak is not None:
            return self.large_outbreak
        return default_large(self.initial_infections)

    @field_validator("seed_history")
    @classmethod
    def _non_negative_history(cls, value: list[float]) -> list[float]:
        if any(v < 0 or not math.isfinite(v) for v in value):
            raise ValueError("seed_history: every value must be a finite number >= 0")
        if value and sum(value) == 0:
            raise ValueError("seed_history: at least one value must be above 0")
        return value

    @field_validator("beta")
    @classmethod
    def _positive_beta(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and value <= 0:
            raise ValueError("beta must be above 0 (or auto)")
        return value

    def test(self, name: str) -> TestType:
        if name not in self.tests:
            raise SchoolmodeError(
                f"scenario names test type {name!r} but defines only {', '.join(sorted(self.tests))}"
            )
        return self.tests[name]

    def with_param(self, name: str, value: str) -> Scenario:
        """A copy with one field set by a dotted name (``tracing.delay_days=2``)."""
        data: dict[str, Any] = self.model_dump()
        parts = name.split(".")
        node = data
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise SchoolmodeError(f"scenario has no section {part!r} (in {name!r})")
            node = node[part]
        if parts[-1] not in node:
            raise SchoolmodeError(f"scenario has no field {name!r}")
        node[parts[-1]] = YAML(typ="safe", pure=True).load(value)
        try:
            return Scenario.model_validate(data)
        except ValidationError as exc:
            raise SchoolmodeError(f"scenario field {name!r} = {value!r}: {exc}") from None


def load_scenario(path: Path | None) -> Scenario:
    """The scenario in ``path`` (None: all defaults); errors name the file, line and field."""
    if path is None:
        return Scenario()
    loaded = load_yaml(path)
    scenario = validate(Scenario, loaded, loaded.data or {})
    pathogen = Path(scenario.pathogen)
    if pathogen.suffix and not pathogen.is_absolute():
        scenario = scenario.model_copy(update={"pathogen": str(path.parent / pathogen)})
    return scenario
