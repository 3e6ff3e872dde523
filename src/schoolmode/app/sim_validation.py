"""Use case: the simulator against a real wave (``schoolmode sim validate``; issue 16, item 5):
simulate the wave on the synthetic district with immunity, importation and initial infections
from Chicago's data, and set its reported cases beside the real ones week by week
(``sim.validation``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from schoolmode.app.context import Context
from schoolmode.app.errors import as_use_case_errors
from schoolmode.app.progress import Silent, Steps
from schoolmode.importers.cps import SchoolProfiles
from schoolmode.metrics.community import CHICAGO_POPULATION_2019
from schoolmode.pathogen import Pathogen, load_pathogen
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.sim.beta import auto_beta
from schoolmode.sim.compare import compare, load_population, school_attributes
from schoolmode.sim.immunity_data import with_data_immunity
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.seeding import infected_now
from schoolmode.sim.validation import (
    FIT_ASCERTAINMENT,
    FIT_IMMUNITY_ASCERTAINMENT,
    FIT_STEPS,
    WAVES,
    SavedFit,
    Wave,
    city_cases,
    compared,
    fit,
    load_fit,
    origins,
    protection,
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
    """Fit beta and the importation ascertainment so that the simulated reported cases of the
    first N weeks come nearest the real ones (``sim.validation.fit``); the later weeks are then
    out of sample. 0: nothing fitted (beta from the pathogen's R0)."""
    from_fit: Path | None = None
    """A ``fit.json`` written by a fitted run (of this wave or the other): beta its factor
    times the beta from this wave's pathogen's R0, its ascertainments; every week out of
    sample."""


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
    ascertainment: float | None
    error: float
    trials: int
    ascertainment_edge: bool
    immunity_ascertainment: float | None
    immunity_edge: bool


class ValidationResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    wave: str
    runs: int
    wall_s: float
    initial_infections: int
    beta: float
    fitted: FitView | None
    from_fit: SavedFit | None
    origins: str
    """Where the simulated infections came from, in words (``validation.origins``)."""
    weeks: list[WeekRow]
    files: dict[str, Path]


HISTORY_DAYS = 42
"""Days before the start whose reported cases weigh the initial infections (longer than any
course of infection of the covid pathogens)."""


def case_history(wave: Wave) -> list[float]:
    """The city's reported cases of each of the ``HISTORY_DAYS`` days before the start, the
    latest first (``Scenario.seed_history``; a day without a row counts 0)."""
    daily = dict(city_cases().select("date", "cases").iter_rows())
    return [
        float(daily.get(wave.start - dt.timedelta(days=k + 1), 0.0)) for k in range(HISTORY_DAYS)
    ]


def initial_infections(
    history: list[float], agents: int, ascertainment: float, pathogen: Pathogen, symptomatic: float
) -> int:
    """The agents infected at the start: the infections of each day before it (the city's
    reported cases per resident over the ascertainment, times the agents) that are still under
    way on the start day (``seeding.infected_now``; at least one)."""
    daily = [cases / CHICAGO_POPULATION_2019 / ascertainment * agents for cases in history]
    return max(1, round(infected_now(pathogen, symptomatic, daily)))


def wave_scenario(wave: Wave, seeds: int, params: list[str]) -> Scenario:
    """The wave's scenario: its dates and pathogen, importation from the ZIP weekly cases (from
    outside the simulated population), immunity from the data with the variant's protection of
    prior infection and vaccination, its masking, the initial infections staged over the stages of
    infection by the city's cases of the days before; then ``params``."""
    scenario = Scenario.model_validate(
        {
            "start": wave.start,
            "days": wave.days,
            "pathogen": wave.pathogen,
            "seeds": seeds,
            "importation": {"source": "zip-weekly-cases", "outside_only": True},
            "immunity": {"source": "data", "protection": protection(wave)},
            "vaccination": {"efficacy": wave.vaccine_efficacy},
            "masking": dict(wave.masking),
            "seed_state": "staged",
            "seed_history": case_history(wave),
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


def with_ascertainment(scenario: Scenario, share: float, prior: float) -> Scenario:
    """``scenario`` with ``share`` as the ascertainment of the importation (and so of the
    initial infections, ``initial_infections``) and ``prior`` as that of the prior
    infections."""
    return scenario.model_copy(
        update={
            "importation": scenario.importation.model_copy(update={"ascertainment": share}),
            "immunity": scenario.immunity.model_copy(update={"ascertainment": prior}),
        }
    )


def validate(ctx: Context, req: ValidateRequest, steps: Steps | None = None) -> ValidationResult:
    """Simulate the wave (beta and the ascertainment fitted to its first weeks, or taken from a
    saved fit, when asked), compare it week by week with the real cases, write the report."""
    tell = steps or Silent()
    wave = WAVES[req.wave]
    if req.fit_weeks * 7 > wave.days:
        raise SchoolmodeError(
            f"--fit-weeks {req.fit_weeks}: the wave has {wave.days // 7} whole weeks"
        )
    if req.fit_weeks and req.from_fit is not None:
        raise SchoolmodeError("--fit-weeks and --from-fit: give one or the other")
    with as_use_case_errors(*_ERRORS):
        saved = load_fit(req.from_fit) if req.from_fit is not None else None
        scenario = wave_scenario(wave, req.seeds, req.params)
        tell.start("building the population and its contacts", 1)
        data = str(ctx.settings.data_dir)
        population = load_population(None, req.schools, data)
        attributes = school_attributes(population, None, req.schools, data)
        agents = population.network.n
        pathogen = load_pathogen(scenario.pathogen)
        symptomatic = float(pathogen.by_age(population.agents["age"].astype(np.int64))[1].mean())

        def seeded(sc: Scenario) -> Scenario:
            count = initial_infections(
                sc.seed_history, agents, sc.importation.ascertainment, pathogen, symptomatic
            )
            return with_data_immunity(
                sc.model_copy(update={"initial_infections": min(count, agents)})
            )

        def start_beta() -> float:
            if scenario.beta != "auto":
                return float(scenario.beta)
            cache = ctx.settings.cache_dir
            return auto_beta(population, pathogen, scenario.layer_weights, cache)[0]

        scenario = seeded(scenario)
        if wave.policy != "none":
            ctx.registry.get(wave.policy)
        enrolment = _enrolment(ctx)
        daily = school_cases() if wave.series == "school_cases_reported" else city_cases()
        roles = population.agents["role"]
        fitted = None
        if req.fit_weeks:
            tell.start(
                f"fitting beta and the ascertainments to the first {req.fit_weeks} week(s)",
                FIT_STEPS * len(FIT_ASCERTAINMENT) * len(FIT_IMMUNITY_ASCERTAINMENT),
            )

            def weeks_at(beta: float, share: float, prior: float, days: int) -> pl.DataFrame:
                trial = seeded(
                    with_ascertainment(scenario, share, prior).model_copy(
                        update={"beta": beta, "days": days, "seeds": 2}
                    )
                )
                run = compare(population, trial, [wave.policy], ctx.registry, attributes=attributes)
                tell.advance()
                return compared(wave, run, roles, enrolment, daily)[0]

            fitted = fit(weeks_at, start_beta(), req.fit_weeks)
            assert fitted.ascertainment is not None
            assert fitted.immunity_ascertainment is not None
            scenario = seeded(
                with_ascertainment(
                    scenario, fitted.ascertainment, fitted.immunity_ascertainment
                ).model_copy(update={"beta": fitted.beta})
            )
        elif saved is not None:
            scenario = seeded(
                with_ascertainment(
                    scenario, saved.ascertainment, saved.immunity_ascertainment
                ).model_copy(update={"beta": saved.factor * start_beta()})
            )
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
            wave, comparison, table, (simulated_per, observed_per), req.out, fitted, saved
        )
    return ValidationResult(
        wave=wave.name,
        runs=len(comparison.results),
        wall_s=comparison.wall_s,
        initial_infections=scenario.initial_infections,
        beta=comparison.betas[0],
        fitted=None if fitted is None else FitView(**vars(fitted)),
        from_fit=saved,
        origins=origins(comparison).text(),
        weeks=[WeekRow(**row) for row in table.iter_rows(named=True)],
        files=files,
    )
