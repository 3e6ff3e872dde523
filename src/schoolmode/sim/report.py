"""The simulator's comparison report: Markdown and HTML pages, band plots, CSV files.

``write_report`` writes what ``compare.Comparison`` holds: outcomes per policy (mean over seeds
and 95% percentile interval, ``stats.py``), the paired differences against the first policy,
the metrics the simulator does not produce, a plot per daily series (mean and band over seeds)
and the scenario. Pages, tables and figures are ``schoolmode.reports``'.
"""

from __future__ import annotations

import json
from pathlib import Path

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
from schoolmode.sim.compare import Comparison
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
}

BANDS = [
    ("new_infections", "new infections per day", "infections.png"),
    ("infectious", "infectious agents", "infectious.png"),
    ("schools_remote", "schools remote", "schools_remote.png"),
    ("classrooms_remote", "classrooms remote", "classrooms_remote.png"),
    ("in_person_students", "students in person (0 on weekends and holidays)", "in_person.png"),
]
"""The daily series plotted: series name, y-axis label, file name."""

FEW_SEEDS = 20
"""Below this many seeds a 95% percentile interval is little more than the range of the runs."""


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


def _band_plot(comparison: Comparison, series: str, ylabel: str, path: Path) -> Path:
    """Mean over seeds (line) and 95% percentile band (shaded) of one daily series, per policy,
    against the calendar date; every line and band in the legend."""
    import datetime as dt

    fig, ax = figures.subplots(figsize=(10, 3.8), constrained=True)
    colours = figures.colormap("tab10")
    start = comparison.scenario.start
    handles = []
    for i, pid in enumerate(comparison.policy_ids):
        values = comparison.daily(series, pid).astype(float)
        days = [start + dt.timedelta(days=d) for d in range(values.shape[1])]
        mean, lo, hi = band(values)
        (line,) = ax.plot(days, mean, color=colours(i), lw=1.4, label=f"{pid}: mean over seeds")
        ax.fill_between(days, lo, hi, color=colours(i), alpha=0.2, lw=0)
        handles += [line, figures.patch(colours(i), f"{pid}: middle 95% of seeds", alpha=0.2)]
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    figures.date_axis(ax, months=range(1, 13))
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


def report_page(
    comparison: Comparison, tables: list[tuple[str, pl.DataFrame]], plots: list[Path]
) -> Page:
    """The comparison report: intro, tables, missing metrics, plots, scenario."""
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
        Bullets(
            [
                Item(
                    "counted on school days only (a school remote for a week is 5 school-days)",
                    code="(school days)",
                ),
                Item(
                    "a school closed by its own mode or a district pause counts one school-day "
                    "and every one of its classrooms one classroom-day each, so classroom-days "
                    "include the classrooms of closed schools (unlike the backtest's)",
                    code="school-days and classroom-days remote",
                ),
            ]
        ),
    ]
    for title, table in tables:
        blocks += [Heading(title), TableBlock(Table.from_frame(table))]
    blocks += _missing_blocks(comparison)
    blocks += [
        Heading("Plots (mean and 95% band over seeds)"),
        Figures(plots),
        Heading("Scenario"),
        Code(_yaml(comparison.scenario), "yaml"),
    ]
    return Page("schoolmode simulation", blocks)


def write_report(comparison: Comparison, out: Path) -> dict[str, Path]:
    """report.md, report.html, plots (PNG), outcomes.csv and summary.csv into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    outcomes = comparison.outcomes()
    summary = summarise(outcomes)
    write_csv(outcomes, out / "outcomes.csv")
    write_csv(summary, out / "summary.csv")
    files = {"outcomes.csv": out / "outcomes.csv", "summary.csv": out / "summary.csv"}
    plots = [_band_plot(comparison, series, ylabel, out / name) for series, ylabel, name in BANDS]
    files.update(
        write_page(report_page(comparison, tables(comparison, outcomes, summary), plots), out)
    )
    files.update({plot.name: plot for plot in plots})
    return files


def _yaml(scenario: Scenario) -> str:
    """The scenario as JSON (valid YAML too), every default spelled out."""
    return json.dumps(scenario.model_dump(mode="json"), indent=2)
