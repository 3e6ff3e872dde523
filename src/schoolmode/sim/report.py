"""The simulator's comparison report: Markdown and HTML pages, band plots, CSV files.

``write_report`` writes what ``compare.Comparison`` holds: outcomes per policy (mean over seeds
and 95% percentile interval, ``stats.py``), the paired differences against the first policy,
the metrics the simulator does not produce, a plot per daily series (mean and band over seeds)
and the scenario. Pages, tables and figures are ``schoolmode.reports``'.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from schoolmode.pathogen import load_pathogen
from schoolmode.reports import figures
from schoolmode.reports.export import write_csv
from schoolmode.reports.page import (
    Block,
    Bullets,
    Code,
    Figures,
    Heading,
    Item,
    Page,
    Paragraph,
    TableBlock,
    write_page,
)
from schoolmode.reports.table import Table
from schoolmode.sim.beta import auto_method
from schoolmode.sim.calendar import school_calendar
from schoolmode.sim.compare import Comparison
from schoolmode.sim.outbreak_report import outbreak_blocks, write_outbreak_files
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.stats import band, paired_difference, summarise

LABELS = {
    "infections": "infections (all)",
    "infections_students": "infections, students",
    "infections_staff": "infections, staff",
    "infections_household": "infections, household adults",
    "infections_in_school": "infections in school layers",
    "in_person_student_days": "in-person student-days",
    "in_person_staff_days": "in-person staff-days",
    "school_days_remote": "school-days remote (school days)",
    "classroom_days_remote": "classroom-days remote (school days)",
    "grade_days_remote": "grade-days remote (school days)",
    "student_absence_days": "student absence-days",
    "staff_absence_days": "staff absence-days",
    "quarantine_days": "person-days in quarantine",
    "isolation_days": "person-days in isolation",
    "tests": "tests used",
    "pools": "pools tested",
    "cases_reported": "cases reported",
    "peak_infectious": "peak infectious",
    "peak_day": "day of the peak (days after the start)",
    "doses": "vaccine doses",
    "masked_school_days": "school-days masked (school days)",
}

BANDS = [
    ("new_infections", "new infections per day", "infections.png"),
    ("infectious", "infectious agents", "infectious.png"),
    ("schools_remote", "schools remote (school days)", "schools_remote.png"),
    ("classrooms_remote", "classrooms remote (school days)", "classrooms_remote.png"),
    ("in_person_students", "students in person (school days)", "in_person.png"),
]
"""The daily series plotted: series name, y-axis label, file name."""

FEW_SEEDS = 20
"""Below this many seeds a 95% percentile interval is little more than the range of the runs."""


DEFINITIONS = [
    (
        "infections and cases reported",
        "infections are every infection in the model, seen or not (students, staff and their "
        "household adults); cases reported are those a test found, the figure comparable "
        "with published case counts",
    ),
    (
        "(school days)",
        "counted on school days only (a school remote for a week is 5 school-days)",
    ),
    (
        "school-days and classroom-days remote",
        "a school closed by its own mode or a district pause counts one school-day "
        "and every one of its classrooms one classroom-day each, so classroom-days "
        "include the classrooms of closed schools (unlike the backtest's)",
    ),
    (
        "in-person student-days",
        "students who attended school, summed over school days: net of closures "
        "and of absences, the figure to read for learning kept in person",
    ),
    (
        "absence-days",
        "school days a student (staff member) stayed home ill, isolated or "
        "quarantined, counted whether or not the school was open: they overlap "
        "school-days remote, so do not add the two",
    ),
    (
        "school-days masked",
        "school days a school was open with the scenario's masking on its in-school layers: "
        "every open school-day when the policy says nothing about masks and the scenario masks "
        "in school, else the days the policy's modes require masks (docs/simulator.md)",
    ),
    (
        "day of the peak",
        "the day (counted from the first, day 0) with the most agents infectious (peak infectious)",
    ),
]
"""(term, definition) under the intro of the simulation reports."""


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


SCHOOL_SERIES = frozenset({"schools_remote", "classrooms_remote", "in_person_students"})
"""Daily series counted on school days only: not drawn on the other days (the line breaks)."""

NO_SCHOOL_COLOUR = "#d9d9d9"


def school_days(comparison: Comparison) -> np.ndarray:
    """(days,) bool: the run's school days, the calendar the simulator itself used."""
    if comparison.school_day is not None:
        return comparison.school_day
    sc = comparison.scenario
    return school_calendar(sc.start, sc.days, sc.district_holidays)


def band_values(
    comparison: Comparison, series: str, policy: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, low and high (2.5th, 97.5th percentile) over seeds of one daily series, as the
    plot draws them: NaN on the days without school for a series counted on school days."""
    values = comparison.daily(series, policy).astype(float)
    mean, lo, hi = (np.asarray(x, dtype=float) for x in band(values))
    if series in SCHOOL_SERIES:
        off = ~school_days(comparison)[: mean.size]
        for x in (mean, lo, hi):
            x[off] = np.nan
    return mean, lo, hi


def _week_axis(ax: Any, days: int) -> None:
    """Weekly ticks (Mondays, "10 Jan") on a run of up to 20 weeks; monthly ones beyond."""
    if days > 140:
        figures.date_axis(ax, months=range(1, 13))
        return
    figures.pyplot()
    mdates: Any = import_module("matplotlib.dates")  # untyped: Any, as in figures.date_axis
    ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.tick_params(axis="x", labelsize=8)


def _no_school_spans(ax: Any, start: dt.date, school: np.ndarray) -> bool:
    """Shade each run of days without school (weekends, holidays); whether there was one."""
    shaded = False
    day = 0
    while day < school.size:
        if school[day]:
            day += 1
            continue
        first = day
        while day < school.size and not school[day]:
            day += 1
        ax.axvspan(  # a day's cell: half a day either side of its point on the line
            figures.date_number(start + dt.timedelta(days=first)) - 0.5,
            figures.date_number(start + dt.timedelta(days=day)) - 0.5,
            color=NO_SCHOOL_COLOUR,
            alpha=0.5,
            lw=0,
            zorder=0,
            gid="no-school",
        )
        shaded = True
    return shaded


def _band_plot(comparison: Comparison, series: str, ylabel: str, path: Path) -> Path:
    """Mean over seeds (line) and 95% percentile band (shaded) of one daily series, per policy,
    against the calendar date; days without school shaded; every line, band and shading in the
    legend. A series counted on school days only is not drawn on the other days."""
    fig, ax = figures.subplots(figsize=(10, 3.8), constrained=True)
    colours = figures.colormap("tab10")
    start = comparison.scenario.start
    school = school_days(comparison)
    handles = []
    for i, pid in enumerate(comparison.policy_ids):
        mean, lo, hi = band_values(comparison, series, pid)
        days = [start + dt.timedelta(days=d) for d in range(mean.size)]
        (line,) = ax.plot(
            days,
            mean,
            color=colours(i),
            lw=1.4,
            # a school day alone between days without school is a point, not a segment
            marker="." if series in SCHOOL_SERIES else None,
            ms=3,
            label=f"{pid}: mean over seeds",
        )
        ax.fill_between(days, lo, hi, color=colours(i), alpha=0.2, lw=0)
        handles += [line, figures.patch(colours(i), f"{pid}: middle 95% of seeds", alpha=0.2)]
    if _no_school_spans(ax, start, school):
        handles.append(
            figures.patch(
                NO_SCHOOL_COLOUR,
                "no school (weekend, holiday or day without classes)"
                + (": not counted, line broken" if series in SCHOOL_SERIES else ""),
                alpha=0.5,
            )
        )
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    figures.thousands(ax)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    _week_axis(ax, school.size)
    ax.set_title(
        f"{ylabel[:1].upper()}{ylabel[1:]}: simulated, {len(comparison.seeds)} seeds", fontsize=10
    )
    ax.grid(alpha=0.3)
    return figures.save_png(fig, path)


def _table(frame: pl.DataFrame, label_col: str = "outcome") -> pl.DataFrame:
    return frame.select(
        pl.col(label_col).replace_strict(LABELS, default=pl.col(label_col)).alias(label_col),
        *(c for c in frame.columns if c != label_col and c not in ("mean", "lo", "hi")),
        pl.struct("mean", "lo", "hi")
        .map_elements(
            lambda r: f"{_fmt(r['mean'])} [{_fmt(r['lo'])}, {_fmt(r['hi'])}]",
            return_dtype=pl.String,
        )
        .alias("mean [95% interval]"),
    )


def tables(
    comparison: Comparison, outcomes: pl.DataFrame, summary: pl.DataFrame
) -> list[tuple[str, pl.DataFrame]]:
    """(title, table): outcomes per policy (``summary``), then each paired difference of the
    ``outcomes`` with the first policy."""
    by_policy = _table(summary).pivot(
        on="policy", index="outcome", values="mean [95% interval]", maintain_order=True
    )
    out = [("Outcomes per policy: mean over seeds [95% percentile interval]", by_policy)]
    ids = comparison.policy_ids
    for other in ids[1:]:
        diff = paired_difference(outcomes, ids[0], other)
        out.append(
            (
                f"Paired difference {ids[0]} - {other} (same seeds): mean [95% interval]",
                _table(diff),
            )
        )
    return out


def _intro(comparison: Comparison) -> str:
    sc = comparison.scenario
    return (
        f"{comparison.agents:,} agents in {comparison.schools} schools; pathogen {sc.pathogen}; "
        f"{len(comparison.seeds)} seeds ({comparison.seeds[0]}..{comparison.seeds[-1]}); "
        f"{sc.days} days from {sc.start}; {comparison.wall_s:.1f} s for "
        f"{len(comparison.results)} runs; beta "
        + ", ".join(f"{b:.5g}" for b in comparison.betas)
        + (
            f" (calibrated to R0 {load_pathogen(sc.pathogen).r0.value:g} on this population "
            f"with nobody immune, by {auto_method(comparison.agents)}; the scenario's "
            "immunity before day 0 applies on top)"
            if sc.beta == "auto"
            else " (given)"
        )
        + "."
    )


def _missing_blocks(comparison: Comparison) -> list[Block]:
    """The metrics some policy reads that the simulator does not produce (if any)."""
    missing = sorted(
        {
            f"{r.policy_id}: {name}"
            for r in comparison.results.values()
            for name in r.missing_metrics
        }
    )
    if not missing:
        return []
    return [
        Heading("Metrics the simulator does not produce"),
        Paragraph(
            "Conditions on these metrics are unknown in the simulation (never met), so the "
            "rules that need them never act here:"
        ),
        Bullets([Item(line) for line in missing]),
    ]


def unused_outcomes(comparison: Comparison) -> list[str]:
    """The outcomes that are 0 in every run of every policy (the scenario does not exercise
    them, e.g. no pooled screening, no doses scheduled)."""
    outcomes = comparison.outcomes()
    return [
        c
        for c in outcomes.columns
        if c not in ("policy", "seed") and bool((outcomes[c] == 0).all())
    ]


def _unused_blocks(comparison: Comparison) -> list[Block]:
    unused = unused_outcomes(comparison)
    if not unused:
        return []
    return [
        Paragraph(
            "0 in every run of every policy: "
            + ", ".join(LABELS.get(c, c) for c in unused)
            + ". The scenario does not exercise them (see Scenario below), so these rows say "
            "nothing about whether they would make a difference."
        )
    ]


def report_page(
    comparison: Comparison,
    tables: list[tuple[str, pl.DataFrame]],
    plots: list[Path],
    outbreaks: list[Block] | None = None,
) -> Page:
    """The comparison report: intro, tables, missing metrics, plots, outbreaks, scenario."""
    blocks: list[Block] = [
        Heading("Simulated comparison: " + ", ".join(comparison.policy_ids), level=1),
        Paragraph(_intro(comparison)),
        Paragraph(
            "Intervals are the 2.5th and 97.5th percentiles over seeds. All policies ran on the "
            "same seeds with common random numbers, so the paired difference isolates their rules. "
            f"A paired difference is the first policy ({comparison.policy_ids[0]}) minus the "
            "other: below zero, the first policy has less of that outcome."
            + (
                f" With {len(comparison.seeds)} seeds an interval is little more than the range "
                f"of the runs; use {FEW_SEEDS} or more before quoting one."
                if len(comparison.seeds) < FEW_SEEDS
                else ""
            )
        ),
        Bullets([Item(text, code=term) for term, text in DEFINITIONS]),
        *_unused_blocks(comparison),
    ]
    for title, table in tables:
        blocks += [Heading(title), TableBlock(Table.from_frame(table))]
    blocks += _missing_blocks(comparison)
    blocks += [
        Heading("Plots (mean and 95% band over seeds)"),
        Figures(plots),
        *(outbreaks or []),
        Heading("Scenario"),
        Code(scenario_text(comparison.scenario), "yaml"),
    ]
    return Page("schoolmode simulation", blocks)


def write_report(comparison: Comparison, out: Path) -> dict[str, Path]:
    """report.md, report.html, plots (PNG), outcomes.csv, summary.csv and the outbreak files
    (runs.csv, runs.parquet, outbreaks.csv, final-size.png) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    outcomes = comparison.outcomes()
    summary = summarise(outcomes)
    write_csv(outcomes, out / "outcomes.csv")
    write_csv(summary, out / "summary.csv")
    files = {"outcomes.csv": out / "outcomes.csv", "summary.csv": out / "summary.csv"}
    large = comparison.scenario.large_threshold
    outbreaks = comparison.outbreaks()
    files.update(write_outbreak_files(comparison.runs(), outbreaks, large, out))
    section = outbreak_blocks(outbreaks, large, files["final-size.png"])
    plots = [_band_plot(comparison, series, ylabel, out / name) for series, ylabel, name in BANDS]
    page = report_page(comparison, tables(comparison, outcomes, summary), plots, section)
    files.update(write_page(page, out))
    files.update({plot.name: plot for plot in plots})
    return files


def scenario_text(scenario: Scenario) -> str:
    """The scenario as JSON (valid YAML too), every default spelled out."""
    return json.dumps(scenario.model_dump(mode="json"), indent=2)
