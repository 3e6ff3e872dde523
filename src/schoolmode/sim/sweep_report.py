"""The simulated sweep's report: what ``sim sweep`` wrote to sweep.csv and summary.csv, as a
page a reader can follow (report.md, report.html) and one figure (sweep.png).

The figure is drawn from the summary the page prints (``sweep_summary``): per headline outcome,
the mean over seeds and its 95% percentile interval for each policy at each swept value. The
paired differences (``A - B`` rows) are in the page's tables, not in the figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from schoolmode.reports import figures
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
from schoolmode.sim.report import DEFINITIONS, FEW_SEEDS, LABELS, scenario_text
from schoolmode.sim.scenario import Scenario

HEADLINE = [
    "infections",
    "in_person_student_days",
    "school_days_remote",
    "classroom_days_remote",
]
"""The outcomes drawn and printed first; every outcome is in summary.csv."""


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


def sweep_table(summary: pl.DataFrame, outcome: str) -> pl.DataFrame:
    """One row per swept value, a column per policy (and per paired difference ``A - B``):
    ``mean [lo, hi]`` of ``outcome``, as the page prints it."""
    rows = summary.filter(pl.col("outcome") == outcome)
    return rows.with_columns(
        pl.struct("mean", "lo", "hi")
        .map_elements(
            lambda r: f"{_fmt(r['mean'])} [{_fmt(r['lo'])}, {_fmt(r['hi'])}]",
            return_dtype=pl.String,
        )
        .alias("cell"),
        pl.col("value").cast(pl.String),
    ).pivot(on="policy", index="value", values="cell", maintain_order=True)


def sweep_plot(summary: pl.DataFrame, name: str, path: Path) -> Path:
    """A panel per headline outcome: for each policy (not the paired differences), the mean over
    seeds at each swept value (points joined in the order swept) and the 95% interval (bars)."""
    values = [str(v) for v in summary["value"].unique(maintain_order=True).to_list()]
    policies = [
        p for p in summary["policy"].unique(maintain_order=True).to_list() if " - " not in p
    ]
    fig, axes = figures.subplots(2, 2, figsize=(11, 7), constrained=True)
    colours = figures.colormap("tab10")
    x = np.arange(len(values), dtype=float)
    for ax, outcome in zip(np.ravel(axes), HEADLINE, strict=True):
        for i, policy in enumerate(policies):
            rows = summary.filter((pl.col("outcome") == outcome) & (pl.col("policy") == policy))
            by_value = {str(r["value"]): r for r in rows.iter_rows(named=True)}
            mean = np.array([by_value[v]["mean"] for v in values], dtype=float)
            lo = np.array([by_value[v]["lo"] for v in values], dtype=float)
            hi = np.array([by_value[v]["hi"] for v in values], dtype=float)
            shift = (i - (len(policies) - 1) / 2) * 0.06  # policies side by side, not on top
            ax.errorbar(
                x + shift,
                mean,
                yerr=np.vstack([mean - lo, hi - mean]),
                color=colours(i),
                marker="o",
                ms=4,
                capsize=3,
                label=policy,
                gid=f"{outcome}:{policy}",
            )
        if not (summary.filter(pl.col("outcome") == outcome)["hi"].abs() > 0).any():
            ax.set_ylim(0, 1)  # not a stack of "0" tick labels
            ax.set_yticks([0, 1])
            ax.text(
                0.5,
                0.5,
                "0 for every policy and value",
                transform=ax.transAxes,
                ha="center",
                color="dimgray",
                fontsize=9,
            )
        ax.set_xticks(x, values)
        ax.set_xlabel(name)
        ax.set_title(LABELS.get(outcome, outcome), fontsize=10)
        ax.set_ylim(bottom=0)
        figures.thousands(ax)  # after the limits: whole numbers, no 1e6 offset
        ax.grid(alpha=0.3)
    handles: list[Any] = list(np.ravel(axes)[0].get_legend_handles_labels()[0])
    fig.legend(
        handles=handles,
        labels=[f"{p}: mean over seeds, bar: middle 95% of seeds" for p in policies],
        loc="outside lower center",
        fontsize=8,
    )
    fig.suptitle(f"Simulated outcomes against {name} (each point is a row of the tables)")
    return figures.save_png(fig, path)


def sweep_page(
    name: str, summary: pl.DataFrame, rows: pl.DataFrame, scenario: Scenario, plot: Path
) -> Page:
    """The sweep report: what was run, how to read the intervals and differences, a table per
    headline outcome, definitions, the figure, the scenario."""
    policies = rows["policy"].unique(maintain_order=True).to_list()
    seeds = rows["seed"].n_unique()
    values = [str(v) for v in rows["value"].unique(maintain_order=True).to_list()]
    blocks: list[Block] = [
        Heading(f"Simulated sweep of {name}", level=1),
        Paragraph(
            f"{', '.join(policies)} simulated for each value of {name} ({', '.join(values)}), "
            f"{seeds} seeds each, {scenario.days} days from {scenario.start}; every other "
            "setting is the scenario's (below). Cells: mean over seeds [2.5th, 97.5th "
            "percentile over seeds]."
            + (
                f" With {seeds} seeds an interval is little more than the range of the runs; "
                f"use {FEW_SEEDS} or more before quoting one."
                if seeds < FEW_SEEDS
                else ""
            )
            + (
                f" A column A - B is the paired difference on the same seeds (the first policy, "
                f"{policies[0]}, minus the other): below zero, {policies[0]} has less of it."
                if len(policies) > 1
                else ""
            )
        ),
        Bullets([Item(text, code=term) for term, text in DEFINITIONS]),
    ]
    for outcome in HEADLINE:
        blocks += [
            Heading(LABELS.get(outcome, outcome)),
            TableBlock(Table.from_frame(sweep_table(summary, outcome))),
        ]
    blocks += [
        Paragraph(
            "Every outcome, per value and policy, is in summary.csv (mean, lo = 2.5th and hi = "
            "97.5th percentile over seeds); one row per value, policy and seed in sweep.csv."
        ),
        Figures([plot]),
        Heading("Scenario"),
        Code(scenario_text(scenario), "yaml"),
    ]
    return Page("schoolmode simulated sweep", blocks)


def write_sweep_report(
    name: str, rows: pl.DataFrame, summary: pl.DataFrame, scenario: Scenario, out: Path
) -> dict[str, Path]:
    """report.md, report.html and sweep.png into ``out`` (beside sweep.csv and summary.csv)."""
    out.mkdir(parents=True, exist_ok=True)
    plot = sweep_plot(summary, name, out / "sweep.png")
    files = write_page(sweep_page(name, summary, rows, scenario, plot), out)
    files[plot.name] = plot
    return files
