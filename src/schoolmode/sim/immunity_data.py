"""Immunity before day 0 from Chicago's data: the share of each role fully vaccinated and the
share previously infected on the day before a run starts (``immunity.source: data``).

- **Vaccinated** (``vaccination.initial_share``): CDPH vaccinations by ZIP (553k-3xzc,
  ``chicago-vaccination-zip``), the daily completed series by age summed over the city's ZIPs
  and cumulated to the day before the start: students, the completed series of ages 5+ minus
  18+ over the population 5-17; adults (classroom teachers, other staff, household adults),
  ages 18+ over the population 18+. Population: the city's ACS 5-year counts by age
  (``chicago-population``, the latest year in the file).
- **Previously infected** (``immunity.prior_infection_share``): CDPH daily cases by age
  (naz8-j4nc, ``chicago-daily-cases``), cumulated to the day before the start, over the same
  population, divided by ``immunity.ascertainment`` (the share of infections reported as cases,
  an assumption), capped at ``immunity.max_prior_share``: students, cases of ages 0-17 over the
  population 0-17; adults, ages 18 and over (the age groups 18-29 to 80+) over the population
  18+. Reinfections count as new cases in CDPH's series, so the share is an upper bound for a
  given ascertainment.

Staff get the adult shares (an assumption: CPS staff were under a vaccination requirement from
October 2021, so probably more were vaccinated). Every file is read and checked like an import
(errors name the file, row and field); nothing is stored.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict

from schoolmode.importers._parse import Cells, read_text_csv
from schoolmode.importers.cdph import ChicagoPopulation, DailyCases
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.settings import SHIPPED_DATA
from schoolmode.sim.scenario import Scenario
from schoolmode.standard.batch import FileValidationError

VACCINATION_FILE = "chicago-vaccination-zip/COVID-19_Vaccinations_by_ZIP_Code.csv"
CASES_FILE = "chicago-daily-cases/COVID-19_Daily_Cases__Deaths__and_Hospitalizations.csv"
POPULATION_FILE = "chicago-population/Chicago_Population_Counts.csv"
COMPLETED = "Vaccine Series Completed - Daily - Age {band}"
BANDS = ("5+", "18+")
ADULT_CASES = tuple(
    f"cases_age_{band}" for band in ("18_29", "30_39", "40_49", "50_59", "60_69", "70_79", "80plus")
)
STAFF_ROLES = ("classroom_teacher", "other_staff", "household_adult")


class DataImmunity(BaseModel):
    """The shares of a day and what they came from."""

    model_config = ConfigDict(frozen=True)

    day: dt.date
    """The last day counted (the day before the run's start)."""
    vaccinated: dict[str, float]
    prior_infection: dict[str, float]
    reported_cases_share: dict[str, float]
    """Cumulative reported cases per person of each role's age band (before ascertainment)."""
    population_year: int
    ascertainment: float


def shipped(name: str) -> Path:
    """A file of the data shipped with the project (compressed)."""
    return Path(f"{SHIPPED_DATA / name}.gz")


@lru_cache(maxsize=4)
def completed_by_age(path: Path) -> pl.DataFrame:
    """The completed vaccine series by day, summed over ZIP codes: ``date``, ``5+``, ``18+``
    (daily counts)."""
    raw = read_text_csv(path)
    cells = Cells(path, raw)
    columns = [COMPLETED.format(band=b) for b in BANDS]
    cells.require_columns(["Date", *columns])
    date = cells.parse("Date", "date", fmt="%m/%d/%Y").alias("date")
    values = [
        cells.parse(c, "int", required=False, ge=0).fill_null(0).alias(b)
        for c, b in zip(columns, BANDS, strict=True)
    ]
    cells.at_most(columns[1], values[1], columns[0], values[0])  # 18+ is within 5+
    cells.raise_if_errors()
    return pl.DataFrame([date, *values]).group_by("date").agg(pl.col(b).sum() for b in BANDS)


@lru_cache(maxsize=4)
def cases_by_age(path: Path) -> pl.DataFrame:
    """CDPH's daily cases by age band (``date`` and one column per metric)."""
    frame = DailyCases().parse(path).frame
    wanted = ("cases_age_0_17", *ADULT_CASES)
    long = frame.filter(pl.col("metric").is_in(wanted))
    return long.pivot(on="metric", index="date", values="value", aggregate_function="sum")


@lru_cache(maxsize=4)
def city_population(path: Path) -> tuple[int, dict[str, int]]:
    """The city's population by age group of the latest year in the file."""
    frame = (
        ChicagoPopulation()
        .parse(path)
        .frame.filter((pl.col("geography_type") == "city") & (pl.col("sex") == "all"))
    )
    if frame.height == 0:
        raise SchoolmodeError(f"{path}: no citywide population rows")
    year = int(frame["year"].max())  # type: ignore[arg-type]
    rows = frame.filter(pl.col("year") == year)
    return year, dict(zip(rows["age_group"].to_list(), rows["population"].to_list(), strict=True))


def immunity_on(
    start: dt.date,
    ascertainment: float,
    max_prior_share: float,
    *,
    vaccination: Path | None = None,
    cases: Path | None = None,
    population: Path | None = None,
) -> DataImmunity:
    """Each role's vaccinated and previously infected shares on the day before ``start``."""
    try:
        return _immunity_on(
            start,
            ascertainment,
            max_prior_share,
            vaccination or shipped(VACCINATION_FILE),
            cases or shipped(CASES_FILE),
            population or shipped(POPULATION_FILE),
        )
    except FileValidationError as exc:  # the import's message: file, row, field, value
        raise SchoolmodeError(str(exc)) from None
    except FileNotFoundError as exc:
        raise SchoolmodeError(f"{exc.filename}: no such file (immunity.source: data)") from None


def _immunity_on(
    start: dt.date,
    ascertainment: float,
    max_prior_share: float,
    vaccination: Path,
    cases: Path,
    population: Path,
) -> DataImmunity:
    day = start - dt.timedelta(days=1)
    year, people = city_population(population)
    for group in ("0-17", "5-11", "12-17", "18+"):
        if not people.get(group):
            raise SchoolmodeError(f"the population file has no citywide age group {group}")
    vac = completed_by_age(vaccination).filter(pl.col("date") <= day)
    case = cases_by_age(cases).filter(pl.col("date") <= day)
    done = {b: float(vac[b].sum()) for b in BANDS}
    children = people["5-11"] + people["12-17"]
    vaccinated_student = (done["5+"] - done["18+"]) / children
    vaccinated_adult = done["18+"] / people["18+"]
    child_cases = float(case["cases_age_0_17"].fill_null(0).sum())
    adult_cases = float(sum(case[c].fill_null(0).sum() for c in ADULT_CASES if c in case.columns))
    reported = {"student": child_cases / people["0-17"], "adult": adult_cases / people["18+"]}

    def prior(share: float) -> float:
        return min(share / ascertainment, max_prior_share)

    return DataImmunity(
        day=day,
        vaccinated={"student": min(vaccinated_student, 1.0)}
        | dict.fromkeys(STAFF_ROLES, min(vaccinated_adult, 1.0)),
        prior_infection={"student": prior(reported["student"])}
        | dict.fromkeys(STAFF_ROLES, prior(reported["adult"])),
        reported_cases_share={"student": reported["student"]}
        | dict.fromkeys(STAFF_ROLES, reported["adult"]),
        population_year=year,
        ascertainment=ascertainment,
    )


def variant_share(start: dt.date, since: dt.date, cases: Path | None = None) -> float:
    """The share of the city's cumulative reported cases (all ages, ``cases_by_age``) to the
    day before ``start`` that were reported on ``since`` or later."""
    frame = cases_by_age(cases or shipped(CASES_FILE))
    total = frame.filter(pl.col("date") < start)
    value = pl.sum_horizontal(pl.exclude("date").fill_null(0))
    everything = float(total.select(value.sum()).item())
    recent = float(total.filter(pl.col("date") >= since).select(value.sum()).item())
    if everything <= 0:
        raise SchoolmodeError(f"no reported cases before {start} (immunity.source: data)")
    return recent / everything


def with_data_immunity(scenario: Scenario) -> Scenario:
    """``scenario`` with its vaccinated and previously infected shares computed from the data
    for the day before its start when its ``immunity.source`` is ``data`` (else unchanged)."""
    imm = scenario.immunity
    if imm.source != "data":
        return scenario
    found = immunity_on(scenario.start, imm.ascertainment, imm.max_prior_share)
    return scenario.model_copy(
        update={
            "immunity": imm.model_copy(update={"prior_infection_share": found.prior_infection}),
            "vaccination": scenario.vaccination.model_copy(
                update={"initial_share": found.vaccinated}
            ),
        }
    )
