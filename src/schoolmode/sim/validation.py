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

By default nothing is fitted to these series: beta comes from the pathogen's R0 (``beta:
auto``), the ascertainment is an assumption, the initial infections are the infections of the
days before the start (reported cases over that ascertainment) still under way, staged over the
stages of infection, and the importation the reported cases of each week over it, from the
residents who are not simulated only (``importation.outside_only``); both waves then are checks
out of sample. ``fit`` fits beta (as a factor of the beta from R0, ``FIT_RANGE``) and two
ascertainments together to the first weeks (``--fit-weeks``), the later weeks staying out of
sample: the share of all infections to date reported as cases, which turns the city's
cumulative cases into the prior infections (the immunity that limits a wave), and the share of
recent ones, which turns its recent cases into the initial infections and its weekly cases into
the importation. A fit saved by one wave (``fit.json``) predicts the other with only the
pathogen changed (``--from-fit``: its R0, its escape of prior protection, ``protection``, and
of vaccination, ``Wave.vaccine_efficacy``). Both waves run with universal masking in school
(``MASKED``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schoolmode.importers.cdph import DailyCases
from schoolmode.importers.cps import SchoolCovidCases
from schoolmode.metrics.community import CHICAGO_POPULATION_2019
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.reports import figures
from schoolmode.reports.export import write_csv
from schoolmode.reports.page import Code, Figures, Heading, Page, Paragraph, TableBlock, write_page
from schoolmode.reports.table import Table
from schoolmode.sim.compare import Comparison
from schoolmode.sim.immunity_data import CASES_FILE, shipped, variant_share
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
    masking: dict[str, float]
    """The scenario's masking multipliers (``MASKED``: universal masking in school)."""
    prior_protection: float
    """``immunity.protection`` against this variant: the reduction of susceptibility of an
    agent infected before (``ESCAPE``)."""
    vaccine_efficacy: float
    """``vaccination.efficacy`` against this variant (``ESCAPE``)."""
    variant_since: dt.date | None = None
    """The day from which the city's infections are taken to be of this variant: the prior
    infections from then on protect ``same_protection`` (``protection``); None: none apart."""
    same_protection: float = 0.0
    """The protection of a prior infection with this variant against it (``ESCAPE``)."""


MASKED = {"homeroom": 0.6, "grade": 0.6, "school": 0.6, "staff": 0.8}
"""Universal masking in school, in force through both waves: Illinois Executive Order 2021-18
(4 August 2021) required masks indoors in every P-12 school from the fall 2021 term, and CPS
required them until 13 March 2022 (``cps-masks-optional-2022-03-14``). The multipliers are the
illustrative ones of ``docs/examples/masking-march-2022.yaml`` (0.6 on the classroom, grade and
school layers, 0.8 among staff), not fitted."""

ESCAPE = """Protection against each variant, from sources (the pathogen change between the
waves besides R0). A previous infection: 92% against Delta, 56% against Omicron (effectiveness
against symptomatic reinfection, Qatar; Altarawneh et al., N Engl J Med 2022;386:1288-1290).
Two vaccine doses: Delta 0.65, within the 88% (2-9 weeks after the second BNT162b2 dose) to
64% (25 weeks or more) against symptomatic disease of Andrews et al., N Engl J Med
2022;386:1532-1546, most of Chicago's adults having had their second dose 15 to 25 weeks
before 30 August 2021; Omicron 0.3 (the scenario's default), between the same study's 65%
(2-4 weeks) and 9% (25 weeks or more) after two doses, about two thirds of Chicago's
vaccinated adults having had no booster by 10 January 2022 (an assumption). An Omicron
infection against Omicron: 0.94 (BA.1 infection against BA.2 reinfection, 94.2%; Chemaitelly et
al., Nat Commun 2022;13:4675), counted for the city's cases from 19 December 2021 (an
assumption: the week Omicron became most of the Midwest's cases in CDC's variant estimates,
within about a week; no variant data is shipped)."""

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
        MASKED,
        0.56,
        0.3,
        dt.date(2021, 12, 19),
        0.94,
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
        MASKED,
        0.92,
        0.65,
    ),
}


def protection(wave: Wave, cases: Path | None = None) -> float:
    """``immunity.protection`` for the wave: with ``variant_since``, the mean over the prior
    infections of ``same_protection`` (the share of the city's cumulative reported cases to the
    day before the start reported from ``variant_since`` on) and ``prior_protection`` (the
    rest; the susceptibility is reduced by each, so its mean is reduced by the mean); else
    ``prior_protection``."""
    if wave.variant_since is None:
        return wave.prior_protection
    share = variant_share(wave.start, wave.variant_since, cases)
    return share * wave.same_protection + (1 - share) * wave.prior_protection


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


@dataclass(frozen=True)
class Origins:
    """Where a run's infections came from, means over its seeds."""

    seeded: float
    """Infected on day 0 (the initial infections)."""
    imported: float
    """Infected from outside the simulated population."""
    transmitted: float
    """Infected by another agent (in any chain)."""

    @property
    def infections(self) -> float:
        return self.seeded + self.imported + self.transmitted

    def text(self) -> str:
        total = max(self.infections, 1.0)
        return (
            f"{self.infections:,.0f} infections: {self.seeded:,.0f} seeded on day 0 "
            f"({self.seeded / total:.0%}), {self.imported:,.0f} imported "
            f"({self.imported / total:.0%}), {self.transmitted:,.0f} transmitted among the "
            f"agents ({self.transmitted / total:.0%})"
        )


def origins(comparison: Comparison) -> Origins:
    """The infections of the comparison's runs by origin, means over runs (``runs.csv``'s
    ``seeded``, ``importations`` and ``infections``)."""
    runs = comparison.runs()
    seeded = float(runs["seeded"].mean())  # type: ignore[arg-type]
    imported = float(runs["importations"].mean())  # type: ignore[arg-type]
    infections = float(runs["infections"].mean())  # type: ignore[arg-type]
    return Origins(seeded, imported, infections - seeded - imported)


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
    ax.set_xticks(weeks, [f"{w.day} {w:%b}\n{w:%Y}" for w in weeks], fontsize=8)
    ax.set_xlabel("week from", fontsize=8)
    ax.set_title(f"{wave.title}: real and simulated reported cases", fontsize=10)
    ax.grid(alpha=0.3)
    return figures.save_png(fig, path)


FIT_STEPS = 6
"""Bisection steps of ``fit_beta`` on the logarithm of beta (the range, a factor of 8, ends
narrowed to a factor of 8 ** (1 / 64): about 3.3%)."""
FIT_RANGE = (0.25, 2.0)
"""The factors of the beta from the pathogen's R0 (``beta_for_r0``) the fit searches between:
a physical range, contacts and their weights wrong by up to a factor of 4 down or 2 up."""
FIT_ASCERTAINMENT = (0.15, 0.25, 0.4, 0.6, 0.9)
"""The ascertainments of the recent cases ``fit`` tries: the share of infections reported as
cases in the days before the start and during the wave, which sets the initial infections and
the importation (``Importation.ascertainment``)."""
FIT_IMMUNITY_ASCERTAINMENT = (0.1, 0.15, 0.25, 0.4, 0.6)
"""The ascertainments of the cumulative cases ``fit`` tries: the share of all infections up to
the start reported as cases, which sets the prior infections (``Immunity.ascertainment``:
cumulative cases over it, capped at ``Immunity.max_prior_share``), what limits a wave. Apart
from the recent one: testing was scarcer in 2020 and home tests went unreported in 2022."""


@dataclass(frozen=True)
class Fit:
    """Beta (and, with ``fit``, the two ascertainments) fitted to the first ``weeks`` weeks:
    the simulated reported cases of those weeks (2 seeds) equal the real ones as nearly as the
    search gets."""

    beta: float
    start_beta: float
    weeks: int
    real: float
    """The real cases of the fitted weeks, per 100,000."""
    simulated: float
    """The simulated ones at the last beta tried (mean of 2 seeds), per 100,000."""
    edge: bool = False
    """The bisection never moved one end of ``FIT_RANGE``: no beta in the range gives the real
    cases at that ascertainment."""
    ascertainment: float | None = None
    """The recent cases' ascertainment fitted (initial infections and importation; None: not
    fitted, the scenario's)."""
    error: float = 0.0
    """Root mean square of log(simulated / real) over the fitted weeks, at the last beta
    tried."""
    trials: int = 0
    """Simulations run by the search (2 seeds each)."""
    ascertainment_edge: bool = False
    """The ascertainment fitted is the first or last of those tried."""
    immunity_ascertainment: float | None = None
    """The ascertainment of the prior infections fitted (None: not fitted)."""
    immunity_edge: bool = False
    """The immunity's ascertainment fitted is the first or last of those tried."""

    @property
    def factor(self) -> float:
        """Beta over the beta from the pathogen's R0."""
        return self.beta / self.start_beta


def _log_error(table: pl.DataFrame) -> float:
    ratio = np.log(
        np.maximum(table["mean"].to_numpy(), 1e-9) / np.maximum(table["observed"].to_numpy(), 1e-9)
    )
    return float(np.sqrt(np.mean(ratio**2)))


def fit_beta(
    simulate: Callable[[float, int], pl.DataFrame],
    start_beta: float,
    weeks: int,
) -> Fit:
    """The beta, between ``FIT_RANGE`` times ``start_beta``, at which the simulated reported
    cases of the first ``weeks`` weeks (``simulate(beta, days)``: the weekly table of a
    simulation of ``days`` days at ``beta``, ``compared``) equal the real ones: bisection on
    log beta, the simulated cases rising with beta."""
    lo, hi = (math.log(start_beta * f) for f in FIT_RANGE)
    ends = (lo, hi)
    real = simulated = error = 0.0
    for _ in range(FIT_STEPS):
        mid = (lo + hi) / 2
        table = simulate(math.exp(mid), weeks * 7)
        real = float(table["observed"].sum())
        simulated = float(table["mean"].sum())
        error = _log_error(table)
        if simulated > real:
            hi = mid
        else:
            lo = mid
    edge = lo == ends[0] or hi == ends[1]
    beta = math.exp((lo + hi) / 2)
    return Fit(beta, start_beta, weeks, real, simulated, edge, None, error, FIT_STEPS)


def fit(
    simulate: Callable[[float, float, float, int], pl.DataFrame],
    start_beta: float,
    weeks: int,
    ascertainments: tuple[float, ...] = FIT_ASCERTAINMENT,
    immunity_ascertainments: tuple[float, ...] = FIT_IMMUNITY_ASCERTAINMENT,
) -> Fit:
    """Beta and the two ascertainments together: for each pair of an ascertainment of
    ``ascertainments`` (the recent cases: initial infections and importation) and one of
    ``immunity_ascertainments`` (the cumulative cases: prior infections)
    (``simulate(beta, ascertainment, immunity_ascertainment, days)``) the beta that gives the
    real cases of the fitted weeks (``fit_beta``), then the one whose weeks are nearest the
    real ones week by week (least ``Fit.error``; the first on a tie)."""
    best: Fit | None = None
    trials = 0
    for prior in immunity_ascertainments:
        for share in ascertainments:
            got = fit_beta(_at(simulate, share, prior), start_beta, weeks)
            trials += got.trials
            if best is None or got.error < best.error:
                best = replace(got, ascertainment=share, immunity_ascertainment=prior)
    assert best is not None, "no ascertainment to try"
    return replace(
        best,
        trials=trials,
        ascertainment_edge=_at_edge(best.ascertainment, ascertainments),
        immunity_edge=_at_edge(best.immunity_ascertainment, immunity_ascertainments),
    )


def _at(
    simulate: Callable[[float, float, float, int], pl.DataFrame], share: float, prior: float
) -> Callable[[float, int], pl.DataFrame]:
    return lambda beta, days: simulate(beta, share, prior, days)


def _at_edge(value: float | None, tried: tuple[float, ...]) -> bool:
    return len(tried) > 1 and value in (tried[0], tried[-1])


class SavedFit(BaseModel):
    """A fit saved beside a wave's report (``fit.json``), to predict another wave with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wave: str
    """The wave fitted."""
    weeks: int = Field(ge=1)
    factor: float = Field(gt=0)
    """Beta over the beta from that wave's pathogen's R0."""
    ascertainment: float = Field(gt=0, le=1)
    immunity_ascertainment: float = Field(gt=0, le=1)
    beta: float = Field(gt=0)
    start_beta: float = Field(gt=0)


def save_fit(wave: Wave, fitted: Fit, path: Path) -> Path:
    """``fitted`` as ``fit.json`` (``SavedFit``)."""
    assert fitted.ascertainment is not None
    assert fitted.immunity_ascertainment is not None
    saved = SavedFit(
        wave=wave.name,
        weeks=fitted.weeks,
        factor=fitted.factor,
        ascertainment=fitted.ascertainment,
        immunity_ascertainment=fitted.immunity_ascertainment,
        beta=fitted.beta,
        start_beta=fitted.start_beta,
    )
    path.write_text(json.dumps(saved.model_dump(), indent=2) + "\n")
    return path


def load_fit(path: Path) -> SavedFit:
    """A ``fit.json``; a bad one is an error naming the file and the field."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise SchoolmodeError(f"{path}: no such file (--from-fit)") from None
    except json.JSONDecodeError as exc:
        raise SchoolmodeError(f"{path}: not JSON: {exc}") from None
    try:
        return SavedFit.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(the file)"
        raise SchoolmodeError(f"{path}: field {where}: {first['msg']}") from None


def fit_text(fitted: Fit | None, wave: Wave, transferred: SavedFit | None = None) -> str:
    """What was fitted and what is out of sample, in words."""
    seeding = (
        "the initial infections the infections still under way on the start day (the city's "
        "reported cases of each day before it over the ascertainment, their stages from the "
        "pathogen's durations: seed_state staged), the importation the weekly cases by ZIP over "
        "the ascertainment times the share of each ZIP's residents not simulated "
        "(importation.outside_only), the immunity from the vaccinations and cases by age to the "
        f"day before the start (a prior infection protecting {protection(wave):.3g}, the "
        f"vaccine {wave.vaccine_efficacy:g} against this variant), universal masking in school"
    )
    if transferred is not None:
        return (
            f"Nothing was fitted to this wave: beta {transferred.factor:.3g} times the beta "
            f"from this pathogen's R0, ascertainment {transferred.ascertainment:g} (recent "
            f"cases) and {transferred.immunity_ascertainment:g} (cumulative cases), all "
            f"fitted to the first {transferred.weeks} week(s) of {transferred.wave}; only the "
            "pathogen changes (its R0, and its escape of the protection of prior infection "
            f"and vaccination); {seeding}. Every week is out of sample."
        )
    if fitted is None:
        return (
            "Nothing was fitted to these series: beta from the pathogen's R0, the ascertainment "
            f"an assumption; {seeding}. The comparison is out of sample."
        )
    text = (
        f"Fitted: beta and the ascertainments, so that the simulated reported cases of the "
        f"first {fitted.weeks} week(s) come nearest the real ones: beta {fitted.beta:.4g} "
        f"({fitted.factor:.3g} times {fitted.start_beta:.4g}, the beta from the pathogen's R0; "
        f"bisection on log beta between {FIT_RANGE[0]:g} and {FIT_RANGE[1]:g} times it, "
        f"{FIT_STEPS} steps)"
    )
    if fitted.ascertainment is not None:
        text += (
            f", ascertainment {fitted.ascertainment:g} of the recent cases (initial infections "
            f"and importation; of {', '.join(f'{a:g}' for a in FIT_ASCERTAINMENT)}) and "
            f"{fitted.immunity_ascertainment:g} of the cumulative cases (prior infections; of "
            f"{', '.join(f'{a:g}' for a in FIT_IMMUNITY_ASCERTAINMENT)}), the pair whose fitted "
            "weeks are nearest the real ones week by week"
        )
    text += (
        f"; {fitted.real:,.1f} real cases per 100,000 in those weeks, "
        f"{fitted.simulated:,.1f} simulated with 2 seeds at the last beta tried (root mean "
        f"square log ratio by week {fitted.error:.2f}; {fitted.trials} simulations)."
    )
    if fitted.edge:
        text += (
            " Beta reached the edge of its range: no beta within it gives the real cases at "
            "that ascertainment."
        )
    if fitted.ascertainment_edge:
        text += " The recent cases' ascertainment fitted is at the edge of those tried."
    if fitted.immunity_edge:
        text += " The cumulative cases' ascertainment fitted is at the edge of those tried."
    return (
        text + f" Everything else as without a fit: {seeding}. The weeks after the first "
        f"{fitted.weeks} are out of sample."
    )


def write_validation(
    wave: Wave,
    comparison: Comparison,
    table: pl.DataFrame,
    denominators: tuple[float, float],
    out: Path,
    fitted: Fit | None = None,
    transferred: SavedFit | None = None,
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
            Paragraph(fit_text(fitted, wave, transferred)),
            Paragraph(
                f"Where the simulated infections came from (means over seeds): "
                f"{origins(comparison).text()}."
            ),
            TableBlock(Table.from_frame(shown)),
            Figures([image]),
            Heading("Scenario"),
            Code(scenario_text(comparison.scenario), "yaml"),
        ],
    )
    files = write_page(page, out, stem="validation")
    (out / "scenario.yaml").write_text(scenario_text(comparison.scenario) + "\n")
    if fitted is not None:
        files["fit.json"] = save_fit(wave, fitted, out / "fit.json")
    files.update(
        {
            "validation.csv": out / "validation.csv",
            "scenario.yaml": out / "scenario.yaml",
            image.name: image,
        }
    )
    return files
