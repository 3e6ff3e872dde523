"""The simulator against real waves (issue 16, item 5): a wave simulated on the synthetic
district with immunity, importation and initial infections from Chicago's data, and its
reported cases set beside the real ones, week by week (weeks of seven days from the start).

- ``omicron-2022``: the January 2022 agreement from 11 January 2022 for eight weeks (Omicron);
  the simulated cases reported among all agents (students, staff, household adults) per
  100,000 agents against CDPH's reported cases per 100,000 residents (daily cases, ACS 2019).
- ``delta-2021``: the fall 2021 term from 30 August 2021 (Delta; no agreement in force, the
  simulator's default testing, tracing and isolation) to the last CPS report (22 September);
  the simulated cases reported among the schools' students and staff against CPS's school case
  reports, per 100,000 students and staff (CPS's enrolment of the profiles, staff in the
  synthetic district's ratio).

Nothing is fitted to these series: beta comes from the pathogen's R0 (``beta: auto``), the
ascertainment is an assumption, and the initial infections and the importation are the
reported cases of the week before the start and of each week, over that ascertainment. Both
waves are therefore checks out of sample.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.importers.cdph import DailyCases
from schoolmode.importers.cps import SchoolCovidCases
from schoolmode.metrics.community import CHICAGO_POPULATION_2019
from schoolmode.reports import figures
from schoolmode.reports.export import write_csv
from schoolmode.reports.page import Code, Figures, Heading, Page, Paragraph, TableBlock, write_page
from schoolmode.reports.table import Table
from schoolmode.sim.compare import Comparison
from schoolmode.sim.immunity_data import CASES_FILE, shipped
from schoolmode.sim.report import scenario_text
from schoolmode.sim.state import OTHER_STAFF, STUDENT, TEACHER

SCHOOL_CASES_FILE = "cps-school-covid-cases/allCpsCovidData.csv"


@dataclass(frozen=True)
class Wave:
    name: str
    title: str
    start: dt.date
    days: int
    pathogen: str
    policy: str
    series: str
    """The simulated daily series compared (``LoopResult.daily``)."""
    observed: str
    """What the real series is, in words."""


WAVES = {
    "omicron-2022": Wave(
        "omicron-2022",
        "Omicron, January-March 2022",
        dt.date(2022, 1, 11),
        56,
        "covid-omicron",
        "cps-ctu-2022-01-10",
        "cases_reported",
        "CDPH's reported cases per 100,000 Chicago residents",
    ),
    "delta-2021": Wave(
        "delta-2021",
        "Delta, the start of the fall 2021 term",
        dt.date(2021, 8, 30),
        24,
        "covid-delta",
        "none",
        "school_cases_reported",
        "CPS's reported school cases (students and staff) per 100,000 students and staff",
    ),
}


def week_of(start: dt.date, day: pl.Expr) -> pl.Expr:
    """The first day of the seven-day week from ``start`` that ``day`` falls in."""
    offset = (day - pl.lit(start)).dt.total_days()
    return pl.lit(start) + pl.duration(days=(offset // 7) * 7)


def city_cases(path: Path | None = None) -> pl.DataFrame:
    """CDPH's daily cases: ``date``, ``cases``."""
    frame = DailyCases().parse(path or shipped(CASES_FILE)).frame
    return frame.filter(pl.col("metric") == "cases_total").select(
        "date", pl.col("value").alias("cases")
    )


def school_cases(path: Path | None = None) -> pl.DataFrame:
    """CPS's school case reports summed over schools: ``date``, ``cases``."""
    frame = SchoolCovidCases().parse(path or shipped(SCHOOL_CASES_FILE)).frame
    return frame.group_by("date").agg(pl.col("cases").sum())


def observed_weekly(daily: pl.DataFrame, start: dt.date, days: int, per: float) -> pl.DataFrame:
    """``week`` and ``observed`` (cases of the week per 100,000 of ``per`` people), the weeks
    of ``days`` days from ``start`` that are whole."""
    whole = days // 7
    last = start + dt.timedelta(days=whole * 7 - 1)
    in_span = daily.filter(pl.col("date").is_between(start, last))
    weeks = pl.DataFrame(
        {"week": [start + dt.timedelta(days=7 * k) for k in range(whole)]},
        schema={"week": pl.Date},
    )
    summed = in_span.group_by(week_of(start, pl.col("date")).alias("week")).agg(
        pl.col("cases").sum()
    )
    return weeks.join(summed, on="week", how="left").select(
        "week", (pl.col("cases").fill_null(0) / per * 100_000).alias("observed")
    )


def simulated_weekly(values: np.ndarray, start: dt.date, per: float) -> pl.DataFrame:
    """``week``, ``mean``, ``lo``, ``hi``: the cases of each whole week per 100,000 of ``per``
    agents, over seeds (``values``: (seeds, days)); lo and hi the 2.5th and 97.5th
    percentiles."""
    seeds, days = values.shape
    whole = days // 7
    weekly = values[:, : whole * 7].reshape(seeds, whole, 7).sum(axis=2) / per * 100_000
    return pl.DataFrame(
        {
            "week": [start + dt.timedelta(days=7 * k) for k in range(whole)],
            "mean": weekly.mean(axis=0),
            "lo": np.percentile(weekly, 2.5, axis=0),
            "hi": np.percentile(weekly, 97.5, axis=0),
        },
        schema={"week": pl.Date, "mean": pl.Float64, "lo": pl.Float64, "hi": pl.Float64},
    )


def school_people(comparison: Comparison, roles: np.ndarray) -> tuple[int, int]:
    """Students and staff (teachers and other staff) among the simulated agents."""
    students = int((roles == STUDENT).sum())
    staff = int(((roles == TEACHER) | (roles == OTHER_STAFF)).sum())
    return students, staff


def compared(
    wave: Wave,
    comparison: Comparison,
    roles: np.ndarray,
    enrolment: int,
    daily: pl.DataFrame,
) -> tuple[pl.DataFrame, float, float]:
    """The weekly table (``week``, ``observed``, ``mean``, ``lo``, ``hi``) and the two
    denominators (simulated, observed)."""
    values = comparison.daily(wave.series, wave.policy).astype(float)
    if wave.series == "school_cases_reported":
        students, staff = school_people(comparison, roles)
        simulated_per = float(students + staff)
        observed_per = enrolment * (students + staff) / max(students, 1)
    else:
        simulated_per = float(comparison.agents)
        observed_per = float(CHICAGO_POPULATION_2019)
    start, days = comparison.scenario.start, values.shape[1]
    table = observed_weekly(daily, start, days, observed_per).join(
        simulated_weekly(values, start, simulated_per), on="week"
    )
    return table, simulated_per, observed_per


def plot(wave: Wave, table: pl.DataFrame, seeds: int, path: Path) -> Path:
    """Observed (points and line) and simulated (mean and 95% band) cases by week."""
    fig, ax = figures.subplots(figsize=(9, 3.8), constrained=True)
    weeks = table["week"].to_list()
    ax.fill_between(weeks, table["lo"], table["hi"], color="tab:blue", alpha=0.2, lw=0)
    (sim,) = ax.plot(weeks, table["mean"], color="tab:blue", lw=1.6, marker="o", ms=3)
    (real,) = ax.plot(weeks, table["observed"], color="black", lw=1.6, marker="s", ms=4)
    ax.legend(
        handles=[
            real,
            sim,
            figures.patch("tab:blue", f"simulated: middle 95% of {seeds} seeds", alpha=0.2),
        ],
        labels=["reported (real)", "simulated: mean over seeds", "simulated: middle 95%"],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
    )
    ax.set_ylabel("reported cases per 100,000 a week")
    ax.set_ylim(bottom=0)
    ax.set_xticks(weeks, [f"week from {w.day} {w:%b %Y}" for w in weeks], fontsize=8)
    ax.set_title(f"{wave.title}: real and simulated reported cases", fontsize=10)
    ax.grid(alpha=0.3)
    return figures.save_png(fig, path)


def write_validation(
    wave: Wave,
    comparison: Comparison,
    table: pl.DataFrame,
    denominators: tuple[float, float],
    out: Path,
) -> dict[str, Path]:
    """validation.md, validation.html, validation.csv and the plot of one wave."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(table, out / "validation.csv")
    image = plot(wave, table, len(comparison.seeds), out / f"{wave.name}.png")
    shown = table.select(
        pl.col("week").cast(pl.String).alias("week from"),
        pl.col("observed").round(1).alias("reported (real)"),
        pl.format(
            "{} [{}, {}]",
            pl.col("mean").round(1),
            pl.col("lo").round(1),
            pl.col("hi").round(1),
        ).alias("simulated mean [95%]"),
        (pl.col("mean") / pl.col("observed")).round(2).alias("simulated / real"),
    )
    simulated_per, observed_per = denominators
    page = Page(
        f"schoolmode validation: {wave.name}",
        [
            Heading(f"The simulator against real history: {wave.title}", level=1),
            Paragraph(
                f"{len(comparison.seeds)} seeds of {comparison.agents:,} agents in "
                f"{comparison.schools} schools, policy {wave.policy}, pathogen "
                f"{wave.pathogen}, from {wave.start} for {comparison.scenario.days} days. "
                f"Real: {wave.observed} ({observed_per:,.0f} people); simulated: the same "
                f"cases among the simulated agents ({simulated_per:,.0f}). Cases per 100,000 "
                "in each week of seven days from the start."
            ),
            Paragraph(
                "Nothing was fitted to these series: beta from the pathogen's R0, the "
                "ascertainment an assumption, the initial infections and the importation the "
                "reported cases of the week before the start and of each week over that "
                "ascertainment, the immunity from the vaccinations and cases by age to the "
                "day before the start. The comparison is out of sample."
            ),
            TableBlock(Table.from_frame(shown)),
            Figures([image]),
            Heading("Scenario"),
            Code(scenario_text(comparison.scenario), "yaml"),
        ],
    )
    files = write_page(page, out, stem="validation")
    files.update({"validation.csv": out / "validation.csv", image.name: image})
    return files
