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
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.sim.compare import compare, load_population, school_attributes
from schoolmode.sim.immunity_data import with_data_immunity
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.validation import (
    WAVES,
    Wave,
    city_cases,
    compared,
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


class WeekRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    week: dt.date
    observed: float
    mean: float
    lo: float
    hi: float


class ValidationResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    wave: str
    runs: int
    wall_s: float
    initial_infections: int
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


def validate(ctx: Context, req: ValidateRequest, steps: Steps | None = None) -> ValidationResult:
    """Simulate the wave, compare it week by week with the real cases, write the report."""
    tell = steps or Silent()
    wave = WAVES[req.wave]
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
        profiles = SchoolProfiles()
        enrolment = int(
            profiles.parse(profiles.default_paths(ctx.settings.data_dir)[0])
            .frame["enrolment"]
            .sum()
        )
        daily = school_cases() if wave.series == "school_cases_reported" else city_cases()
        table, simulated_per, observed_per = compared(
            wave, comparison, population.agents["role"], enrolment, daily
        )
        files = write_validation(wave, comparison, table, (simulated_per, observed_per), req.out)
    return ValidationResult(
        wave=wave.name,
        runs=len(comparison.results),
        wall_s=comparison.wall_s,
        initial_infections=scenario.initial_infections,
        weeks=[WeekRow(**row) for row in table.iter_rows(named=True)],
        files=files,
    )
