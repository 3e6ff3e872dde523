"""Use case: the simulator against a real wave (``schoolmode sim validate``; issue 16, item 5):
simulate the wave on the synthetic district with immunity, importation and initial infections
from Chicago's data, and set its reported cases beside the real ones week by week
(``sim.validation``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from schoolmode.app.context import Context
from schoolmode.app.errors import as_use_case_errors
from schoolmode.app.progress import Silent, Steps
from schoolmode.importers.cps import SchoolProfiles
from schoolmode.metrics.community import CHICAGO_POPULATION_2019
from schoolmode.pathogen import load_pathogen
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.sim.beta import auto_beta
from schoolmode.sim.compare import compare, load_population, school_attributes
from schoolmode.sim.immunity_data import with_data_immunity
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.validation import (
    FIT_STEPS,
    WAVES,
    Wave,
    city_cases,
    compared,
    fit_beta,
    school_cases,
    write_validation,
)

_ERRORS = (LookupError, ValueError, OSError)


class ValidateRequest(BaseModel):
    """Simulate ``wave`` over ``seeds`` seeds and compare it with the real reported cases."""

    model_config = ConfigDict(frozen=True)

    wave: Literal["omicron-2022", "delta-2021"]
    out: Path
    seeds: int = Field(5, ge=1)
    schools: int | None = Field(None, ge=1)
    """Only the first N schools by id (default: the whole district)."""
    params: list[str] = []
    """Scenario ``field=value`` settings (dotted names), applied after the wave's own."""
    fit_weeks: int = Field(0, ge=0)
    """Fit beta so that the simulated reported cases of the first N weeks equal the real ones
    (``sim.validation.fit_beta``); the later weeks are then out of sample. 0: nothing fitted
    (beta from the pathogen's R0)."""


class WeekRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    week: dt.date
    observed: float
    mean: float
    lo: float
    hi: float


class FitView(BaseModel):
    """What was fitted (``sim.validation.Fit``)."""

    model_config = ConfigDict(frozen=True)

    beta: float
    start_beta: float
    weeks: int
    real: float
    simulated: float
    edge: bool


class ValidationResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    wave: str
    runs: int
    wall_s: float
    initial_infections: int
    beta: float
    fitted: FitView | None
    weeks: list[WeekRow]
    files: dict[str, Path]


def initial_infections(wave: Wave, agents: int, ascertainment: float) -> int:
    """The agents infected at the start: the city's reported cases of the week before it per
    resident, over the ascertainment, times the agents (at least one)."""
    cases = city_cases().filter(
        pl.col("date").is_between(wave.start - dt.timedelta(days=7), wave.start)
    )
    per_person = float(cases["cases"].sum()) / CHICAGO_POPULATION_2019
    return max(1, round(agents * per_person / ascertainment))


def wave_scenario(wave: Wave, seeds: int, params: list[str]) -> Scenario:
    """The wave's scenario: its dates and pathogen, importation from the ZIP weekly cases,
    immunity from the data; then ``params``."""
    scenario = Scenario.model_validate(
        {
            "start": wave.start,
            "days": wave.days,
            "pathogen": wave.pathogen,
            "seeds": seeds,
            "importation": {"source": "zip-weekly-cases"},
            "immunity": {"source": "data"},
        }
    )
    for item in params:
        name, sep, value = item.partition("=")
        if not sep:
            raise SchoolmodeError(f"--param {item!r}: expected name=value")
        scenario = scenario.with_param(name.strip(), value.strip())
    return scenario


def _enrolment(ctx: Context) -> int:
    """CPS's enrolment: the profiles' students of every school."""
    profiles = SchoolProfiles()
    frame = profiles.parse(profiles.default_paths(ctx.settings.data_dir)[0]).frame
    return int(frame["enrolment"].sum())


def validate(ctx: Context, req: ValidateRequest, steps: Steps | None = None) -> ValidationResult:
    """Simulate the wave (beta fitted to its first weeks when asked), compare it week by week
    with the real cases, write the report."""
    tell = steps or Silent()
    wave = WAVES[req.wave]
    if req.fit_weeks * 7 > wave.days:
        raise SchoolmodeError(
            f"--fit-weeks {req.fit_weeks}: the wave has {wave.days // 7} whole weeks"
        )
    with as_use_case_errors(*_ERRORS):
        scenario = wave_scenario(wave, req.seeds, req.params)
        tell.start("building the population and its contacts", 1)
        data = str(ctx.settings.data_dir)
        population = load_population(None, req.schools, data)
        attributes = school_attributes(population, None, req.schools, data)
        agents = population.network.n
        seeded = initial_infections(wave, agents, scenario.importation.ascertainment)
        scenario = with_data_immunity(
            scenario.model_copy(update={"initial_infections": min(seeded, agents)})
        )
        if wave.policy != "none":
            ctx.registry.get(wave.policy)
        enrolment = _enrolment(ctx)
        daily = school_cases() if wave.series == "school_cases_reported" else city_cases()
        roles = population.agents["role"]
        fitted = None
        if req.fit_weeks:
            tell.start(f"fitting beta to the first {req.fit_weeks} week(s)", FIT_STEPS)

            def weeks_at(beta: float, days: int) -> pl.DataFrame:
                trial = scenario.model_copy(update={"beta": beta, "days": days, "seeds": 2})
                run = compare(population, trial, [wave.policy], ctx.registry, attributes=attributes)
                tell.advance()
                return compared(wave, run, roles, enrolment, daily)[0]

            start_beta = (
                auto_beta(
                    population,
                    load_pathogen(scenario.pathogen),
                    scenario.layer_weights,
                    ctx.settings.cache_dir,
                )[0]
                if scenario.beta == "auto"
                else float(scenario.beta)
            )
            fitted = fit_beta(weeks_at, start_beta, req.fit_weeks)
            scenario = scenario.model_copy(update={"beta": fitted.beta})
        tell.start(f"{agents:,} agents, {len(population.school_ids)} schools", scenario.seeds)
        comparison = compare(
            population,
            scenario,
            [wave.policy],
            ctx.registry,
            progress=lambda pid, seed: tell.advance(),
            attributes=attributes,
            beta_cache=ctx.settings.cache_dir,
        )
        table, simulated_per, observed_per = compared(wave, comparison, roles, enrolment, daily)
        files = write_validation(
            wave, comparison, table, (simulated_per, observed_per), req.out, fitted
        )
    return ValidationResult(
        wave=wave.name,
        runs=len(comparison.results),
        wall_s=comparison.wall_s,
        initial_infections=scenario.initial_infections,
        beta=comparison.betas[0],
        fitted=None if fitted is None else FitView(**vars(fitted)),
        weeks=[WeekRow(**row) for row in table.iter_rows(named=True)],
        files=files,
    )
